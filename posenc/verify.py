"""`posenc verify`: what under results/ no longer matches the config or the images on disk, and why.

Checked, for the runs the config plans: every image set's files against its manifest (hashes, read only
where size or modification time changed); every feature store's recorded request against the config's
(posenc.features.request) and its chunk files (all there; with --deep, every chunk decoded and its CRC32C
checksum checked); every readout against the training settings, its targets and the store it was trained
on (its provenance, and the digest of the store content it read); every metrics file against its readout;
every table against its metrics. Leftover temporary files of killed writers are listed too. Nothing is
changed: the report says what to run.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from posenc import paths, plan
from posenc.config import read_yaml, validate_config
from posenc.errors import DEFAULT_CONFIG, snakemake_command
from posenc.features.request import recorded_request, request_diff, request_for
from posenc.images.manifest import changed_files, read_manifest
from posenc.images.sets import resolve_records
from posenc.io import is_stale_temporary


@dataclass(frozen=True)
class Finding:
    path: str
    reason: str
    fix: str = ""  # a command, where rerunning the target is not enough


def merged_config(files) -> dict:
    """The config of several --configfile files, later ones overriding earlier ones (as Snakemake does)."""
    config: dict = {}
    for file in files:
        _update(config, read_yaml(file))
    return validate_config(config)


def _update(base: dict, new: dict) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _update(base[key], value)
        else:
            base[key] = value


@contextmanager
def _inside(folder):
    old = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(old)


def _mtime(path) -> float:
    return Path(path).stat().st_mtime


def check_image_sets(config: dict) -> list[Finding]:
    found = []
    for name, entry in config["image_sets"].items():
        manifest_path = paths.manifest(name)
        if not Path(manifest_path).is_file():
            continue
        manifest, records = read_manifest(manifest_path)
        changed = changed_files(manifest, records)
        if entry["source"] == "folder" and entry.get("count") is None:
            try:
                now = {r.path for r in resolve_records(entry, name)}
            except Exception as err:  # the folder is gone: say so
                changed.append(str(err))
            else:
                listed = {r.path for r in records} | {s["path"] for s in manifest.get("skipped", [])}
                changed += [f"{p} (new)" for p in sorted(now - listed)]
                changed += [f"{p} (no longer taken)" for p in sorted({r.path for r in records} - now)]
        if changed:
            shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
            found.append(Finding(manifest_path, f"image files differ from the manifest: {shown}"))
    return found


def planned_stores(config: dict) -> list[tuple[str, str]]:
    sets = [config["train_set"], *config["test_sets"]]
    backbones = sorted({b for b, _ in plan.all_runs(config)})
    return [(b, s) for b in backbones for s in sets]


def check_stores(config: dict, deep: bool = False) -> list[Finding]:
    """Each planned store against the config's request; its chunk files all there (always, cheap) and, with
    `deep`, every chunk read and its checksum checked."""
    from posenc.features.store import damaged_chunks, missing_chunks

    found = []
    for backbone, image_set in planned_stores(config):
        store = paths.store(backbone, image_set)
        if not Path(store).exists():
            continue
        if not (Path(store) / "zarr.json").is_file():
            found.append(Finding(store, "not a complete feature store", f"rm -rf {store}"))
            continue
        manifest = paths.manifest(image_set)
        if not Path(manifest).is_file():
            found.append(Finding(store, f"its image set has no manifest ({manifest})"))
            continue
        entry = plan.backbone_entry(config, backbone)
        weights = plan.weight_file(config, backbone)
        wheel_file = (
            weights[1] if weights and weights[0] == "weights" else None
        )  # a checkpoint: from the entry
        wanted = request_for(entry, plan.feature_settings(config), manifest, wheel_file)
        diff = request_diff(recorded_request(store), wanted)
        if diff:
            found.append(
                Finding(
                    store,
                    "does not match the config: " + "; ".join(diff),
                    snakemake_command(store, force=True),
                )
            )
        elif _mtime(manifest) > _mtime(Path(store) / "zarr.json"):
            found.append(Finding(store, f"older than its manifest {manifest}"))
        for what, chunks in (
            ("lost", missing_chunks(store)),
            ("damaged", damaged_chunks(store) if deep else []),
        ):
            if chunks:
                more = f" and {len(chunks) - 2} more" if len(chunks) > 2 else ""
                found.append(
                    Finding(
                        store,
                        f"{len(chunks)} chunk(s) {what}: {'; '.join(chunks[:2])}{more}",
                        snakemake_command(store, force=True),
                    )
                )
    return found


def check_readouts(config: dict) -> list[Finding]:
    from dataclasses import asdict

    from posenc.features.store import content_digest, read_provenance
    from posenc.probe.training import TrainConfig, load_heads

    digests: dict[str, str] = {}  # each training store hashed once

    wanted_cfg = asdict(TrainConfig.from_dict(plan.training_settings(config)))
    found = []
    for backbone, readout in plan.all_runs(config):
        store = paths.store(backbone, config["train_set"])
        for seed in plan.seed_list(config):
            path = paths.readout(backbone, readout, seed)
            if not Path(path).is_file():
                continue
            try:
                _, targets, _, payload = load_heads(path)
            except Exception as err:
                found.append(Finding(path, f"unreadable ({type(err).__name__}: {err})", f"rm {path}"))
                continue
            cfg = {k: list(v) if isinstance(v, tuple) else v for k, v in payload["train_config"].items()}
            want = {k: list(v) if isinstance(v, tuple) else v for k, v in wanted_cfg.items()}
            differ = sorted(k for k in want if cfg.get(k) != want[k])
            if differ:
                found.append(
                    Finding(
                        path,
                        "trained with other settings: "
                        + "; ".join(f"training.{k}: {cfg.get(k)} vs config {want[k]}" for k in differ),
                    )
                )
            if list(targets) != plan.run_targets(config, backbone, readout):
                found.append(Finding(path, f"heads for {targets}, the tables ask for other targets"))
            if Path(store, "zarr.json").is_file():
                try:
                    same = read_provenance(store) == payload["store_provenance"]
                except Exception:
                    same = False
                if not same:
                    found.append(Finding(path, f"trained on an earlier build of {store}"))
                elif payload.get("store_digest"):
                    if store not in digests:
                        digests[store] = content_digest(store)
                    if payload["store_digest"] != digests[store]:
                        found.append(Finding(path, f"trained on other content than {store} now holds"))
    return found


def _scored_digests(metrics) -> dict[str, str]:
    """{image set: digest of the test store content} a metrics file records (empty for older files)."""
    import pandas as pd

    try:
        frame = pd.read_csv(metrics, usecols=["image_set", "store_digest"], dtype=str)
    except (ValueError, OSError):
        return {}
    return dict(frame.drop_duplicates("image_set").itertuples(index=False, name=None))


def check_metrics(config: dict) -> list[Finding]:
    from posenc.features.store import content_digest

    found, digests = [], {}  # each test store hashed once
    for backbone, readout in plan.all_runs(config):
        for seed in plan.seed_list(config):
            metrics, readout_file = (
                paths.metrics(backbone, readout, seed),
                paths.readout(backbone, readout, seed),
            )
            if (
                Path(metrics).is_file()
                and Path(readout_file).is_file()
                and _mtime(metrics) < _mtime(readout_file)
            ):
                found.append(Finding(metrics, f"older than its readout {readout_file}"))
            if not Path(metrics).is_file():
                continue
            for image_set, digest in _scored_digests(metrics).items():
                store = paths.store(backbone, image_set)
                if not Path(store, "zarr.json").is_file():
                    continue
                if store not in digests:
                    digests[store] = content_digest(store)
                if digest != digests[store]:
                    found.append(Finding(metrics, f"scored on other content than {store} now holds"))
    for table in config["tables"]:
        csv = paths.table(table)
        if not Path(csv).is_file():
            continue
        newer = [
            m for m in plan.table_metrics(config, table) if Path(m).is_file() and _mtime(m) > _mtime(csv)
        ]
        missing = [m for m in plan.table_metrics(config, table) if not Path(m).is_file()]
        if newer:
            found.append(Finding(csv, f"older than {len(newer)} of its metrics files, e.g. {newer[0]}"))
        if missing:
            found.append(Finding(csv, f"{len(missing)} of its metrics files are missing, e.g. {missing[0]}"))
    return found


def leftovers(results="results") -> list[Finding]:
    """Temporary files and folders of writers that were killed (their process is gone)."""
    stale = [tmp for tmp in sorted(Path(results).rglob("*.tmp-*")) if is_stale_temporary(tmp)]
    return [Finding(str(tmp), "left by a killed writer (never read)", f"rm -rf {tmp}") for tmp in stale]


def verify(folder=".", configfiles=None, deep: bool = False) -> tuple[list[Finding], list[Finding]]:
    """(stale findings, leftovers) for the results under `folder` and its config (default config/config.yaml).
    `deep`: also read every chunk of every store and check its checksum."""
    with _inside(folder):
        config = merged_config(configfiles or [DEFAULT_CONFIG])
        stale = (
            check_image_sets(config)
            + check_stores(config, deep)
            + check_readouts(config)
            + check_metrics(config)
        )
        return stale, leftovers()


def report(stale: list[Finding], left: list[Finding], configfiles=None) -> str:
    lines = [f"STALE {f.path}: {f.reason}" + (f"\n  fix: {f.fix}" if f.fix else "") for f in stale]
    lines += [f"LEFTOVER {f.path}: {f.reason}\n  fix: {f.fix}" for f in left]
    if stale:
        lines.append(
            "Rerunning your target rebuilds what is stale above (and what depends on it), e.g. "
            + snakemake_command("all", configfiles=configfiles or [])
        )
    if not stale and not left:
        lines.append("everything under results/ that this config plans matches it and the images on disk")
    return "\n".join(lines)
