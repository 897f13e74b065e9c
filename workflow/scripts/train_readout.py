from posenc.features.request import request_for
from posenc.plan import ReadoutSpec
from posenc.probe.training import TrainConfig, train_readout
from posenc.runtime import job

with job(snakemake.log[0], snakemake.threads):
    i, p = snakemake.input, snakemake.params
    train_readout(
        i.store,
        snakemake.output.readout,
        ReadoutSpec.from_id(snakemake.wildcards.readout),
        p.targets,
        TrainConfig.from_dict(p.training),
        int(snakemake.wildcards.seed),
        device=p.device,
        request=request_for(p.backbone, p.features, i.manifest, i.get("weights")),
    )
