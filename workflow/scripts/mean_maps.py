from posenc.report.mean_maps_figure import write_mean_maps
from posenc.runtime import job

with job(snakemake.log[0], snakemake.threads):
    i, p, o = snakemake.input, snakemake.params, snakemake.output
    write_mean_maps(i.store, p.backbone, p.features, i.manifest, i.get("weights"), o.csv, o.png)
