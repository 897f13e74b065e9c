IMAGE_SET = dict(entry=image_set_entry, code=CODE["images"])


rule prepare_image_set:
    input:
        image_set_inputs,
        stamp=stamp("prepare_image_set", image_files_current, **IMAGE_SET, contents=image_set_contents),
    output:
        manifest=paths.manifest("{image_set}"),
    log:
        "logs/prepare_image_set/{image_set}.log",
    conda:
        ENV
    params:
        **IMAGE_SET,
    script:
        "../scripts/prepare_image_set.py"
