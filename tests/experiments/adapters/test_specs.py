"""Model specs: a training run, a JAX function and a PyTorch function each load as the
model itself, with a fingerprint of its weights; every bad spec is named."""

import importlib.util
import pathlib
import sys

import jax
import numpy as np
import pytest

from experiments.adapters import specs
from experiments.classifier import Classifier
from experiments.runs.fingerprint import model_fingerprint
from experiments.training import trained_run

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[2]
JAX_MODELS = HERE / "jax_models.py"


def _module_of(path: pathlib.Path):
    found = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(found)
    found.loader.exec_module(module)
    return module


jax_models = _module_of(JAX_MODELS)


def jax_spec(function: str) -> str:
    return f"{JAX_MODELS}:{function}"


def some_images(resolution: int, count: int = 4) -> np.ndarray:
    return np.random.default_rng(0).random((count, resolution, resolution), dtype=np.float32)


# ---------------------------------------------------------------- training runs


def test_a_training_run_loads_as_its_trained_run_classifier(cpu_taylor_state, monkeypatch):
    monkeypatch.chdir(ROOT)
    loaded = specs.load("models/cpu_taylor")
    assert (loaded.kind, loaded.name, loaded.spec) == ("workdir", "cpu_taylor", "models/cpu_taylor")
    assert loaded.workdir == str(ROOT / "models" / "cpu_taylor")
    assert loaded.fingerprint == model_fingerprint(cpu_taylor_state)
    images = some_images(60)
    np.testing.assert_allclose(
        np.asarray(loaded.classifier(images)),
        np.asarray(trained_run.classifier(cpu_taylor_state)(images)),
        rtol=1e-6,
        atol=1e-6,
    )
    assert specs.load("models/cpu_taylor").fingerprint == loaded.fingerprint
    with pytest.raises(ValueError, match="trained on images of resolution 60, not 120"):
        specs.load("models/cpu_taylor", resolution=120)


def test_a_directory_that_is_not_a_training_run_is_named(tmp_path):
    with pytest.raises(ValueError, match="is a directory but not a training run .*no config"):
        specs.load(str(tmp_path))


# ---------------------------------------------------------------- JAX functions


@pytest.mark.parametrize("function", ["pair", "partial", "classifier", "plain"])
def test_each_kind_of_jax_model_gives_the_models_own_logits(function):
    loaded = specs.load(jax_spec(function), resolution=jax_models.RESOLUTION)
    assert isinstance(loaded.classifier, Classifier)
    assert (loaded.kind, loaded.name, loaded.workdir) == ("jax", f"jax_models:{function}", None)
    images = some_images(jax_models.RESOLUTION)
    expected = jax_models.apply({"w": jax_models.weights(0), "b": 0.5}, images)
    np.testing.assert_allclose(np.asarray(loaded.classifier(images)), expected, rtol=1e-6)


def test_the_parameters_of_a_pair_are_leaves_not_constants():
    loaded = specs.load(jax_spec("pair"), resolution=jax_models.RESOLUTION)
    leaves = jax.tree_util.tree_leaves(loaded.classifier)
    assert sorted(np.shape(leaf) for leaf in leaves) == [(), (8, 8)]


@pytest.mark.parametrize("same, other", [("pair", "other_pair"), ("plain", "plain_other")])
def test_jax_fingerprints_follow_the_weights(same, other):
    first = specs.load(jax_spec(same), resolution=jax_models.RESOLUTION).fingerprint
    again = specs.load(jax_spec(same), resolution=jax_models.RESOLUTION).fingerprint
    changed = specs.load(jax_spec(other), resolution=jax_models.RESOLUTION).fingerprint
    assert first == again and first != changed and len(first) == 64


def test_a_module_is_imported_by_name_from_the_current_directory(tmp_path, monkeypatch):
    (tmp_path / "my_squiggles_model_for_specs.py").write_text(JAX_MODELS.read_text())
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "my_squiggles_model_for_specs", raising=False)
    loaded = specs.load("my_squiggles_model_for_specs:pair", resolution=jax_models.RESOLUTION)
    file_loaded = specs.load(jax_spec("pair"), resolution=jax_models.RESOLUTION)
    assert loaded.name == "my_squiggles_model_for_specs:pair"
    assert loaded.fingerprint == file_loaded.fingerprint
    assert str(tmp_path) not in sys.path  # the current directory was only added to import


