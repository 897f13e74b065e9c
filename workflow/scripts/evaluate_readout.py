from posenc.probe.evaluate import evaluate_readout
from posenc.runtime import job

with job(snakemake.log[0], snakemake.threads):
    evaluate_readout(
        snakemake.input.readout,
        snakemake.input.stores,
        snakemake.output.metrics,
        snakemake.output.predictions,
        output_size=snakemake.params.output_size,
        stripe_range=snakemake.params.stripe_range,
    )
