from posenc.report.tables import write_per_seed
from posenc.runtime import job

with job(snakemake.log[0]):
    write_per_seed(snakemake.input.metrics, snakemake.output.csv)
