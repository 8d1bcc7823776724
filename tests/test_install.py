"""The TensorFlow-free core install: setup.cfg keeps TensorFlow, TFDS, Beam and
mlcroissant in the `tfds` extra, the JAX path imports none of them, and what needs
them names the extra when it is missing."""

import configparser
import importlib.machinery
import pathlib
import re
import shutil
import subprocess
import sys
import types
import zipfile

import pytest

from experiments.configs import tiny
from experiments.evaluation import clean_report
from experiments.training import trainer
from squiggles import Taylor, tfds_extra

ROOT = pathlib.Path(__file__).resolve().parents[1]
TFDS_DISTRIBUTIONS = {"tensorflow", "tensorflow-datasets", "apache-beam", "mlcroissant"}
TFDS_MODULES = ("tensorflow", "tensorflow_datasets", "apache_beam", "mlcroissant", "squiggles_tfds")
EXTRA = 'pip install -e ".[tfds]"'


def _requirements(text: str) -> dict[str, str]:
    """{distribution name: full requirement} of a setup.cfg requirement list."""
    lines = [line.strip() for line in text.splitlines()]
    wanted = [line for line in lines if line and not line.startswith("#")]
    return {re.split(r"[\[<>=!~;\s]", line)[0].lower().replace("_", "-"): line for line in wanted}


def _setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    return parser


def test_the_core_requires_no_tensorflow_and_the_tfds_extra_holds_it():
    setup = _setup_cfg()
    core = _requirements(setup["options"]["install_requires"])
    extras = {name: _requirements(text) for name, text in setup["options.extras_require"].items()}
    assert not TFDS_DISTRIBUTIONS & set(core), sorted(TFDS_DISTRIBUTIONS & set(core))
    assert TFDS_DISTRIBUTIONS | {"importlib-resources"} <= set(extras["tfds"])
    # `test` (what CI installs) holds the whole `tfds` extra, with the same bounds.
    assert {name: extras["test"].get(name) for name in extras["tfds"]} == extras["tfds"]
    assert (
        "tensorboard" in core
    )  # event files without TensorFlow (experiments/training/metrics_log.py)


def test_the_readme_installs_the_tfds_extra_and_ci_runs_its_test_command():
    readme = (ROOT / "README.md").read_text()
    setup_block = readme.split("## Set-up", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in setup_block.splitlines() if line.startswith("pip install")]
    # `--imports`: in the repository root the folder `squiggles/` is the generator, not
    # a dataset folder for TFDS to load (tests/squiggles_tfds/test_tfds_command.py runs it).
    assert commands[0].startswith(f"{EXTRA} && tfds build squiggles --imports squiggles_tfds && ")
    assert commands[1] == 'pip install -e ".[test]" && python -m pytest', commands
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert commands[1] in ci


def _imports(modules: list[str]) -> str:
    """A script importing `modules`; binaries one after another, each one's absl flags
    removed before the next defines its own."""
    return "\n".join(
        [
            "import importlib, sys",
            "from absl import flags",
            "for name in " + repr(modules) + ":",
            "    before = set(flags.FLAGS)",
            "    importlib.import_module(name)",
            "    for flag in set(flags.FLAGS) - before:",
            "        delattr(flags.FLAGS, flag)",
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(TFDS_MODULES)!r}))",
        ]
    )


def _jax_path_modules() -> list[str]:
    """squiggles and every module of experiments/ (binaries, analyses, drawing, configs)."""
    paths = sorted((ROOT / "squiggles").rglob("*.py")) + sorted(
        (ROOT / "experiments").rglob("*.py")
    )
    names = [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in paths]
    return [name.removesuffix(".__init__") for name in names]


