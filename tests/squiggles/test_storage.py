import pytest

from squiggles.storage import ensure_writable_dir


def test_a_missing_directory_is_made_and_returned_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    made = ensure_writable_dir("a/b", "the test output")
    assert made.is_absolute() and made == tmp_path / "a" / "b" and made.is_dir()
    assert list(made.iterdir()) == []  # the write probe is removed


def test_an_unwritable_directory_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(PermissionError, match=r"cannot write the test output to .*a_file/out"):
        ensure_writable_dir(blocker / "out", "the test output")
