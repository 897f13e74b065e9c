from posenc.features.request import request_for
from posenc.probe.evaluate import evaluate_readout
from posenc.runtime import job

with job(snakemake.log[0], snakemake.threads):
    i, p = snakemake.input, snakemake.params
    evaluate_readout(
        i.readout,
        i.stores,
        snakemake.output.metrics,
        snakemake.output.predictions,
        output_size=p.output_size,
        stripe_range=p.stripe_range,
        requests=[request_for(p.backbone, p.features, m, i.get("weights")) for m in i.manifests],
    )