# ---------------------------------------------------------------- PyTorch modules


def test_the_torch_example_loads_with_its_own_logits_and_a_stable_fingerprint(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.chdir(ROOT)
    loaded = specs.load("torch:examples.torch_cnn:model")
    assert (loaded.kind, loaded.name, loaded.workdir) == ("torch", "torch_cnn:model", None)
    network = sys.modules["examples.torch_cnn"].model()
    images = some_images(60)
    with torch.no_grad():
        expected = network(torch.tensor(images)[:, None]).numpy()
    np.testing.assert_allclose(np.asarray(loaded.classifier(images)), expected, atol=1e-5)
    by_path = specs.load("torch:examples/torch_cnn.py:model")
    assert by_path.fingerprint == loaded.fingerprint and by_path.name == "torch_cnn:model"
    assert specs.torch_fingerprint(network) == loaded.fingerprint
    with torch.no_grad():
        network.head.bias.add_(1e-3)
    assert specs.torch_fingerprint(network) != loaded.fingerprint


def test_a_torch_spec_must_return_a_module():
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match="returned function .*expects a function returning a"):
        specs.load(f"torch:{jax_spec('plain')}")


def test_a_torch_spec_without_torch_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    with pytest.raises(ModuleNotFoundError, match=r"pip install -e \"\.\[torch\]\""):
        specs.load("torch:examples.torch_cnn:model")


# ---------------------------------------------------------------- bad specs


@pytest.mark.parametrize(
    "spec, message",
    [
        ("", "must be a non-empty string"),
        ("no/such/run", "neither a directory nor module:function"),
        ("no_such_module_for_specs:model", "no module named 'no_such_module_for_specs'"),
        ("experiments.no_such_module:model", "no module named 'experiments.no_such_module'"),
        ("no/such/file.py:model", "no Python file no/such/file.py"),
        (":model", "must name module:function"),
        ("experiments.classifier:no_such_function", "has no function 'no_such_function' .*"
         "as_classifier"),
        (jax_spec("not_a_function"), "is int 3, not a function"),
        (jax_spec("a_number"), "returned int 42; expected a Classifier"),
        (jax_spec("two_functions"), "returned a pair whose second item is not parameters"),
        (jax_spec("three_logits"), r"must return float logits \(N, 2\) = \(2, 2\).*\(2, 3\)"),
    ],
)  # fmt: skip
def test_a_bad_spec_is_named_with_what_is_expected(spec, message):
    with pytest.raises(ValueError, match=message):
        specs.load(spec, resolution=jax_models.RESOLUTION)


def test_a_jax_spec_returning_a_torch_module_is_pointed_to_torch():
    pytest.importorskip("torch")
    with pytest.raises(
        ValueError, match="returned a torch.nn.Module: name it with the spec torch:"
    ):
        specs.load(jax_spec("torch_module"))


def test_a_file_is_not_a_training_run(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"")
    with pytest.raises(ValueError, match="is a file, not a directory"):
        specs.load(str(tmp_path / "model.pt"))


def test_torch_is_imported_only_inside_functions_and_the_package_names_its_parts():
    """The package works without the `torch` extra: no module of it imports torch when it
    is imported (only functions that wrap or load a PyTorch model do)."""
    import ast

    from experiments import adapters

    for path in sorted((ROOT / "experiments" / "adapters").glob("*.py")):
        tree = ast.parse(path.read_text())
        top = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
        names = {alias.name for node in top for alias in node.names}
        names |= {node.module for node in top if isinstance(node, ast.ImportFrom)}
        assert not {name for name in names if name and name.split(".")[0] == "torch"}, path
    assert adapters.load is specs.load and adapters.LoadedModel is specs.LoadedModel
    assert adapters.check_conventions.__module__ == "experiments.adapters.conventions"
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        adapters.nothing  # noqa: B018
