from posenc.features.request import request_for
from posenc.images.sets import check_disjoint
from posenc.probe.position_bits import BitsConfig, position_bits
from posenc.probe.training import TrainConfig
from posenc.readout_spec import ReadoutSpec
from posenc.runtime import job

with job(snakemake.log[0], snakemake.threads):
    i, p, o = snakemake.input, snakemake.params, snakemake.output
    check_disjoint(i.manifest, i.test_manifests, p.allow_shared_photos)
    stores = [i.store, *i.test_stores]
    manifests = [i.manifest, *i.test_manifests]
    position_bits(
        i.store,
        i.test_stores,
        o.heads,
        o.csv,
        ReadoutSpec.from_id(snakemake.wildcards.readout),
        BitsConfig.from_dict(p.bits),
        TrainConfig.from_dict(p.training),
        p.seeds,
        device=p.device,
        requests={
            s: request_for(p.backbone, p.features, m, i.get("weights")) for s, m in zip(stores, manifests)
        },
        code=p.code,
    )
