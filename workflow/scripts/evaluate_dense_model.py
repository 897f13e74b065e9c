from posenc.dense.training import evaluate_dense_model
from posenc.logs import job

with job(snakemake.log[0], snakemake.threads):
    w = snakemake.wildcards
    test_sets = snakemake.config["dense_tasks"][w.task]["test_sets"]
    manifests = dict(zip(test_sets, snakemake.input.manifests))  # in the config's order
    evaluate_dense_model(snakemake.input.model, manifests, snakemake.output.metrics,
                         w.task, w.variant, device=snakemake.config["dense_tasks"][w.task]["device"])
