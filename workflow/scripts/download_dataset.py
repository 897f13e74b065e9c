from posenc.images.download import fetch_dataset
from posenc.runtime import job

with job(snakemake.log[0]):
    fetch_dataset(
        snakemake.wildcards.dataset,
        snakemake.params.entry,
        snakemake.output.folder,
        snakemake.params.downloads,
    )
