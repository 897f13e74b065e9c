"""Code fingerprints: a job reruns when the posenc code it runs changes, and only then.

A job's code is its workflow script and every posenc module the script imports, followed transitively through
the imports of those modules (anywhere in a module: a function's lazy import counts as well). Importing
`posenc.a.b` also runs `posenc/__init__.py` and `posenc/a/__init__.py`, so they count too. Comments,
docstrings and formatting are left out (the source is compared as its syntax tree). Torch-free: the Snakefile
computes one fingerprint per script when it loads, and each rule records its script's in its stamp.
"""

from __future__ import annotations

import ast
import copy
import hashlib
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent  # the posenc package folder
NAME = PACKAGE.name


def _module_file(package: Path, dotted: str) -> Path | None:
    """The file of a posenc module by its dotted name (a package's __init__.py), None if there is none."""
    parts = dotted.split(".")[1:]
    base = package.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _dotted(package: Path, file: Path) -> str:
    """posenc/a/b.py -> posenc.a.b; posenc/a/__init__.py -> posenc.a."""
    parts = file.relative_to(package).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((NAME, *parts))


def _parents(dotted: str) -> list[str]:
    """posenc.a.b -> [posenc, posenc.a, posenc.a.b]: the packages an import runs, then the module."""
    parts = dotted.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def imported_modules(source: Path, package: Path = PACKAGE, module: str | None = None) -> set[str]:
    """The dotted names of the posenc modules one file imports directly (absolute and relative imports;
    `from posenc.a import b` names the module posenc.a.b where b is one, else the package posenc.a)."""
    return set(_imports(Path(source), Path(source).stat().st_mtime_ns, package, module))


@cache
def _imports(source: Path, mtime_ns: int, package: Path, module: str | None) -> frozenset[str]:
    tree = _tree(source, mtime_ns)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved from the importing module's package
                if module is None:
                    continue
                anchor = module.split(".")
                is_package = source.name == "__init__.py"
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name == NAME or name.startswith(NAME + "."):
                for dotted in _parents(name):
                    if _module_file(package, dotted) is not None:
                        found.add(dotted)
    return frozenset(found)


@cache
def _tree(source: Path, mtime_ns: int) -> ast.Module:
    return ast.parse(source.read_text(), filename=str(source))


def module_closure(script: Path, package: Path = PACKAGE) -> list[Path]:
    """Every posenc source file a script runs when it imports what it imports, sorted."""
    seen: set[str] = set()
    pending = list(imported_modules(script, package))
    while pending:
        dotted = pending.pop()
        if dotted in seen:
            continue
        seen.add(dotted)
        file = _module_file(package, dotted)
        pending += imported_modules(file, package, dotted) - seen
    return sorted(_module_file(package, d) for d in seen)


@cache
def _tree_dump(source: Path, mtime_ns: int) -> str:
    """A file's syntax tree without docstrings (comments and formatting are not in a tree)."""
    tree = copy.deepcopy(_tree(source, mtime_ns))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def code_fingerprint(script: Path, package: Path = PACKAGE) -> str:
    """A short hash of a script and of the posenc code it imports (module_closure), docstrings, comments
    and formatting aside."""
    digest = hashlib.sha256()
    for source in [Path(script), *module_closure(Path(script), package)]:
        name = source.name if source == Path(script) else _dotted(package, source)
        digest.update(f"{name}\n{_tree_dump(source, source.stat().st_mtime_ns)}\n".encode())
    return digest.hexdigest()[:16]


def code_fingerprints(scripts: Path, package: Path = PACKAGE) -> dict[str, str]:
    """Script name (without .py) -> its code fingerprint, for every script in the folder."""
    return {path.stem: code_fingerprint(path, package) for path in sorted(Path(scripts).glob("*.py"))}
