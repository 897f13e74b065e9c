"""Fault injection on a micro workflow: kill -9 mid-way, stale stores, changed images, `posenc verify`.

Each kill is a SIGKILL of the whole Snakemake run (it runs in its own session; posenc.io.crash_point kills
its process group at the named point, as a power cut would). The reruns must end with tables identical
to those of an undisturbed run, and leave nothing a later run would take for complete.
"""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from posenc.features.store import read_provenance
from tests.helpers import ENV, ROOT, SNAKEMAKE

pytestmark = pytest.mark.slow

MICRO = {
    "image_sets": {
        "train": {"source": "embedded", "split": "train", "count": 6},
        "natural": {"source": "embedded", "split": "test", "count": 3},
        "synthetic": {"source": "synthetic"},
    },
    "train_set": "train",
    "test_sets": ["natural", "synthetic"],
    "backbones": {"pixels": {"arch": "pixels"}, "vgg16_random": {"arch": "vgg16", "weights": "random"}},
    "dense_tasks": {},
    "seeds": 1,
    "features": {"batch_size": 2, "chunk_mb": 0.5},  # several chunks per store: a kill can fall between
    "training": {"epochs": 2, "batch_size": 3, "lr_milestones": [1]},
    "tables": {
        "table4": {
            "layout": "by_target",
            "rows": [
                {"label": "PosENet", "backbone": "pixels"},
                {"label": "VGG16 (random)", "backbone": "vgg16_random"},
            ],
        }
    },
}
TABLE = "results/table4.csv"


def run(workdir, *args, crash=None):
    env = dict(ENV)
    env.pop("POSENC_CRASH_AT", None)
    if crash:
        env["POSENC_CRASH_AT"] = crash
    proc = subprocess.run(
        [*SNAKEMAKE, "-d", str(workdir), "--cores", "2", *args],
        capture_output=True,
        text=True,
        env=env,
        start_new_session=True,  # its own process group: a crash point kills the run and its jobs only
    )
    return proc.returncode, proc.stdout + proc.stderr


