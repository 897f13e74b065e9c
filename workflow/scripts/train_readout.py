from posenc.logs import job
from posenc.probe.readout import ReadoutSpec
from posenc.probe.training import TrainConfig, train_readout

with job(snakemake.log[0], snakemake.threads):
    p = snakemake.params
    cfg = TrainConfig.from_dict({**p.training, "output_size": p.output_size, "stripe_range": p.stripe_range})
    train_readout(snakemake.input.store, snakemake.output.heads, ReadoutSpec.from_id(snakemake.wildcards.readout),
                  p.targets, cfg, int(snakemake.wildcards.seed), device=snakemake.config["training"]["device"])
