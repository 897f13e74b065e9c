rule prepare_image_set:
    input:
        image_set_inputs,
    output:
        manifest=paths.manifest("{image_set}"),
    params:
        spec=image_set_spec,
        version=__version__,
    log:
        "logs/prepare_image_set/{image_set}.log",
    script:
        "../scripts/prepare_image_set.py"
