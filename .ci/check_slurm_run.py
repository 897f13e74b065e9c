"""Check a workflow run through Slurm: Tables 4 and 5 are complete and finite, Slurm ran every job, and the GPU rules
(extraction, readout and dense training) ran on the profile's gpu partition, the others on the default one.

usage: check_slurm_run.py RUN_DIR SLURMCTLD_LOG
"""

import math
import re
import sys
from pathlib import Path

import pandas as pd
import yaml

run, ctld_log = Path(sys.argv[1]), Path(sys.argv[2])
config = yaml.safe_load((run / "config" / "config.yaml").read_text())
table = pd.read_csv(run / "results" / "table4.csv")
labels = [row["label"] for row in config["tables"]["table4"]["rows"]]
assert list(table["model"]) == labels, f"table4 rows {list(table['model'])} != config {labels}"
spc = [c for c in table.columns if c.endswith("_spc")]
assert spc and all(math.isfinite(v) for v in table[spc].to_numpy().ravel()), f"non-finite SPC in\n{table}"
table5 = pd.read_csv(run / "results" / "table5.csv")
assert len(table5) == 2 * sum(len(t["test_sets"]) for t in config["dense_tasks"].values()), (
    f"table5:\n{table5}"
)
scores = table5[[c for c in ("max_f", "mae", "miou") if c in table5.columns]].to_numpy().ravel()
assert all(0 <= v <= 1 for v in scores if not math.isnan(v)), f"table5 scores out of [0, 1]:\n{table5}"

log = (run / "snakemake.log").read_text()
jobs = {
    int(j): (rule, wc)
    for j, rule, wc in re.findall(
        r"submitted with SLURM jobid (\d+) \(log: \S*/rule_(\w+)/(?:(\S+)/)?\d+\.log\)", log
    )
}
submitted = set(jobs)
done = re.search(r"(\d+) of (\d+) steps \(100%\) done", log)
assert done, "snakemake did not report 100% done"
total = int(done.group(2))
assert len(submitted) == total, f"{len(submitted)} Slurm jobs for {total} workflow jobs"
ctld = ctld_log.read_text()
accepted = {int(j) for j in re.findall(r"_slurm_rpc_submit_batch_job: JobId=(\d+)", ctld)}
assert submitted <= accepted, f"jobs unknown to slurmctld: {sorted(submitted - accepted)}"
# the main scheduler logs "sched: Allocate JobId=N ... Partition=P", the backfill one "Started JobId=N in P on"
partition = {int(j): p for j, p in re.findall(r"sched: Allocate JobId=(\d+) .*Partition=(\S+)", ctld)}
partition |= {
    int(j): p for j, p in re.findall(r"sched/backfill: _start_job: Started JobId=(\d+) in (\S+) on", ctld)
}
n_gpu = 0
for jobid, (rule, wc) in jobs.items():
    gpu_rule = rule in (
        "train_readout",
        "extract_features",
        "train_dense_model",
    )  # the profile's gpu-partition rules
    want = "gpu" if gpu_rule else "main"
    assert partition.get(jobid) == want, (
        f"Slurm job {jobid} ({rule} {wc}) ran on {partition.get(jobid)}, not {want}"
    )
    n_gpu += gpu_rule
slurm_logs = list((run / ".snakemake" / "slurm_logs").rglob("*.log"))
assert len(slurm_logs) >= total, f"{len(slurm_logs)} Slurm job logs for {total} jobs"
print(
    f"slurm run OK: {total} jobs, each a Slurm batch job (ids {min(submitted)}..{max(submitted)}), "
    f"{len(slurm_logs)} job logs; {n_gpu} GPU-rule jobs on partition gpu, {total - n_gpu} on main; "
    f"table4 rows: {', '.join(labels)}; table5: {len(table5)} rows"
)
