# Position information in bits (beyond the paper): per backbone, one head per tap classifies each location's
# cell of a K x K grid; the held-out cross-entropy bounds the mutual information from below
# (posenc.probe.position_bits). One job per backbone trains every tap's head, all seeds, and scores them.
BITS = dict(
    training=plan.training_settings(config),
    bits=plan.bits_settings(config),
    seeds=SEEDS,
    allow_shared_photos=config["allow_shared_photos"],
    code=CODE["position_bits"],
)


rule position_bits:
    input:
        unpack(bits_inputs),
        stamp=stamp("position_bits", **BITS),
    output:
        heads=update([paths.bits_heads("{backbone}", "{readout}", seed) for seed in SEEDS]),
        csv=paths.bits_metrics("{backbone}", "{readout}"),
    log:
        "logs/position_bits/{backbone}/{readout}.log",
    benchmark:
        "benchmarks/position_bits/{backbone}/{readout}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        gpu=uses_gpu(config["training"]["device"]),
        mem_mb=readout_mem_mb,
    params:
        **BITS,
        **STORE_REQUEST,
        device=config["training"]["device"],
    script:
        "../scripts/position_bits.py"


BITS_TABLE = dict(plan=plan.bits_plan(config), code=CODE["make_position_bits"])


rule make_position_bits:
    input:
        metrics=plan.bits_metric_files(config),
        attribution=attribution_target,
        stamp=stamp("make_position_bits", **BITS_TABLE),
    output:
        csv=report(
            paths.table(paths.POSITION_BITS),
            caption="../report/position_bits.rst",
            category="Beyond the paper",
        ),
        md=paths.table(paths.POSITION_BITS, "md"),
        depth=report(
            paths.figure("position_bits"),
            caption="../report/position_bits.rst",
            category="Beyond the paper",
            labels={"figure": "position_bits"},
        ),
        best=report(
            paths.figure("position_bits_best"),
            caption="../report/position_bits.rst",
            category="Beyond the paper",
            labels={"figure": "position_bits_best"},
        ),
    log:
        "logs/make_position_bits/position_bits.log",
    conda:
        ENV
    params:
        **BITS_TABLE,
    script:
        "../scripts/make_position_bits.py"
