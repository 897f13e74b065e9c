from posenc.report.analyses import write_padding_modes
from posenc.runtime import job

with job(snakemake.log[0]):
    o = snakemake.output
    write_padding_modes(snakemake.input.metrics, snakemake.params.backbones, o.csv, o.png)
