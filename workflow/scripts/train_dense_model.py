from posenc.dense.training import DenseConfig, train_dense_model
from posenc.runtime import job

with job(snakemake.log[0], snakemake.threads):
    train_dense_model(
        snakemake.input.manifest,
        snakemake.output.model,
        DenseConfig.from_dict(snakemake.params.dense),
        snakemake.wildcards.variant == "padded",
        device=snakemake.params.device,
    )
