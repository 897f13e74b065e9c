from posenc.images.packages import fetch_package
from posenc.runtime import job

with job(snakemake.log[0]):
    fetch_package(snakemake.wildcards.package, snakemake.output.folder, snakemake.params.downloads)
