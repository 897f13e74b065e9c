from posenc.report.analyses import write_canvas
from posenc.runtime import job

with job(snakemake.log[0], snakemake.threads):
    i, p = snakemake.input, snakemake.params
    write_canvas(
        p.backbone,
        p.features,
        i.store,
        i.manifest,
        i.get("weights"),
        i.readouts,
        p.images,
        p.scale,
        snakemake.output.csv,
    )
