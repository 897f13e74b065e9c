from posenc.dense.training import evaluate_dense_model
from posenc.runtime import job

with job(snakemake.log[0], snakemake.threads):
    w = snakemake.wildcards
    manifests = dict(zip(snakemake.params.test_sets, snakemake.input.manifests, strict=True))
    evaluate_dense_model(
        snakemake.input.model,
        manifests,
        snakemake.output.metrics,
        w.task,
        w.variant,
        device=snakemake.params.device,
    )
