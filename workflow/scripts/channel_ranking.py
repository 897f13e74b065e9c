from posenc.report.analyses import write_channel_ranking
from posenc.runtime import job

with job(snakemake.log[0], snakemake.threads):
    i, p, o = snakemake.input, snakemake.params, snakemake.output
    write_channel_ranking(
        p.backbone,
        p.features,
        {"train": i.store, "test": i.test_store},
        {"train": i.manifest, "test": i.test_manifest},
        i.get("weights"),
        p.readout,
        p.training,
        p.targets,
        p.seeds,
        p.ks,
        o.ranking,
        o.topk,
        o.png,
        device=p.device,
    )
