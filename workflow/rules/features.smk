EXTRACT = dict(backbone=backbone_entry, features=plan.feature_settings(config), code=CODE["extract_features"])


rule extract_features:
    input:
        unpack(extract_inputs),
        stamp=stamp("extract_features", store_fits, **EXTRACT),
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
        mem_mb=EXTRACT_MEM_MB,
    params:
        **EXTRACT,
        device=config["features"]["device"],
    script:
        "../scripts/extract_features.py"
