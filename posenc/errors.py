"""Errors whose message already says what went wrong and what to do (a workflow job prints only that), and
the Snakemake command lines such messages tell a user to paste."""

from __future__ import annotations

import os
import shlex

DEFAULT_CONFIG = "config/config.yaml"
# Set by the Snakefile for its jobs: the config files of the run (os.pathsep-separated), so that a message
# can give a command for the same configuration.
CONFIGFILES_ENV = "POSENC_CONFIGFILES"


class ActionableError(RuntimeError):
    """Bad input, missing weights or data, a refused cache: the message names the file or key and the fix."""


def snakemake_command(*targets: str, force: bool = False, configfiles=None) -> str:
    """`snakemake --cores all [--force] TARGET... [--configfile ...]` for the configuration of this run."""
    if configfiles is None:
        configfiles = [f for f in os.environ.get(CONFIGFILES_ENV, "").split(os.pathsep) if f]
    words = ["snakemake", "--cores", "all", *(["--force"] if force else []), *targets]
    if list(configfiles) not in ([], [DEFAULT_CONFIG]):
        words += ["--configfile", *configfiles]
    return shlex.join(words)
