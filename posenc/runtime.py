"""What every workflow job needs at run time: its log, its threads and its device.

`job` tees stderr into the rule's log, gives torch the job's threads and turns an ActionableError, a full
disk or a permission problem into one line (a traceback would bury the fix); `resolve_device` is the one
place that turns a config's `device` value into a torch device.
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path

from posenc.errors import ActionableError

DEVICES = ("auto", "cpu", "cuda")  # a config's `device`: auto = CUDA when present, else the CPU


class _Tee:
    def __init__(self, *streams):
        self.streams = streams

    def write(self, text):
        for s in self.streams:
            s.write(text)
            s.flush()
        return len(text)

    def flush(self):
        for s in self.streams:
            s.flush()

    def isatty(self):
        return False


def usable_threads(requested: int | None) -> int:
    available = len(os.sched_getaffinity(0))
    return max(1, min(requested or available, available))


def resolve_device(device: str = "auto"):
    """A config's device value (auto, cpu, cuda, cuda:N) -> torch.device; CUDA asked for but absent is an error."""
    import torch  # lazy: report jobs use this module without needing torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ActionableError(
            f"device {device!r} requested but CUDA is not available here: set the `device` key to auto or cpu"
        )
    return torch.device(device)


_FILE_SYSTEM_ADVICE = {
    errno.ENOSPC: "free space there (`df -h {where}` shows it), then rerun your snakemake command",
    errno.EDQUOT: "free space or raise the quota, then rerun your snakemake command",
    errno.EACCES: "make {where} writable for you (or run from a folder you own), then rerun",
    errno.EPERM: "make {where} writable for you, then rerun",
    errno.EROFS: "run the workflow from a writable folder",
}


def file_system_problem(err: BaseException) -> str | None:
    """One line for a full disk, a quota or a permission problem anywhere in an exception's chain (else None)."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in _FILE_SYSTEM_ADVICE:
            # a write deep in a library may not say which file: the job writes under results/ here
            where = err.filename or os.path.abspath("results")
            folder = os.path.dirname(str(where)) if err.filename else where
            advice = _FILE_SYSTEM_ADVICE[err.errno].format(where=folder or where)
            return f"{err.strerror or os.strerror(err.errno)} writing {where}: {advice}"
        err = err.__cause__ or err.__context__
    return None


@contextmanager
def job(log_path=None, threads: int | None = None):
    """Run a workflow job: tee stderr into log_path and give torch the job's threads (at most the CPUs there)."""
    if threads is not None:
        import torch  # lazy: only jobs that compute set threads

        torch.set_num_threads(usable_threads(threads))
    if log_path is None:
        yield
        return
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        old = sys.stderr
        sys.stderr = _Tee(old, log)
        try:
            yield
        except ActionableError as err:
            # the message says what to do; a traceback would bury it (Snakemake prints the failed log)
            sys.stderr.write(f"\nposenc: {type(err).__name__}: {err}\n")
            raise SystemExit(1) from None
        except BaseException as err:
            problem = file_system_problem(err)
            if problem:  # a full disk or a permission: one line, not a traceback ending in it
                sys.stderr.write(f"\nposenc: {problem}\n")
                raise SystemExit(1) from None
            traceback.print_exc(file=sys.stderr)
            raise
        finally:
            sys.stderr = old
