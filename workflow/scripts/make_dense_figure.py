from posenc.report.dense_figure import dense_predictions_figure, figure_tasks
from posenc.runtime import job

with job(snakemake.log[0]):
    tasks = figure_tasks(snakemake.params.tasks, snakemake.input.models, snakemake.input.manifests)
    dense_predictions_figure(tasks, snakemake.output.png)
