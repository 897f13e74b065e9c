from posenc.report.analyses import collect
from posenc.runtime import job

with job(snakemake.log[0]):
    collect(snakemake.input.csv, snakemake.output.csv)
