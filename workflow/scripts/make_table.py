from posenc.report.tables import make_table
from posenc.runtime import job

with job(snakemake.log[0]):
    make_table(
        snakemake.params.plan,
        snakemake.input.metrics,
        snakemake.output.csv,
        snakemake.output.md,
        snakemake.input.manifests,
    )
