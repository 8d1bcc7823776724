"""What git keeps out of the repository: the files the README's commands write into it."""

import ast
import pathlib
import re
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


@pytest.mark.skipif(
    not (ROOT / ".git").exists() or shutil.which("git") is None, reason="not a git checkout"
)
def test_no_source_file_of_the_packages_or_tests_is_ignored():
    # A module git ignores is missing from every clone: CI would fail on an import.
    sources = [
        path.relative_to(ROOT).as_posix()
        for folder in (
            "squiggles",
            "squiggles_tfds",
            "experiments",
            "tests",
            "benchmarks",
            "examples",
        )
        for path in sorted((ROOT / folder).rglob("*.py"))
        if "__pycache__" not in path.parts
    ]
    assert len(sources) > 100
    assert [source for source in sources if ignored(source)] == []


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


def _imported_modules(path: pathlib.Path) -> set[str]:
    """The modules a Python file imports, at its top or inside functions."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            imported.add(node.module)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name in ("import_module", "__import__"):
                imported.add(str(node.args[0].value))
    return imported


def test_the_core_package_never_imports_squiggles_tfds():
    # `squiggles` is the TensorFlow-free core; the TFDS datasets import it, never the reverse,
    # and no TFDS dataset folder (`<name>/<name>_dataset_builder.py`) sits in the repository root.
    files = sorted((ROOT / "squiggles").rglob("*.py"))
    assert len(files) > 20
    found = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in sorted(_imported_modules(path))
        if name.split(".")[0] == "squiggles_tfds"
    ]
    assert not found, found
    assert not list(ROOT.glob("*/*_dataset_builder.py"))


def _code_block_lines(text: str) -> list[str]:
    """The lines inside the ``` fences of a Markdown page."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            inside = not inside
        elif inside:
            lines.append(line)
    return lines


def test_every_documented_tfds_build_command_imports_squiggles_tfds():
    # Without `--imports` TFDS looks for a dataset folder named like the dataset, and in
    # the repository root `squiggles/` is the generator package.
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    commands = {
        f"{page.relative_to(ROOT)}: {line.strip()}"
        for page in pages
        for line in _code_block_lines(page.read_text())
        if re.search(r"tfds build squiggles", line)
    }
    # The datasets' descriptions (their README.md) name the command in running text.
    commands |= {
        f"{page.relative_to(ROOT)}: {line.strip()}"
        for page in sorted((ROOT / "squiggles_tfds").glob("*/README.md"))
        for line in page.read_text().splitlines()
        if re.search(r"tfds build squiggles", line)
    }
    assert sum(command.startswith("README.md: ") for command in commands) >= 1
    assert len(commands) >= 8, commands
    missing = sorted(
        c for c in commands if not re.search(r"tfds build \w+ --imports squiggles_tfds\b", c)
    )
    assert not missing, missing
