from posenc.report.analyses import write_padding_pattern
from posenc.runtime import job

with job(snakemake.log[0], snakemake.threads):
    i, p = snakemake.input, snakemake.params
    write_padding_pattern(
        p.backbone, p.features, i.store, i.manifest, i.get("weights"), p.images, snakemake.output.csv
    )
