from posenc import paths
from posenc.dense_figure import dense_predictions_figure
from posenc.logs import job

with job(snakemake.log[0]):
    tasks = {name: {"models": {v: paths.dense_model(name, v) for v in paths.DENSE_VARIANTS},
                    "manifest": paths.manifest(next(iter(spec["test_sets"])))}
             for name, spec in snakemake.config["dense_tasks"].items()}
    dense_predictions_figure(tasks, snakemake.output.png)
