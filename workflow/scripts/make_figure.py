from posenc.report.figures import render
from posenc.runtime import job

with job(snakemake.log[0]):
    i = snakemake.input
    render(
        snakemake.params.plan,
        snakemake.output.png,
        table=i.table[0] if "table" in i.keys() else None,
        predictions=list(i.predictions) if "predictions" in i.keys() else [],
        manifest=i.manifest[0] if "manifest" in i.keys() else None,
        readouts=list(i.readouts) if "readouts" in i.keys() else [],
    )
