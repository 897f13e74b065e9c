"""Data set archives: download through a URL (file:// here), checksum, unpack atomically, image count."""

import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from posenc.images.download import (
    INFO_FILE,
    ChecksumMismatch,
    DownloadError,
    UnpackError,
    archive_name,
    count_images,
    fetch_dataset,
    parse_checksum,
)
from tests.helpers import make_zip, sha256


@pytest.fixture
def archive(tmp_path):
    (tmp_path / "srv").mkdir()
    return make_zip(tmp_path / "srv" / "DS-TR.zip")


def spec_for(archive, **kw):
    return {
        "url": Path(archive).resolve().as_uri(),
        "checksum": f"sha256:{sha256(archive)}",
        "images": "DS-TR/DS-TR-Image",
        "count": 5,
        **kw,
    }


def test_parse_checksum():
    assert parse_checksum("") is None
    assert parse_checksum("md5:" + "A" * 32) == ("md5", "a" * 32)
    assert parse_checksum("sha256:" + "0" * 64) == ("sha256", "0" * 64)
    for bad in ("sha256:abc", "sha1:" + "0" * 40, "0" * 64, "md5:" + "g" * 32):
        with pytest.raises(ValueError, match="sha256:<64 hex digits>"):
            parse_checksum(bad)


def test_archive_name_from_url():
    assert archive_name({"url": "http://saliencydetection.net/duts/download/DUTS-TR.zip"}) == "DUTS-TR.zip"
    assert archive_name({"url": "http://x/y?z", "archive": "a.zip"}) == "a.zip"


def test_fetch_downloads_checks_and_unpacks(tmp_path, archive):
    out, downloads = tmp_path / "datasets" / "ds", tmp_path / "downloads"
    info = fetch_dataset("ds", spec_for(archive), out, downloads, progress=False)
    assert (downloads / "DS-TR.zip").read_bytes() == archive.read_bytes()
    assert info["count"] == 5 and info["archive_sha256"] == sha256(archive)
    assert sorted(p.name for p in (out / "DS-TR" / "DS-TR-Image").iterdir()) == [
        f"img_{i}.jpg" for i in range(5)
    ]
    assert json.loads((out / INFO_FILE).read_text())["count"] == 5
    assert [p.name for p in out.parent.iterdir()] == ["ds"]  # no temporary left behind


def test_md5_checksum_and_tar_archives(tmp_path, archive):
    tgz = tmp_path / "srv" / "ds.tar.gz"
    unpacked = tmp_path / "u"
    zipfile.ZipFile(archive).extractall(unpacked)
    with tarfile.open(tgz, "w:gz") as tf:
        tf.add(unpacked / "DS-TR", arcname="DS-TR")
    md5 = hashlib.md5(tgz.read_bytes()).hexdigest()
    spec = spec_for(tgz, checksum=f"md5:{md5}")
    info = fetch_dataset("ds", spec, tmp_path / "out", tmp_path / "dl", progress=False)
    assert info["count"] == 5 and info["archive_md5"] == md5


def test_unreachable_url_says_how_to_place_the_file(tmp_path, archive):
    spec = spec_for(archive, url="http://127.0.0.1:9/DS-TR.zip")  # nothing listens on the discard port
    out, downloads = tmp_path / "datasets" / "ds", tmp_path / "downloads"
    with pytest.raises(DownloadError) as err:
        fetch_dataset("ds", spec, out, downloads, progress=False)
    msg = str(err.value)
    assert "could not download http://127.0.0.1:9/DS-TR.zip" in msg
    assert f"copy it to {(downloads / 'DS-TR.zip').resolve()}" in msg and "source: folder" in msg
    assert not out.exists() and list(downloads.iterdir()) == []  # no partial download

    # placed by hand where the message says: used without any download
    downloads.joinpath("DS-TR.zip").write_bytes(archive.read_bytes())
    assert fetch_dataset("ds", spec, out, downloads, progress=False)["count"] == 5


def test_wrong_checksum_is_refused_and_nothing_unpacked(tmp_path, archive):
    spec = spec_for(archive, checksum="sha256:" + "0" * 64)
    out = tmp_path / "datasets" / "ds"
    with pytest.raises(ChecksumMismatch, match=r"Delete it \(rm .*DS-TR.zip\) and rerun"):
        fetch_dataset("ds", spec, out, tmp_path / "dl", progress=False)
    assert not out.exists()


def test_unpinned_checksum_logs_the_sha256_to_pin(tmp_path, archive, caplog):
    caplog.set_level("WARNING")
    fetch_dataset("ds", spec_for(archive, checksum=""), tmp_path / "out", tmp_path / "dl", progress=False)
    assert f"checksum: sha256:{sha256(archive)}" in caplog.text


def test_wrong_image_count_leaves_no_dataset(tmp_path, archive):
    out = tmp_path / "datasets" / "ds"
    with pytest.raises(UnpackError, match="holds 5 images, expected 6"):
        fetch_dataset("ds", spec_for(archive, count=6), out, tmp_path / "dl", progress=False)
    assert not out.exists() and list(out.parent.iterdir()) == []
    with pytest.raises(UnpackError, match="has no folder 'DS-TR/Images'"):
        fetch_dataset("ds", spec_for(archive, images="DS-TR/Images"), out, tmp_path / "dl", progress=False)


def test_unsafe_archive_paths_are_refused(tmp_path):
    bad = make_zip(tmp_path / "bad.zip", extra=[("../escape.txt", "x")])
    with pytest.raises(UnpackError, match="unsafe path"):
        fetch_dataset("ds", spec_for(bad), tmp_path / "out", tmp_path / "dl", progress=False)
    assert not (tmp_path / "escape.txt").exists()


def test_count_images_ignores_other_files(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.JPG").write_bytes(b"")
    (tmp_path / "y.png").write_bytes(b"")
    (tmp_path / "z.txt").write_text("")
    assert count_images(tmp_path) == 2


def test_masks_in_an_archive_of_their_own_unpack_beside_the_images(tmp_path, archive):
    masks = tmp_path / "srv" / "GT.zip"
    with zipfile.ZipFile(masks, "w") as zf:
        for i in range(5):
            buf = io.BytesIO()
            Image.fromarray(np.full((20, 30), 255 * (i % 2), np.uint8)).save(buf, "PNG")
            zf.writestr(f"GT/img_{i}.png", buf.getvalue())
    spec = spec_for(
        archive, masks="GT", masks_url=masks.resolve().as_uri(), masks_checksum=f"sha256:{sha256(masks)}"
    )
    out = tmp_path / "datasets" / "ds"
    fetch_dataset("ds", spec, out, tmp_path / "dl", progress=False)
    assert (tmp_path / "dl" / "GT.zip").is_file() and len(list((out / "GT").iterdir())) == 5
    from posenc.images.sets import resolve_records

    records = resolve_records({"source": "dataset", "dataset": "ds", "dataset_entry": spec}, "s", tmp_path)
    assert [Path(r.mask).name for r in records] == [f"img_{i}.png" for i in range(5)]
    wrong = spec_for(archive, masks="Masks", masks_url=masks.resolve().as_uri())
    with pytest.raises(UnpackError, match=r"no mask folder 'Masks' after unpacking \(top level: DS-TR, GT\)"):
        fetch_dataset("ds", wrong, tmp_path / "datasets" / "other", tmp_path / "dl", progress=False)
    assert not (tmp_path / "datasets" / "other").exists()
