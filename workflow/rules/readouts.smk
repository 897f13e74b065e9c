rule train_readout:
    input:
        store=paths.store("{backbone}", config["train_set"]),
    output:
        readout=paths.readout("{backbone}", "{readout}", "{seed}"),
    log:
        "logs/train_readout/{backbone}/{readout}/seed{seed}.log",
    benchmark:
        "benchmarks/train_readout/{backbone}/{readout}/seed{seed}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        gpu=uses_gpu(config["training"]["device"]),
    params:
        training=plan.training_settings(config),
        targets=train_targets,
        device=config["training"]["device"],
        code=CODE["probe"],
    script:
        "../scripts/train_readout.py"


rule evaluate_readout:
    input:
        readout=paths.readout("{backbone}", "{readout}", "{seed}"),
        stores=test_stores,
    output:
        metrics=paths.metrics("{backbone}", "{readout}", "{seed}"),
        predictions=paths.predictions("{backbone}", "{readout}", "{seed}"),
    log:
        "logs/evaluate_readout/{backbone}/{readout}/seed{seed}.log",
    conda:
        ENV
    threads: 1
    params:
        output_size=config["input"]["size"],
        stripe_range=config["stripe_range"],
        code=CODE["probe"],
    script:
        "../scripts/evaluate_readout.py"
