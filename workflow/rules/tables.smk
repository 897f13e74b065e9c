rule make_table:
    input:
        metrics=table_metrics,
    output:
        csv=report(paths.table("{table}", "csv"), caption="../report/table.rst", category="Tables"),
        md=paths.table("{table}", "md"),
    params:
        table=table_spec,
        stripe_range=config["stripe_range"],
        version=__version__,
    log:
        "logs/make_table/{table}.log",
    script:
        "../scripts/make_table.py"


rule collect_metrics:
    input:
        metrics=all_metrics(),
    output:
        csv=paths.PER_SEED,
    log:
        "logs/collect_metrics/per_seed.log",
    script:
        "../scripts/collect_metrics.py"
