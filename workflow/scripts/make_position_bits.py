from posenc.report.position_bits import make_position_bits
from posenc.runtime import job

with job(snakemake.log[0]):
    o = snakemake.output
    make_position_bits(snakemake.params.plan, snakemake.input.metrics, o.csv, o.md, o.depth, o.best)
