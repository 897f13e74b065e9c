rule make_table4:
    input:
        metrics=table_metrics("table4"),
    output:
        csv="results/table4.csv",
        md="results/table4.md",
    params:
        table=config["tables"]["table4"],
        stripe_range=config["stripe_range"],
    log:
        "logs/make_table4/table4.log",
    script:
        "../scripts/make_table4.py"
