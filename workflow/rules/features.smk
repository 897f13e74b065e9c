rule extract_features:
    input:
        unpack(extract_inputs),
    output:
        store=directory(paths.store("{backbone}", "{image_set}")),
    params:
        backbone=extract_params,
        input=config["input"],
        features=features_params(),
        hed_path=config["hed_weights"],
        version=__version__,
    threads: extract_threads
    resources:
        gpu=extract_gpus,
    log:
        "logs/extract_features/{backbone}/{image_set}.log",
    benchmark:
        "benchmarks/extract_features/{backbone}/{image_set}.tsv"
    script:
        "../scripts/extract_features.py"
