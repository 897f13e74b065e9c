TABLE = dict(plan=table_plan, code=CODE["make_table"])


rule make_table:
    input:
        metrics=table_metrics,
        # the licences of the photos behind the numbers come with every table
        attribution=attribution_target,
        manifests=table_manifests,
        stamp=stamp("make_table", **TABLE),
    output:
        csv=report(paths.table("{table}", "csv"), caption="../report/table.rst", category="Tables"),
        md=paths.table("{table}", "md"),
    log:
        "logs/make_table/{table}.log",
    conda:
        ENV
    params:
        **TABLE,
    script:
        "../scripts/make_table.py"


rule collect_metrics:
    input:
        metrics=plan.all_metrics(config),
        stamp=stamp("collect_metrics", code=CODE["collect_metrics"]),
    output:
        csv=paths.PER_SEED,
    log:
        "logs/collect_metrics/per_seed.log",
    conda:
        ENV
    params:
        code=CODE["collect_metrics"],
    script:
        "../scripts/collect_metrics.py"
