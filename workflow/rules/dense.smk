# Table 5: dense networks trained from scratch with and without padding; their backbones feed Table 6.
DENSE_TRAIN = dict(dense=dense_settings, code=CODE["train_dense_model"])
DENSE_EVALUATE = dict(test_sets=dense_test_sets, code=CODE["evaluate_dense_model"])
TABLE5 = dict(dense_tasks=config["dense_tasks"], code=CODE["make_table5"])
DENSE_FIGURE = dict(tasks=list(config["dense_tasks"]), code=CODE["make_dense_figure"])


rule train_dense_model:
    input:
        manifest=dense_train_manifest,
        stamp=stamp("train_dense_model", **DENSE_TRAIN),
    output:
        model=paths.dense_model("{task}", "{variant}"),
    log:
        "logs/train_dense_model/{task}/{variant}.log",
    benchmark:
        "benchmarks/train_dense_model/{task}/{variant}.tsv"
    conda:
        ENV
    threads: dense_threads
    resources:
        gpu=dense_gpus,
    params:
        **DENSE_TRAIN,
        device=dense_device,
    script:
        "../scripts/train_dense_model.py"


rule evaluate_dense_model:
    input:
        model=paths.dense_model("{task}", "{variant}"),
        manifests=dense_test_manifests,
        stamp=stamp("evaluate_dense_model", **DENSE_EVALUATE),
    output:
        metrics=paths.dense_metrics("{task}", "{variant}"),
    log:
        "logs/evaluate_dense_model/{task}/{variant}.log",
    conda:
        ENV
    threads: 1
    params:
        **DENSE_EVALUATE,
        device=dense_device,
    script:
        "../scripts/evaluate_dense_model.py"


rule make_table5:
    input:
        metrics=plan.all_dense_metrics(config),
        attribution=[paths.DENSE_ATTRIBUTION] if plan.dense_attribution_manifests(config) else [],
        stamp=stamp("make_table5", **TABLE5),
    output:
        csv=report(paths.table("table5", "csv"), caption="../report/table.rst", category="Tables"),
        md=paths.table("table5", "md"),
    log:
        "logs/make_table/table5.log",
    conda:
        ENV
    params:
        **TABLE5,
    script:
        "../scripts/make_table5.py"


rule make_dense_figure:
    input:
        **plan.dense_figure_inputs(config),
        stamp=stamp("make_dense_figure", **DENSE_FIGURE),
    output:
        png=report(
            paths.figure(plan.DENSE_FIGURE),
            caption="../report/dense_figure.rst",
            category="Figures",
            labels={"figure": plan.DENSE_FIGURE},
        ),
    log:
        "logs/make_figure/table5_predictions.log",
    conda:
        ENV
    params:
        **DENSE_FIGURE,
    script:
        "../scripts/make_dense_figure.py"
