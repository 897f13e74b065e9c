IMAGE_SET = dict(entry=image_set_entry, code=CODE["prepare_image_set"])


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


rule fetch_photo_package:
    input:
        stamp=stamp("fetch_photo_package", package=photo_package_entry, code=CODE["fetch_photo_package"]),
    output:
        folder=directory(paths.photos("{package}")),
    log:
        "logs/fetch_photo_package/{package}.log",
    conda:
        ENV
    params:
        downloads=paths.DOWNLOADS,
    script:
        "../scripts/fetch_photo_package.py"


rule write_attribution:
    input:
        manifests=attribution_manifests,
    output:
        attribution=paths.ATTRIBUTION,
    log:
        "logs/write_attribution.log",
    conda:
        ENV
    script:
        "../scripts/write_attribution.py"


use rule write_attribution as write_dense_attribution with:
    input:
        manifests=plan.dense_attribution_manifests(config),
    output:
        attribution=paths.DENSE_ATTRIBUTION,
    log:
        "logs/write_attribution_dense.log",
