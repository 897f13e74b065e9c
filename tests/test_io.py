import os

from posenc.io import atomic_write_text, is_stale_temporary


def test_a_write_removes_what_killed_writers_of_the_same_file_left(tmp_path):
    dead = 2**22 + 12345  # above the kernel's default pid_max: no such process
    assert not os.path.exists(f"/proc/{dead}")
    left = tmp_path / f"table.csv.tmp-{dead}"
    left.write_text("half a table")
    alive = tmp_path / f"table.csv.tmp-{os.getppid()}"  # another writer, still running: left alone
    alive.write_text("being written")
    other = tmp_path / f"other.csv.tmp-{dead}"
    other.write_text("another file's")
    assert is_stale_temporary(left) and not is_stale_temporary(tmp_path / "table.csv")
    atomic_write_text(tmp_path / "table.csv", "a,b\n")
    assert (tmp_path / "table.csv").read_text() == "a,b\n"
    assert not left.exists() and other.exists() and alive.exists()
