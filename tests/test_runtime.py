"""Workflow jobs: an actionable error ends the job with its message only; a bug keeps its traceback."""

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
