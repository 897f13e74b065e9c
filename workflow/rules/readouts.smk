# the backbone's entry and the feature settings: what the stores read must have been built for
STORE_REQUEST = dict(backbone=backbone_entry, features=plan.feature_settings(config))
TRAIN = dict(training=plan.training_settings(config), targets=train_targets, code=CODE["train_readout"])
EVALUATE = dict(output_size=config["input"]["size"], stripe_range=config["stripe_range"], code=CODE["evaluate_readout"])


rule train_readout:
    input:
        unpack(train_inputs),
        stamp=stamp("train_readout", **TRAIN),
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
        mem_mb=readout_mem_mb,
    params:
        **TRAIN,
        **STORE_REQUEST,
        device=config["training"]["device"],
    script:
        "../scripts/train_readout.py"


rule evaluate_readout:
    input:
        unpack(evaluate_inputs),
        stamp=stamp("evaluate_readout", **EVALUATE),
    output:
        metrics=paths.metrics("{backbone}", "{readout}", "{seed}"),
        predictions=paths.predictions("{backbone}", "{readout}", "{seed}"),
    log:
        "logs/evaluate_readout/{backbone}/{readout}/seed{seed}.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=evaluate_mem_mb,
    params:
        **EVALUATE,
        **STORE_REQUEST,
    script:
        "../scripts/evaluate_readout.py"
