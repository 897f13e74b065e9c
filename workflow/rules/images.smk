rule prepare_image_set:
    input:
        image_set_inputs,
    output:
        manifest=paths.manifest("{image_set}"),
    log:
        "logs/prepare_image_set/{image_set}.log",
    conda:
        ENV
    params:
        entry=image_set_entry,
        code=CODE["images"],
    script:
        "../scripts/prepare_image_set.py"
