from posenc.images.attribution import write_attribution
from posenc.runtime import job

with job(snakemake.log[0]):
    write_attribution(snakemake.input.manifests, snakemake.output.attribution)
