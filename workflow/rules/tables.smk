rule make_table:
    input:
        metrics=table_metrics,
    output:
        csv="results/{table}.csv",
        md="results/{table}.md",
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
        csv="results/per_seed.csv",
    log:
        "logs/collect_metrics/per_seed.log",
    script:
        "../scripts/collect_metrics.py"
