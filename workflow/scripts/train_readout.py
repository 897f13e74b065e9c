from posenc.plan import ReadoutSpec
from posenc.probe.training import TrainConfig, train_readout
from posenc.runtime import job

with job(snakemake.log[0], snakemake.threads):
    train_readout(
        snakemake.input.store,
        snakemake.output.readout,
        ReadoutSpec.from_id(snakemake.wildcards.readout),
        snakemake.params.targets,
        TrainConfig.from_dict(snakemake.params.training),
        int(snakemake.wildcards.seed),
        device=snakemake.params.device,
    )
