# Table 5: dense networks trained from scratch with and without padding; their backbones feed Table 6.
rule train_dense_model:
    input:
        manifest=dense_train_manifest,
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
        dense=dense_settings,
        device=dense_device,
        code=CODE["dense"],
    script:
        "../scripts/train_dense_model.py"


rule evaluate_dense_model:
    input:
        model=paths.dense_model("{task}", "{variant}"),
        manifests=dense_test_manifests,
    output:
        metrics=paths.dense_metrics("{task}", "{variant}"),
    log:
        "logs/evaluate_dense_model/{task}/{variant}.log",
    conda:
        ENV
    threads: 1
    params:
        test_sets=dense_test_sets,
        device=dense_device,
        code=CODE["dense"],
    script:
        "../scripts/evaluate_dense_model.py"


rule make_table5:
    input:
        metrics=plan.all_dense_metrics(config),
    output:
        csv=report(paths.table("table5", "csv"), caption="../report/table.rst", category="Tables"),
        md=paths.table("table5", "md"),
    log:
        "logs/make_table/table5.log",
    conda:
        ENV
    params:
        dense_tasks=config["dense_tasks"],
        code=CODE["report"],
    script:
        "../scripts/make_table5.py"


rule make_dense_figure:
    input:
        **plan.dense_figure_inputs(config),
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
        tasks=list(config["dense_tasks"]),
        code=CODE["dense_report"],
    script:
        "../scripts/make_dense_figure.py"
