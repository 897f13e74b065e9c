"""Workflow jobs: an actionable error ends the job with its message only; a bug keeps its traceback."""

import errno
import os

import pytest

from posenc.images.download import DownloadError
from posenc.runtime import job


def test_actionable_error_prints_the_message_and_exits_1(tmp_path, capsys):
    log = tmp_path / "job.log"
    with pytest.raises(SystemExit) as ended:
        with job(log, threads=1):
            raise DownloadError("could not download X: place it at Y")
    assert ended.value.code == 1
    err = capsys.readouterr().err
    assert "posenc: DownloadError: could not download X: place it at Y" in err
    assert "Traceback" not in err
    text = log.read_text()
    assert "posenc: DownloadError: could not download X" in text and "Traceback" not in text


def test_other_errors_keep_their_traceback(tmp_path, capsys):
    with pytest.raises(ZeroDivisionError):
        with job(tmp_path / "job.log", threads=1):
            _ = 1 / 0
    assert "Traceback" in capsys.readouterr().err
    assert "ZeroDivisionError" in (tmp_path / "job.log").read_text()


@pytest.mark.parametrize(
    "code,words",
    [
        (
            errno.ENOSPC,
            "No space left on device writing /data/run/x.zarr: free space there (`df -h /data/run`",
        ),
        (errno.EACCES, "Permission denied writing /data/run/x.zarr: make /data/run writable for you"),
    ],
)
def test_a_full_disk_or_a_permission_is_one_line(tmp_path, capsys, code, words):
    with pytest.raises(SystemExit) as ended:
        with job(tmp_path / "job.log"):
            try:
                raise OSError(code, os.strerror(code), "/data/run/x.zarr")
            except OSError as err:
                raise RuntimeError("the writer failed") from err  # as libraries wrap it
    assert ended.value.code == 1
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1


def test_a_full_disk_deep_in_a_library_names_the_results_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        with job(tmp_path / "job.log"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # no file name, as a codec's write
    err = capsys.readouterr().err
    assert (
        f"No space left on device writing {tmp_path}/results: free space there (`df -h {tmp_path}/results`"
        in err
    )


def test_a_store_writer_failing_while_it_creates_its_arrays_leaves_no_temporary(tmp_path, monkeypatch):
    import zarr.core.group

    from posenc.features.store import StoreWriter
    from tests.helpers import TAPS, provenance

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(zarr.core.group.Group, "create_array", full_disk)
    with pytest.raises(OSError, match="No space left"):
        with StoreWriter(tmp_path / "s.zarr", TAPS, ["a", "b"], provenance(), size=4):
            pass
    assert list(tmp_path.iterdir()) == []
