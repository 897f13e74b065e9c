"""Errors whose message already says what went wrong and what to do (a workflow job prints only that)."""


class ActionableError(RuntimeError):
    """Bad input, missing weights or data, a refused cache: the message names the file or key and the fix."""
