rule download_dataset:
    input:
        stamp=stamp("download_dataset", entry=dataset_entry),
    output:
        folder=directory(paths.dataset("{dataset}")),
    log:
        "logs/download_dataset/{dataset}.log",
    conda:
        ENV
    params:
        entry=dataset_entry,
        downloads=paths.DOWNLOADS,
    script:
        "../scripts/download_dataset.py"
