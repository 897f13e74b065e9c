"""Settings stamps: a job's settings as a small file that changes only when they do.

Snakemake reruns a job whose params changed only while `.snakemake/` keeps their record and the `params`
rerun trigger is on; a file input is compared by modification time, always. So every rule also takes a
stamp of its settings (with the fingerprint of its code) as an input. The stamp is written while Snakemake
plans the jobs and rewritten only when the settings differ from the recorded ones: a change reruns the job
and everything after it even after `rm -rf .snakemake` or with `--rerun-triggers mtime`.

A dry run writes no stamp under results/ (the changed ones go to a temporary folder). A stamp written for
the first time is dated 1970, so that adopting stamps (or deleting results/.stamps)
reruns nothing by itself. Where a rule can tell that its existing output no longer fits (a feature store
records the request it was built for; a manifest the hashes of its files), the stamp gets a new `rebuild`
mark instead, new or not, and the job reruns. (Only new content does it: Snakemake skips a newer input
whose checksum is the one it recorded. And an error raised while Snakemake plans is no way to stop it: where
the output exists, Snakemake takes it as it is and says nothing.) Readers of stores and `posenc verify`
check the recorded request too.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from posenc import __version__
from posenc.errors import ActionableError
from posenc.io import atomic_write_text
from posenc.runtime import file_system_problem

STAMPS = "results/.stamps"


def stamp_path(rule: str, *keys) -> str:
    """results/.stamps/<rule>/<key>/.../stamp.json (keys: the job's wildcard values).

    A folder of its own per job: Snakemake lists a folder once while it plans (its inventory) and takes a
    file that was not in the listing for absent, so a stamp that an input function writes beside another
    job's, after that listing, would be missing (two targets of one rule in one call). A folder that did not
    exist when its parent was listed is looked up afresh."""
    return str(Path(STAMPS, rule, *map(str, keys), "stamp.json"))


def stamp_text(settings: dict, rebuild: int | None = None) -> str:
    """The stamp file: the settings (compared), the posenc version that wrote it (a record: code changes
    rerun jobs through the code fingerprints in the settings) and the rebuild mark, if any."""
    body = {"settings": settings, "posenc_version": __version__}
    if rebuild is not None:
        body["rebuild"] = rebuild
    return json.dumps(body, sort_keys=True, indent=1, default=str) + "\n"


def recorded_settings(path):
    """The settings a stamp records (None if there is none or it is unreadable)."""
    try:
        return json.loads(Path(path).read_text())["settings"]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return ...  # unreadable: differs from any settings


def write_stamp(path, settings: dict, output_current=None, dry_run: bool = False) -> str:
    """Record `settings` at `path` unless it already holds them; return the path (a rule input).

    `output_current`: a function telling whether the job's existing output still fits; when it says no, the
    stamp is rewritten with a new rebuild mark (the job reruns) even if the settings are those recorded. A new
    stamp is otherwise dated 1970. With `dry_run` (snakemake -n) nothing is written under results/: a stamp
    that would change is written to a temporary folder instead, and that path returned, so that the dry run
    plans the same reruns as the real one."""
    path = Path(path)
    settings = json.loads(json.dumps(settings, default=str))  # as the file will hold them
    recorded = recorded_settings(path)
    first, same = recorded is None, recorded == settings
    current = output_current() if output_current is not None and (same or first) else True
    if same and current:
        return str(path)
    target = dry_run_path(path) if dry_run else path
    try:
        atomic_write_text(target, stamp_text(settings, None if current else time.time_ns()))
        if first and current:
            os.utime(target, (0, 0))
    except OSError as err:  # a read-only, full or foreign results folder: one line while planning, too
        raise ActionableError(file_system_problem(err) or f"cannot write {target}: {err}") from None
    return str(target)


def dry_run_path(path) -> Path:
    """Where a dry run writes the stamp that would change at `path` (outside the results folder)."""
    path = Path(path).resolve()
    return Path(tempfile.gettempdir(), f"posenc-dry-run-{os.getuid()}", *path.parts[1:])
