import os

import pytest

from posenc.stamps import stamp_path, write_stamp


def mtime(path):
    return os.stat(path).st_mtime


def test_a_stamp_changes_only_with_the_settings(tmp_path):
    path = tmp_path / "s" / "job.json"
    write_stamp(path, {"seed": 1, "lr": 0.1})
    assert mtime(path) == 0  # first record: dated 1970, reruns nothing by itself
    os.utime(path, (100, 100))
    write_stamp(path, {"lr": 0.1, "seed": 1})  # same settings, any key order: untouched
    assert mtime(path) == 100
    write_stamp(path, {"seed": 2, "lr": 0.1})  # a change: dated now, the job reruns
    assert mtime(path) > 1e9 and '"seed": 2' in path.read_text()


def test_an_output_that_no_longer_fits_gives_the_stamp_new_content(tmp_path):
    # new content, not only a new date: Snakemake skips a newer input whose checksum it has recorded
    path = tmp_path / "job.json"
    write_stamp(path, {"a": 1}, output_current=lambda: False)  # new, but the output is known stale
    first = path.read_text()
    assert mtime(path) > 1e9 and '"rebuild"' in first
    os.utime(path, (100, 100))
    write_stamp(path, {"a": 1}, output_current=lambda: True)  # rebuilt: the mark stays, nothing changes
    assert mtime(path) == 100 and path.read_text() == first
    write_stamp(path, {"a": 1}, output_current=lambda: False)  # stale again: another mark
    assert mtime(path) > 1e9 and path.read_text() != first
    asked = []
    write_stamp(path, {"a": 2}, output_current=lambda: asked.append(1) or True)
    assert asked == [] and '"rebuild"' not in path.read_text()  # changed settings rerun it anyway


def test_stamp_paths_follow_the_job_wildcards():
    assert stamp_path("train_readout", "vgg", "L1-k3-p0-all", "0") == (
        "results/.stamps/train_readout/vgg/L1-k3-p0-all/0/stamp.json"
    )
    assert stamp_path("collect_metrics") == "results/.stamps/collect_metrics/stamp.json"
    assert stamp_path("prepare_image_set", "lomiri-wallpapers-16.04").endswith("16.04/stamp.json")


def test_a_read_only_results_folder_is_one_line_naming_it_while_planning(tmp_path, monkeypatch):
    import errno
    import os

    import posenc.stamps as stamps
    from posenc.errors import ActionableError

    def read_only(path, text):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(stamps, "atomic_write_text", read_only)
    target = tmp_path / "results" / ".stamps" / "rule" / "job.json"
    with pytest.raises(ActionableError) as err:
        stamps.write_stamp(target, {"a": 1})
    assert str(err.value) == (
        f"Read-only file system writing {target}: run the workflow from a writable folder"
    )
