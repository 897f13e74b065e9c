from posenc.images.sets import build_image_set
from posenc.runtime import job

with job(snakemake.log[0]):
    build_image_set(snakemake.wildcards.image_set, snakemake.params.entry, snakemake.output.manifest)
