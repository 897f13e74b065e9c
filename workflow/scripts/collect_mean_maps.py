from posenc.report.mean_maps_figure import collect_mean_maps
from posenc.runtime import job

with job(snakemake.log[0]):
    collect_mean_maps(snakemake.input.csv, snakemake.output.csv)
