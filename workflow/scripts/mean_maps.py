from posenc.analysis.mean_maps import summarise
from posenc.features.request import request_for
from posenc.io import atomic_write_text
from posenc.report.mean_maps_figure import mean_maps_figure
from posenc.runtime import job

with job(snakemake.log[0], snakemake.threads):
    import pandas as pd

    i, p = snakemake.input, snakemake.params
    request = request_for(p.backbone, p.features, i.manifest, i.get("weights"))
    maps, rows = summarise(i.store, p.backbone, p.features["input_size"], request)
    atomic_write_text(snakemake.output.csv, pd.DataFrame(rows).to_csv(index=False, float_format="%.4g"))
    mean_maps_figure(maps, rows, snakemake.output.png)
