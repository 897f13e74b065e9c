# posenc: how much absolute position information do CNNs encode? (Islam, Jia & Bruce, ICLR 2020)
# Stages: image sets -> backbone features (Zarr stores) -> readouts -> metrics -> tables; dense networks
# trained from scratch (Table 5) whose backbones are probed as checkpoints (Table 6).
import os
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

# Every job imports this checkout's posenc (also under --software-deployment-method conda, whose
# environment, workflow/envs/posenc.yaml, holds only the dependencies).
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        p for p in (str(Path(workflow.basedir).resolve()), os.environ.get("PYTHONPATH", "")) if p
    )
)
ENV = "../envs/posenc.yaml"  # relative to the rule files in workflow/rules/


# config/config.yaml (the embedded default) unless --configfile names others (e.g. config/paper.yaml): those
# replace it rather than being merged into it, so no key of the default leaks into another configuration.
# --config KEY=VALUE still overrides either.
if not workflow.overwrite_configfiles:
    workflow.configfile("config/config.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/datasets.smk"
include: "workflow/rules/images.smk"
include: "workflow/rules/weights.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/readouts.smk"
include: "workflow/rules/dense.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/analyses.smk"
include: "workflow/rules/position_bits.smk"


rule all:
    input:
        plan.all_tables(config),
        plan.dense_outputs(config),
        plan.all_figures(config),
        rules.collect_metrics.output,
        rules.compare_with_paper.output,
        plan.analysis_outputs(config),
        plan.position_bits_outputs(config),
