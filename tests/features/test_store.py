import json

import numpy as np
import pytest
import xarray as xr

from posenc.features.store import (
    StoreError,
    StoreReader,
    StoreWriter,
    check_provenance,
    damaged_chunks,
    describe_store,
    missing_chunks,
    read_provenance,
)
from tests.helpers import TAPS, features, provenance, write


def test_round_trip_across_chunk_boundaries(tmp_path):
    names = write(tmp_path / "s.zarr")
    r = StoreReader(tmp_path / "s.zarr")
    assert r.n_images == 10 and r.channels == 5 and r.image_names == names
    assert r.chunk == 4 and r.blocks() == [
        (0, 4),
        (4, 8),
        (8, 10),
    ]  # chunk_mb fits 4 images of the widest tap
    got = r.read(0, 10)
    want = features(10)
    np.testing.assert_array_equal(got[:, :2], want["low"])
    np.testing.assert_array_equal(got[:, 2:], want["high"])
    only_high = StoreReader(tmp_path / "s.zarr", taps=["high"]).read(2, 5)
    np.testing.assert_array_equal(only_high, want["high"][2:5])


def test_provenance_mismatch_is_refused_with_the_field(tmp_path):
    write(tmp_path / "s.zarr")
    assert check_provenance(tmp_path / "s.zarr", provenance())["complete"] is True
    with pytest.raises(StoreError, match="image_list_hash"):
        check_provenance(tmp_path / "s.zarr", provenance(image_list_hash="other"))
    with pytest.raises(StoreError, match="weights_sha256"):
        StoreReader(tmp_path / "s.zarr", expect=provenance(weights_sha256="zzz"))


def test_failed_write_leaves_nothing(tmp_path):
    path = tmp_path / "s.zarr"
    with pytest.raises(RuntimeError, match="boom"):
        with StoreWriter(path, TAPS, ["a", "b", "c"], provenance(), size=4) as w:
            w.append(features(2))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(StoreError, match="3 expected"):
        with StoreWriter(path, TAPS, ["a", "b", "c"], provenance(), size=4) as w:
            w.append(features(2))
    assert not path.exists()


def test_parallel_writers_store_what_one_writer_stores(tmp_path):
    one_image = 3 * 4 * 4 * 2 / 2**20  # chunks of one image: 10 chunks x 2 taps written by the threads
    write(tmp_path / "one.zarr", chunk_mb=one_image, workers=1)
    write(tmp_path / "four.zarr", chunk_mb=one_image, workers=4)
    a, b = StoreReader(tmp_path / "one.zarr"), StoreReader(tmp_path / "four.zarr")
    assert b.chunk == 1 and b.blocks() == [(i, i + 1) for i in range(10)]
    np.testing.assert_array_equal(b.read(0, 10), a.read(0, 10))
    want = features(10)
    np.testing.assert_array_equal(b.read(0, 10), np.concatenate([want["low"], want["high"]], axis=1))


def test_a_failed_chunk_write_is_raised_and_leaves_nothing(tmp_path, monkeypatch):
    calls = []
    real = StoreWriter._write

    def flaky(self, name, start, block):
        calls.append(start)
        if len(calls) == 3:
            raise OSError("disk full")
        real(self, name, start, block)

    monkeypatch.setattr(StoreWriter, "_write", flaky)
    with pytest.raises(OSError, match="disk full"):
        write(tmp_path / "s.zarr", chunk_mb=3 * 4 * 4 * 2 / 2**20, workers=2)
    assert list(tmp_path.iterdir()) == []


def test_incomplete_store_is_refused(tmp_path):
    path = tmp_path / "s.zarr"
    w = StoreWriter(path, TAPS, ["a", "b"], provenance(), size=4)
    w.__enter__()
    w.append(features(2))
    w._drain()  # the chunk written (a write in flight would recreate the temporary folder)
    w.tmp.rename(path)  # as if something had renamed a store that was never finished
    with pytest.raises(StoreError, match="incomplete"):
        read_provenance(path)


