from posenc.report.dense_figure import dense_predictions_figure, figure_tasks
from posenc.logs import job

with job(snakemake.log[0]):
    dense_predictions_figure(figure_tasks(snakemake.config), snakemake.output.png)
