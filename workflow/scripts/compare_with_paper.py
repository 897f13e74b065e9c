from posenc.report.claims import write_comparison
from posenc.logs import job

with job(snakemake.log[0]):
    write_comparison(snakemake.config, snakemake.output.md)
