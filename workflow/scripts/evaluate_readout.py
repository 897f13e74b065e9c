from posenc.features.request import request_for
from posenc.probe.evaluate import evaluate_readouts
from posenc.runtime import job

with job(snakemake.log[0], snakemake.threads):
    i, p, o = snakemake.input, snakemake.params, snakemake.output
    evaluate_readouts(
        i.readouts,
        i.stores,
        o.metrics,
        o.predictions,
        output_size=p.output_size,
        stripe_range=p.stripe_range,
        requests=[request_for(p.backbone, p.features, m, i.get("weights")) for m in i.manifests],
    )