def new_workdir(path: Path, config=MICRO) -> Path:
    (path / "config").mkdir(parents=True)
    (path / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def verify(workdir):
    proc = subprocess.run(
        [sys.executable, "-m", "posenc.cli", "verify", str(workdir)], capture_output=True, text=True, env=ENV
    )
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    workdir = new_workdir(tmp_path_factory.mktemp("reference"))
    rc, out = run(workdir, TABLE)
    assert rc == 0, out[-3000:]
    return (workdir / TABLE).read_bytes()


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    return new_workdir(tmp_path_factory.mktemp("faulty"))


def leftovers(workdir):
    return sorted(str(p.relative_to(workdir)) for p in (workdir / "results").rglob("*.tmp-*"))


KILL_POINTS = [
    # (crash point, what must not look complete afterwards)
    ("store-chunk@vgg16_random/train", "results/features/vgg16_random/train.zarr"),
    ("train-step@vgg16_random", "results/readouts/vgg16_random/L1-k3-p0-all/seed0.pt"),
    ("write@table4", TABLE),
]


@pytest.mark.parametrize("crash,output", KILL_POINTS, ids=[k.split("@")[0] for k, _ in KILL_POINTS])
def test_killed_runs_leave_nothing_complete_and_reruns_finish(faulty, crash, output, reference):
    rc, out = run(faulty, TABLE, crash=crash)
    assert rc == -signal.SIGKILL, out[-2000:]
    assert not (faulty / output).exists()  # a killed writer never leaves the final name behind
    rc, out = run(faulty, TABLE)  # the kill left Snakemake's lock: the error says how to lift it
    assert rc != 0 and "--unlock" in out
    assert run(faulty, "--unlock")[0] == 0


def test_after_every_kill_the_rerun_gives_the_undisturbed_table(faulty, reference):
    rc, out = run(faulty, TABLE)
    assert rc == 0, out[-3000:]
    assert (faulty / TABLE).read_bytes() == reference
    assert leftovers(faulty) == []  # temporaries of killed writers were removed by the rerun
    assert verify(faulty)[0] == 0


def test_a_seed_changed_after_deleting_snakemake_metadata_rebuilds_the_store(faulty, reference):
    config = yaml.safe_load((faulty / "config" / "config.yaml").read_text())
    config["backbones"]["vgg16_random"]["seed"] = 7
    (faulty / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    shutil.rmtree(faulty / ".snakemake")
    rc, out = verify(faulty)
    assert rc == 1 and "weights_seed: store has 0, config asks 7" in out
    for triggers in (["--rerun-triggers", "mtime"], []):
        rc, out = run(faulty, "-n", TABLE, *triggers)
        assert "extract_features" in out and "Nothing to be done" not in out, out[-2000:]
    rc, out = run(faulty, TABLE, "--rerun-triggers", "mtime")
    assert rc == 0, out[-3000:]
    store = faulty / "results/features/vgg16_random/train.zarr"
    assert read_provenance(store)["weights_seed"] == 7
    assert (faulty / TABLE).read_bytes() != reference  # another network, another table
    assert verify(faulty)[0] == 0


def test_a_stale_store_planted_under_a_current_stamp_is_refused_and_verify_names_it(faulty):
    # a store of seed 0 copied over the seed-7 one, stamps and metadata saying all is current: the
    # planning notices the store does not fit, and a reader that is run anyway refuses it
    other = new_workdir(faulty.parent / "seed0")
    assert run(other, "results/features/vgg16_random/train.zarr")[0] == 0
    store = faulty / "results/features/vgg16_random/train.zarr"
    shutil.rmtree(store)
    shutil.copytree(other / "results/features/vgg16_random/train.zarr", store)
    rc, out = verify(faulty)
    assert rc == 1 and "weights_seed: store has 0, config asks 7" in out
    assert "snakemake --cores all --force results/features/vgg16_random/train.zarr" in out
    rc, out = run(faulty, "-n", TABLE)
    assert "extract_features" in out
    assert (
        "posenc: results/features/vgg16_random/train.zarr was built for other settings "
        "(weights_seed: store has 0, config asks 7): it is rebuilt"
    ) in out
    env = {**ENV, "PYTHONPATH": str(ROOT)}
    train = (
        "from posenc import plan;from posenc.config import load_config;"
        "from posenc.features.request import request_for;from posenc.probe.training import *;"
        "c=load_config('config/config.yaml');"
        "r=request_for(plan.backbone_entry(c,'vgg16_random'),plan.feature_settings(c),'results/images/train.json');"
        "train_readout('results/features/vgg16_random/train.zarr','x.pt',plan.ReadoutSpec(),['H'],TrainConfig(),0,"
        "'cpu',progress=False,request=r)"
    )
    proc = subprocess.run([sys.executable, "-c", train], cwd=faulty, capture_output=True, text=True, env=env)
    assert proc.returncode != 0 and "weights_seed: store has 0, config asks 7" in proc.stderr
    assert not (faulty / "x.pt").exists()


def test_an_image_edited_in_place_rebuilds_its_set_and_verify_sees_it_first(faulty):
    assert run(faulty, TABLE)[0] == 0
    image = sorted((faulty / "resources/images/natural").iterdir())[0]
    data = bytearray(image.read_bytes())
    data[-64] ^= 0xFF
    image.write_bytes(bytes(data))
    rc, out = verify(faulty)
    assert rc == 1 and f"{image.relative_to(faulty)} (content changed)" in out
    rc, out = run(faulty, "-n", TABLE)
    assert "prepare_image_set" in out and "Nothing to be done" not in out
    assert f"posenc: image set natural: {image.relative_to(faulty)} (content changed): it is rebuilt" in out
    assert run(faulty, TABLE)[0] == 0
    assert verify(faulty)[0] == 0
    os.utime(image)  # touched only: nothing to do
    assert "Nothing to be done" in run(faulty, "-n", TABLE)[1]


def test_a_damaged_or_lost_chunk_is_named_by_verify_and_refused_by_the_jobs(tmp_path):
    workdir = new_workdir(tmp_path / "damaged")
    assert run(workdir, TABLE)[0] == 0
    assert verify(workdir)[0] == 0
    train = workdir / "results/features/vgg16_random/train.zarr"
    chunk = train / "relu5_3" / "c" / "1" / "0" / "0" / "0"
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the compressed data: without a checksum it would decode
    chunk.write_bytes(bytes(data))
    rc, out = verify(workdir)  # the readout was trained on other content than the store holds now
    assert rc == 1 and "trained on other content than results/features/vgg16_random/train.zarr" in out, out
    proc = subprocess.run(
        [sys.executable, "-m", "posenc.cli", "verify", str(workdir), "--deep"],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert proc.returncode == 1 and "1 chunk(s) damaged: relu5_3 chunk 1 (images" in proc.stdout, proc.stdout
    rc, out = run(workdir, TABLE, "--forcerun", "train_readout")
    assert (
        rc != 0 and "tap relu5_3, chunk 1" in out and "cannot be read" in out and "rebuild the store" in out
    )
    # a lost chunk of a test store: refused when opened, never read as zeros
    test = workdir / "results/features/vgg16_random/natural.zarr"
    lost = sorted(p for p in (test / "relu1_2" / "c").rglob("*") if p.is_file())[0]
    lost.unlink()
    rc, out = verify(workdir)
    assert rc == 1 and "chunk(s) lost: relu1_2 chunk 0" in out
    # the metrics record the content of the test store they scored
    assert "scored on other content than results/features/vgg16_random/natural.zarr now holds" in out
    rc, out = run(workdir, TABLE, "--forcerun", "evaluate_readout")
    assert rc != 0 and "has lost chunk files (relu1_2 chunk 0" in out
