rule download_dataset:
    output:
        folder=directory(paths.dataset("{dataset}")),
    params:
        spec=lambda wc: config["datasets"][wc.dataset],
        downloads=paths.DOWNLOADS,
    log:
        "logs/download_dataset/{dataset}.log",
    script:
        "../scripts/download_dataset.py"
