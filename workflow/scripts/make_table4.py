from posenc.logs import job
from posenc.tables import make_table4

with job(snakemake.log[0]):
    make_table4(snakemake.config, snakemake.input.metrics, snakemake.output.csv, snakemake.output.md)
