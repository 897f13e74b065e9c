from posenc.report.table5 import make_table5
from posenc.runtime import job

with job(snakemake.log[0]):
    make_table5(
        snakemake.params.dense_tasks, snakemake.input.metrics, snakemake.output.csv, snakemake.output.md
    )
