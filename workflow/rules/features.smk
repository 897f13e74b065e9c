rule extract_features:
    input:
        unpack(extract_inputs),
    output:
        store=directory(paths.store("{backbone}", "{image_set}")),
    log:
        "logs/extract_features/{backbone}/{image_set}.log",
    benchmark:
        "benchmarks/extract_features/{backbone}/{image_set}.tsv"
    conda:
        ENV
    threads: extract_threads
    resources:
        gpu=extract_gpus,
    params:
        backbone=backbone_entry,
        features=plan.feature_settings(config),
        device=config["features"]["device"],
        code=CODE["features"],
    script:
        "../scripts/extract_features.py"
