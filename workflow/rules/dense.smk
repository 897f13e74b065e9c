# Table 5: dense networks trained from scratch with and without padding; their backbones feed Table 6.
rule train_dense_model:
    input:
        manifest=dense_train_manifest,
    output:
        model=paths.dense_model("{task}", "{variant}"),
    params:
        dense=dense_params,
        version=__version__,
    threads: dense_threads
    resources:
        gpu=dense_gpus,
    log:
        "logs/train_dense_model/{task}/{variant}.log",
    benchmark:
        "benchmarks/train_dense_model/{task}/{variant}.tsv"
    script:
        "../scripts/train_dense_model.py"


rule evaluate_dense_model:
    input:
        model=paths.dense_model("{task}", "{variant}"),
        manifests=dense_test_manifests,
    output:
        metrics=paths.dense_metrics("{task}", "{variant}"),
    params:
        version=__version__,
    threads: 1
    log:
        "logs/evaluate_dense_model/{task}/{variant}.log",
    script:
        "../scripts/evaluate_dense_model.py"


rule make_table5:
    input:
        metrics=all_dense_metrics(),
    output:
        csv=report(paths.table("table5", "csv"), caption="../report/table.rst", category="Tables"),
        md=paths.table("table5", "md"),
    params:
        dense_tasks=config["dense_tasks"],
        version=__version__,
    log:
        "logs/make_table/table5.log",
    script:
        "../scripts/make_table5.py"


rule make_dense_figure:
    input:
        dense_figure_inputs(config),
    output:
        png=report(paths.figure("table5_predictions"), caption="../report/dense_figure.rst", category="Figures",
                   labels={"figure": "table5_predictions"}),
    params:
        version=__version__,
    log:
        "logs/make_figure/table5_predictions.log",
    script:
        "../scripts/make_dense_figure.py"