def test_float16_overflow_and_nan_are_errors(tmp_path):
    big = features(2)
    big["high"][0, 0, 0, 0] = 1e8
    with pytest.raises(StoreError, match="features.dtype: float32"):
        with StoreWriter(tmp_path / "a.zarr", TAPS, ["a", "b"], provenance(), size=4) as w:
            w.append(big)
    with StoreWriter(tmp_path / "b.zarr", TAPS, ["a", "b"], provenance(), size=4, dtype="float32") as w:
        w.append(big)  # float32 holds it
    assert StoreReader(tmp_path / "b.zarr").read(0, 1).max() == pytest.approx(1e8)
    bad = features(2)
    bad["low"][1, 0, 0, 0] = np.nan
    with pytest.raises(StoreError, match="NaN"):
        with StoreWriter(tmp_path / "c.zarr", TAPS, ["a", "b"], provenance(), size=4, dtype="float32") as w:
            w.append(bad)
    assert not (tmp_path / "a.zarr").exists() and not (tmp_path / "c.zarr").exists()


def test_xarray_and_dask_open_the_store(tmp_path):
    write(tmp_path / "s.zarr")
    ds = xr.open_zarr(tmp_path / "s.zarr")
    assert ds["low"].dims == ("image", "low_channel", "y", "x")
    assert ds["high"].dims == ("image", "high_channel", "y", "x")
    assert list(ds["image"].values[:2]) == ["img0", "img1"]
    assert float(ds["low"].astype("float32").mean()) == pytest.approx(4.5)
    assert ds.attrs["posenc"]["arch"] == "toy"


def test_describe_store_lists_taps_and_ratio(tmp_path):
    write(tmp_path / "s.zarr")
    text = describe_store(tmp_path / "s.zarr")
    assert (
        "low" in text and "(10, 3, 4, 4)" in text and "compression ratio" in text and "weights_sha256" in text
    )


# ---- stores that prove their content ----
def _chunk_file(store, tap, k):
    return store / tap / "c" / str(k) / "0" / "0" / "0"


def test_a_chunk_equal_to_the_fill_value_is_written_and_every_chunk_carries_a_checksum(tmp_path):
    store = tmp_path / "s.zarr"
    names = [f"img{i}" for i in range(8)]
    with StoreWriter(store, TAPS, names, provenance(), size=4, chunk_mb=(3 * 4 * 4 * 2) * 4 / 2**20) as w:
        w.append({"low": np.zeros((8, 2, 4, 4), np.float32), "high": np.zeros((8, 3, 4, 4), np.float32)})
    assert all(_chunk_file(store, tap, k).is_file() for tap in ("low", "high") for k in (0, 1))
    codecs = [c["name"] for c in json.loads((store / "low" / "zarr.json").read_text())["codecs"]]
    assert codecs[-1] == "crc32c"
    assert missing_chunks(store) == [] and damaged_chunks(store) == []


def test_a_lost_chunk_file_is_refused_when_opened_never_read_as_zeros(tmp_path):
    store = tmp_path / "s.zarr"
    write(store)
    _chunk_file(store, "high", 1).unlink()
    assert missing_chunks(store) == ["high chunk 1 (images 4..7)"]
    with pytest.raises(StoreError, match=r"lost chunk files \(high chunk 1 \(images 4\.\.7\)\).*rebuild"):
        StoreReader(store, taps=["low"])  # whichever taps a reader asks for: the store is not whole


@pytest.mark.parametrize("where", ["middle", "header"])
def test_a_flipped_byte_is_an_error_naming_the_store_tap_chunk_and_images(tmp_path, where):
    store = tmp_path / "s.zarr"
    write(store)
    chunk = _chunk_file(store, "low", 2)
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2 if where == "middle" else 2] ^= 0xFF
    chunk.write_bytes(bytes(data))
    reader = StoreReader(store)
    np.testing.assert_array_equal(reader.read(0, 8)[:, :2], features(8)["low"])  # the other chunks read
    with pytest.raises(StoreError) as err:
        reader.read(4, 10)
    assert f"feature store {store}: tap low, chunk 2 (images 8..9: img8 ... img9)" in str(err.value)
    assert "rebuild the store" in str(err.value)
    assert damaged_chunks(store)[0].startswith("low chunk 2 (images 8..9): ")


def test_a_store_of_the_older_format_is_refused_with_the_rebuild(tmp_path):
    store = tmp_path / "s.zarr"
    write(store)
    meta = json.loads((store / "zarr.json").read_text())
    meta["attributes"]["posenc"]["store_format"] = 1
    (store / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(StoreError, match="older posenc .*without chunk checksums"):
        StoreReader(store)
