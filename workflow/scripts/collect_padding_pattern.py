from posenc.report.analyses import collect_padding_pattern
from posenc.runtime import job

with job(snakemake.log[0]):
    collect_padding_pattern(snakemake.input.csv, snakemake.output.csv, snakemake.output.png)
