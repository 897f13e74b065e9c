from posenc.images.sets import build_image_set
from posenc.logs import job

with job(snakemake.log[0]):
    build_image_set(snakemake.wildcards.image_set, snakemake.params.spec, snakemake.output.manifest)
