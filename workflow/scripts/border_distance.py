from posenc.report.analyses import write_border_distance
from posenc.runtime import job

with job(snakemake.log[0]):
    p, o = snakemake.params, snakemake.output
    write_border_distance(
        snakemake.input.predictions, p.backbones, p.size, p.stripe_range, p.bin_px, p.image_set, o.csv, o.png
    )
