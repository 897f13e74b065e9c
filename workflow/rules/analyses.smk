# Analyses beyond the paper, from the cached stores (never extracting again): mean feature maps ("Mind the Pad").
MEAN_MAPS = dict(backbone=backbone_entry, features=plan.feature_settings(config), code=CODE["analysis"])


rule mean_maps:
    input:
        unpack(mean_maps_inputs),
        stamp=stamp("mean_maps", **MEAN_MAPS),
    output:
        csv=paths.mean_maps("{backbone}"),
        png=report(
            paths.figure("mean_maps_{backbone}"),
            caption="../report/figure.rst",
            category="Analyses",
            labels={"figure": "mean_maps_{backbone}"},
        ),
    log:
        "logs/mean_maps/{backbone}.log",
    conda:
        ENV
    threads: 1
    params:
        **MEAN_MAPS,
    script:
        "../scripts/mean_maps.py"


rule collect_mean_maps:
    input:
        csv=[paths.mean_maps(b) for b in config["analyses"].get("mean_maps", [])],
        stamp=stamp("collect_mean_maps", code=CODE["report"]),
    output:
        csv=paths.MEAN_MAPS,
    log:
        "logs/collect_mean_maps/mean_maps.log",
    conda:
        ENV
    script:
        "../scripts/collect_mean_maps.py"
