rule train_readout:
    input:
        store=f"results/features/{{backbone}}/{config['train_set']}.zarr",
    output:
        heads="results/readouts/{backbone}/{readout}/seed{seed}.pt",
    params:
        training=training_params(),
        targets=train_targets,
        stripe_range=config["stripe_range"],
        output_size=config["input"]["size"],
        version=__version__,
    threads: 1
    log:
        "logs/train_readout/{backbone}/{readout}/seed{seed}.log",
    benchmark:
        "benchmarks/train_readout/{backbone}/{readout}/seed{seed}.tsv"
    script:
        "../scripts/train_readout.py"


rule evaluate_readout:
    input:
        heads="results/readouts/{backbone}/{readout}/seed{seed}.pt",
        stores=test_stores,
    output:
        metrics="results/metrics/{backbone}/{readout}/seed{seed}.csv",
    params:
        version=__version__,
    threads: 1
    log:
        "logs/evaluate_readout/{backbone}/{readout}/seed{seed}.log",
    script:
        "../scripts/evaluate_readout.py"
