from posenc.logs import job
from posenc.report.tables import make_table

with job(snakemake.log[0]):
    make_table(snakemake.config, snakemake.wildcards.table, snakemake.input.metrics, snakemake.output.csv,
               snakemake.output.md)
