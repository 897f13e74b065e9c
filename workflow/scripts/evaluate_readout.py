from posenc.probe.evaluate import evaluate_readout
from posenc.logs import job

with job(snakemake.log[0], snakemake.threads):
    evaluate_readout(snakemake.input.heads, snakemake.input.stores, snakemake.output.metrics,
                     snakemake.output.predictions)
