from posenc.report.analyses import collect_canvas
from posenc.runtime import job

with job(snakemake.log[0]):
    collect_canvas(snakemake.input.csv, snakemake.output.csv, snakemake.output.png)
