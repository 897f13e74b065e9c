"""Logging for workflow jobs: stderr goes both to the terminal and to the rule's log file."""

from __future__ import annotations

import os
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path

from posenc.errors import ActionableError


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


@contextmanager
def job(log_path=None, threads: int | None = None):
    """Run a workflow job: tee stderr into log_path and give torch the job's threads (at most the CPUs there)."""
    import torch

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
        except BaseException:
            traceback.print_exc(file=sys.stderr)
            raise
        finally:
            sys.stderr = old
