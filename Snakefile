# posenc: how much absolute position information do CNNs encode? (Islam, Jia & Bruce, ICLR 2020)
# Stages: image sets -> backbone features (Zarr stores) -> readouts -> metrics -> tables.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/images.smk"
include: "workflow/rules/weights.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/readouts.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        all_tables(),
        all_figures(),
        rules.collect_metrics.output,
        rules.compare_with_paper.output,
