rule train_readout:
    input:
        store=paths.store("{backbone}", config["train_set"]),
    output:
        heads=paths.heads("{backbone}", "{readout}", "{seed}"),
    params:
        training=training_params(),
        targets=train_targets,
        stripe_range=config["stripe_range"],
        output_size=config["input"]["size"],
        version=__version__,
    threads: 1
    resources:
        gpu=training_gpus(),
    log:
        "logs/train_readout/{backbone}/{readout}/seed{seed}.log",
    benchmark:
        "benchmarks/train_readout/{backbone}/{readout}/seed{seed}.tsv"
    script:
        "../scripts/train_readout.py"


rule evaluate_readout:
    input:
        heads=paths.heads("{backbone}", "{readout}", "{seed}"),
        stores=test_stores,
    output:
        metrics=paths.metrics("{backbone}", "{readout}", "{seed}"),
        predictions=paths.predictions("{backbone}", "{readout}", "{seed}"),
    params:
        version=__version__,
    threads: 1
    log:
        "logs/evaluate_readout/{backbone}/{readout}/seed{seed}.log",
    script:
        "../scripts/evaluate_readout.py"
