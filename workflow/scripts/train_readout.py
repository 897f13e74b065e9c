from posenc.features.request import request_for
from posenc.probe.training import TrainConfig, train_readouts
from posenc.readout_spec import ReadoutSpec
from posenc.runtime import job

with job(snakemake.log[0], snakemake.threads):
    i, p = snakemake.input, snakemake.params
    train_readouts(
        i.store,
        snakemake.output.readouts,
        ReadoutSpec.from_id(snakemake.wildcards.readout),
        p.targets,
        TrainConfig.from_dict(p.training),
        p.seeds,
        device=p.device,
        request=request_for(p.backbone, p.features, i.manifest, i.get("weights")),
        code=p.code,
    )