def test_the_jax_path_imports_no_tensorflow_tfds_beam_or_croissant():
    modules = _jax_path_modules()
    assert {"squiggles.corruptions", "experiments.training.trainer", "experiments.figures"} <= set(
        modules
    )
    done = subprocess.run(
        [sys.executable, "-c", _imports(modules)], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def _pretend(monkeypatch, installed: bool) -> None:
    """As if the `tfds` extra were installed, or not (importing its modules fails)."""
    for name in tfds_extra.MODULES:
        module = None
        if installed:
            module = types.ModuleType(name)
            module.__spec__ = importlib.machinery.ModuleSpec(name, None)
        monkeypatch.setitem(sys.modules, name, module)


def test_the_extra_is_found_when_installed(monkeypatch):
    _pretend(monkeypatch, installed=True)
    assert tfds_extra.missing_modules() == []
    tfds_extra.require("squiggles_tfds")  # no error


def test_the_extra_is_named_when_missing(monkeypatch):
    _pretend(monkeypatch, installed=False)
    assert tfds_extra.missing_modules() == ["tensorflow", "tensorflow_datasets"]
    with pytest.raises(ModuleNotFoundError) as raised:
        tfds_extra.require("squiggles_tfds")
    assert str(raised.value) == (
        "squiggles_tfds needs TensorFlow Datasets, which is not installed (no module "
        f"tensorflow, tensorflow_datasets): install the extra with {EXTRA}"
    )


def test_training_and_evaluation_from_tfds_name_the_extra_when_it_is_missing(monkeypatch):
    config = tiny.get_config()
    config.data.source = "tfds"
    _pretend(monkeypatch, installed=False)
    with pytest.raises(ValueError, match="^data.source=tfds needs TensorFlow Datasets"):
        trainer.check_config(config)
    with pytest.raises(ValueError, match=re.escape(f"install the extra with {EXTRA}")):
        clean_report.test_batches(config, Taylor(), 8, "tfds")


@pytest.mark.e2e
def test_without_tfds_the_package_and_the_training_binary_name_the_extra(tmp_path):
    workdir = tmp_path / "run"
    script = "\n".join(
        [
            "import runpy, sys",
            "sys.modules.update(tensorflow=None, tensorflow_datasets=None)",
            "try:",
            "    import squiggles_tfds",
            "except ModuleNotFoundError as error:",
            "    print(error, flush=True)",
            "sys.argv = ['train', '--config', 'experiments/configs/tiny.py',",
            f"            '--config.data.source=tfds', '--workdir', {str(workdir)!r}]",
            "runpy.run_module('experiments.train', run_name='__main__')",
        ]
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.stdout.strip() == (
        "squiggles_tfds needs TensorFlow Datasets, which is not installed (no module "
        f"tensorflow, tensorflow_datasets): install the extra with {EXTRA}"
    )
    assert done.returncode == 1, done.stderr[-3000:]
    assert done.stderr.strip().splitlines()[-1] == (
        "error: data.source=tfds needs TensorFlow Datasets, which is not installed (no module "
        f"tensorflow, tensorflow_datasets): install the extra with {EXTRA}"
    )
    assert not workdir.exists()  # refused before writing anything


def _package_files(package: str) -> set[str]:
    """The files of a package folder, as a wheel names them."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.mark.e2e
def test_a_built_wheel_carries_every_file_of_the_tfds_datasets(tmp_path):
    # What a non-editable install holds: beside each builder, the README, CITATIONS.bib,
    # TAGS.txt, checksums.tsv and dummy data that TFDS reads from the builder's folder.
    source = tmp_path / "source"
    for package in ("squiggles", "squiggles_tfds"):
        shutil.copytree(
            ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--quiet", "--wheel-dir", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    files = set(zipfile.ZipFile(wheel).namelist())
    expected = _package_files("squiggles_tfds")
    for name in ("squiggles", "squiggles_c"):
        assert f"squiggles_tfds/{name}/dummy_data/README.md" in expected
    assert {f for f in files if f.startswith("squiggles_tfds/")} == expected
    assert {f for f in files if f.startswith("squiggles/") and f.endswith(".py")} == {
        f for f in _package_files("squiggles") if f.endswith(".py")
    }
