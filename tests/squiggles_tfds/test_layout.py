"""The layout of `squiggles_tfds`: a folder per dataset, as TFDS lays out its own
(`tensorflow_datasets/datasets/<name>/`), the shared modules at the top, and
`import squiggles` meaning the generator package everywhere."""

import importlib
import inspect
import pathlib
import pkgutil
import subprocess
import sys

import pytest

import squiggles
import squiggles_tfds

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "squiggles_tfds"
BUILDERS = {"squiggles": squiggles_tfds.Builder, "squiggles_c": squiggles_tfds.squiggles_c.Builder}
# What `tfds new` makes beside the builder, and TFDS reads from the builder's folder.
METADATA = {"README.md", "CITATIONS.bib", "TAGS.txt", "checksums.tsv", "dummy_data/README.md"}


def _files(folder: pathlib.Path) -> set[str]:
    return {
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_each_dataset_folder_holds_its_builder_modules_and_metadata(name):
    modules = {"__init__.py", "configs.py", "generation.py", f"{name}_dataset_builder.py"}
    assert _files(PACKAGE / name) == modules | METADATA


@pytest.mark.parametrize("name, builder", sorted(BUILDERS.items()))
def test_each_builder_is_its_folders_dataset_builder_and_reads_its_metadata(name, builder):
    path = pathlib.Path(inspect.getfile(builder))
    assert path == PACKAGE / name / f"{name}_dataset_builder.py"
    assert builder.name == name and builder.METADATA_DIR == path.parent
    metadata = builder.get_metadata()
    assert metadata.description == (path.parent / "README.md").read_text()
    assert metadata.citation == (path.parent / "CITATIONS.bib").read_text()
    assert metadata.tags == [
        "content.data-type.image", "content.subject.computer-science",
        "ml.task.image-classification",
    ]  # fmt: skip
    assert builder.url_infos == {}  # checksums.tsv: nothing is downloaded


def test_import_squiggles_means_the_generator_package_in_every_module():
    core = ROOT / "squiggles" / "__init__.py"
    assert pathlib.Path(squiggles.__file__) == core
    names = [m.name for m in pkgutil.walk_packages(squiggles_tfds.__path__, "squiggles_tfds.")]
    assert {"squiggles_tfds.squiggles.configs", "squiggles_tfds.squiggles.generation"} <= set(names)
    for name in names:
        module = importlib.import_module(name)
        imported = getattr(module, "squiggles", None)
        if inspect.ismodule(imported):
            assert imported is squiggles, f"{name}.squiggles is {imported.__name__}"
    # The one `squiggles` attribute that is the dataset folder: the package's own.
    assert squiggles_tfds.squiggles.__name__ == "squiggles_tfds.squiggles"
    assert squiggles_tfds.squiggles.Builder is squiggles_tfds.Builder


def test_the_dataset_folder_refuses_to_stand_in_for_the_generator_package():
    # A module of squiggles_tfds run by its path puts squiggles_tfds/ first on sys.path.
    script = f"import sys; sys.path.insert(0, {str(PACKAGE)!r}); import squiggles"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"ImportError: {PACKAGE / 'squiggles' / '__init__.py'} was imported as 'squiggles', "
        "which would hide the generator package `squiggles`: it is squiggles_tfds.squiggles; "
        "run modules of squiggles_tfds as python -m squiggles_tfds.<module>"
    )
