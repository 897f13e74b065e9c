# Analyses beyond the paper, from the cached stores (never extracting again): mean feature maps ("Mind the
# Pad"), padding modes, distance to the border, channel-wise position, the canvas and the padding's own
# pattern (posenc.analysis).
MEAN_MAPS = dict(
    backbone=backbone_entry,
    features=plan.feature_settings(config),
    code=CODE["mean_maps"],
)


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
        stamp=stamp("collect_mean_maps", code=CODE["collect_mean_maps"]),
    output:
        csv=paths.MEAN_MAPS,
    log:
        "logs/collect_mean_maps/mean_maps.log",
    conda:
        ENV
    script:
        "../scripts/collect_mean_maps.py"


PADDING_MODES = dict(backbones=analysis_backbones("padding_modes"), code=CODE["padding_modes"])


rule padding_modes:
    input:
        metrics=plan.analysis_metrics(config, "padding_modes"),
        stamp=stamp("padding_modes", **PADDING_MODES),
    output:
        csv=paths.PADDING_MODES,
        png=report(
            paths.figure("padding_modes"),
            caption="../report/figure.rst",
            category="Analyses",
            labels={"figure": "padding_modes"},
        ),
    log:
        "logs/padding_modes/padding_modes.log",
    conda:
        ENV
    params:
        **PADDING_MODES,
    script:
        "../scripts/padding_modes.py"


BORDER_DISTANCE = dict(
    backbones=analysis_backbones("border_distance"),
    size=config["input"]["size"],
    stripe_range=config["stripe_range"],
    bin_px=config["analyses"]["border_bin"],
    image_set=plan.analysis_test_set(config),
    code=CODE["border_distance"],
)


rule border_distance:
    input:
        predictions=plan.analysis_predictions(config, "border_distance"),
        stamp=stamp("border_distance", **BORDER_DISTANCE),
    output:
        csv=paths.BORDER_DISTANCE,
        png=report(
            paths.figure("border_distance"),
            caption="../report/figure.rst",
            category="Analyses",
            labels={"figure": "border_distance"},
        ),
    log:
        "logs/border_distance/border_distance.log",
    conda:
        ENV
    params:
        **BORDER_DISTANCE,
    script:
        "../scripts/border_distance.py"


CHANNEL_RANKING = dict(
    backbone=backbone_entry,
    features=plan.feature_settings(config),
    readout=plan.default_readout(config),
    training=plan.training_settings(config),
    targets=config["targets"],
    seeds=plan.seed_list(config),
    ks=config["analyses"]["channel_k"],
    code=CODE["channel_ranking"],
)


rule channel_ranking:
    input:
        unpack(channel_ranking_inputs),
        stamp=stamp("channel_ranking", **CHANNEL_RANKING),
    output:
        ranking=paths.analysis("channel_ranking", "{backbone}"),
        topk=paths.analysis("channel_topk", "{backbone}"),
        png=report(
            paths.figure("channel_ranking_{backbone}"),
            caption="../report/figure.rst",
            category="Analyses",
            labels={"figure": "channel_ranking_{backbone}"},
        ),
    log:
        "logs/channel_ranking/{backbone}.log",
    conda:
        ENV
    threads: extract_threads
    params:
        **CHANNEL_RANKING,
        device=config["training"]["device"],
    script:
        "../scripts/channel_ranking.py"


CANVAS = dict(
    backbone=backbone_entry,
    features=plan.feature_settings(config),
    images=config["analyses"]["canvas_images"],
    scale=config["analyses"]["canvas_scale"],
    code=CODE["canvas"],
)


rule canvas:
    input:
        unpack(canvas_inputs),
        stamp=stamp("canvas", **CANVAS),
    output:
        csv=paths.analysis("canvas", "{backbone}"),
    log:
        "logs/canvas/{backbone}.log",
    conda:
        ENV
    threads: extract_threads
    params:
        **CANVAS,
    script:
        "../scripts/canvas.py"


rule collect_analysis:
    input:
        csv=lambda w: [
            paths.analysis(w.analysis, b)
            for b in config["analyses"].get(
                "channel_ranking" if w.analysis == "channel_topk" else w.analysis, []
            )
        ],
        stamp=stamp("collect_analysis", code=CODE["collect_analysis"]),
    output:
        csv="results/{analysis}.csv",
    log:
        "logs/collect_analysis/{analysis}.log",
    wildcard_constraints:
        analysis="channel_ranking|channel_topk",
    conda:
        ENV
    script:
        "../scripts/collect_analysis.py"


rule collect_canvas:
    input:
        csv=[paths.analysis("canvas", b) for b in config["analyses"].get("canvas", [])],
        stamp=stamp("collect_canvas", code=CODE["collect_canvas"]),
    output:
        csv=paths.CANVAS,
        png=report(
            paths.figure("canvas"),
            caption="../report/figure.rst",
            category="Analyses",
            labels={"figure": "canvas"},
        ),
    log:
        "logs/collect_canvas/canvas.log",
    conda:
        ENV
    script:
        "../scripts/collect_canvas.py"


PADDING_PATTERN = dict(
    backbone=backbone_entry,
    features=plan.feature_settings(config),
    images=config["analyses"]["pattern_images"],
    code=CODE["padding_pattern"],
)


rule padding_pattern:
    input:
        unpack(test_store_inputs),
        stamp=stamp("padding_pattern", **PADDING_PATTERN),
    output:
        csv=paths.analysis("padding_pattern", "{backbone}"),
    log:
        "logs/padding_pattern/{backbone}.log",
    conda:
        ENV
    threads: extract_threads
    params:
        **PADDING_PATTERN,
    script:
        "../scripts/padding_pattern.py"


rule collect_padding_pattern:
    input:
        csv=[paths.analysis("padding_pattern", b) for b in config["analyses"].get("padding_pattern", [])],
        stamp=stamp("collect_padding_pattern", code=CODE["collect_padding_pattern"]),
    output:
        csv=paths.PADDING_PATTERN,
        png=report(
            paths.figure("padding_pattern"),
            caption="../report/figure.rst",
            category="Analyses",
            labels={"figure": "padding_pattern"},
        ),
    log:
        "logs/collect_padding_pattern/padding_pattern.log",
    conda:
        ENV
    script:
        "../scripts/collect_padding_pattern.py"
