from posenc.io import atomic_write_text
from posenc.runtime import job

with job(snakemake.log[0]):
    import pandas as pd

    frame = pd.concat([pd.read_csv(f) for f in snakemake.input.csv], ignore_index=True)
    atomic_write_text(snakemake.output.csv, frame.to_csv(index=False))
