"""What git keeps out of the repository: the files the README's commands write into it."""

import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def ignored(path: str) -> bool:
    """Whether git ignores `path` (relative to the repository root)."""
    result = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False)
    assert result.returncode in (0, 1), f"git check-ignore failed on {path}"
    return result.returncode == 0


@pytest.mark.skipif(
    not (ROOT / ".git").exists() or shutil.which("git") is None, reason="not a git checkout"
)
def test_the_preview_the_readme_writes_is_ignored_but_the_docs_previews_are_not():
    readme = (ROOT / "README.md").read_text()
    assert "python -m squiggles.preview --out preview.png" in readme  # at the root
    assert ignored("preview.png")
    assert not ignored("docs/preview_taylor.png") and not ignored("docs/preview_sine_net.png")


# Words about how the project was built rather than what it is: a reader has no use
# for them ("no GPU machine was lent", "not on this machine's package index").
NOT_THE_PROJECTS = ("can_start_another", "package index", " lent", "this machine")


def test_the_readme_and_docs_speak_of_the_project_only():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found = [
        f"{page.relative_to(ROOT)}: {word.strip()!r}"
        for page in pages
        for word in NOT_THE_PROJECTS
        if word in page.read_text().lower()
    ]
    assert not found, found
