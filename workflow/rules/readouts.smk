# the backbone's entry and the feature settings: what the stores read must have been built for
STORE_REQUEST = dict(backbone=backbone_entry, features=plan.feature_settings(config))
SEEDS = plan.seed_list(config)
TRAIN = dict(
    training=plan.training_settings(config), targets=train_targets, seeds=SEEDS, code=CODE["train_readout"]
)
EVALUATE = dict(
    output_size=config["input"]["size"],
    stripe_range=config["stripe_range"],
    seeds=SEEDS,
    allow_shared_photos=config["allow_shared_photos"],
    code=CODE["evaluate_readout"],
)


# One job trains every seed of a readout (the store is read once). Its readouts are updated in place: a
# seed whose file was trained from the same store, settings and code is kept (posenc.probe.training).
rule train_readout:
    input:
        unpack(train_inputs),
        stamp=stamp("train_readout", **TRAIN),
    output:
        readouts=update([paths.readout("{backbone}", "{readout}", seed) for seed in SEEDS]),
    log:
        "logs/train_readout/{backbone}/{readout}.log",
    benchmark:
        "benchmarks/train_readout/{backbone}/{readout}.tsv"
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


# One job scores every seed of a readout on every test set (each test store is read once).
rule evaluate_readout:
    input:
        unpack(evaluate_inputs),
        stamp=stamp("evaluate_readout", **EVALUATE),
    output:
        metrics=[paths.metrics("{backbone}", "{readout}", seed) for seed in SEEDS],
        predictions=[paths.predictions("{backbone}", "{readout}", seed) for seed in SEEDS],
    log:
        "logs/evaluate_readout/{backbone}/{readout}.log",
    benchmark:
        "benchmarks/evaluate_readout/{backbone}/{readout}.tsv"
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
