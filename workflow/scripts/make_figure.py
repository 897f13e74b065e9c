from posenc.report.figures import render
from posenc.logs import job

with job(snakemake.log[0]):
    render(snakemake.config, snakemake.wildcards.figure, snakemake.output.png)
