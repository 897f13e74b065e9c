from posenc.features.request import request_for
from posenc.images.sets import check_disjoint
from posenc.probe.evaluate import evaluate_readouts
from posenc.runtime import job

with job(snakemake.log[0], snakemake.threads):
    i, p, o = snakemake.input, snakemake.params, snakemake.output
    check_disjoint(i.train_manifest, i.manifests, p.allow_shared_photos)
    evaluate_readouts(
        i.readouts,
        i.stores,
        o.metrics,
        o.predictions,
        output_size=p.output_size,
        stripe_range=p.stripe_range,
        requests=[request_for(p.backbone, p.features, m, i.get("weights")) for m in i.manifests],
    )
