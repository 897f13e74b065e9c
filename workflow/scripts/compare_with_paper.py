from posenc.report.claims import write_comparison
from posenc.runtime import job

with job(snakemake.log[0]):
    names = snakemake.params.tables
    write_comparison(
        dict(zip(names, snakemake.input.csv, strict=True)),
        dict(zip(names, snakemake.input.md, strict=True)),
        snakemake.output.md,
    )
