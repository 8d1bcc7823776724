"""A model named by one string (a model SPEC), as the library's Classifier.

    models/cpu_taylor                    a training run of `experiments.train`
    my_models.cnn:make                   make() returns a JAX model
    path/to/file.py:make                 the same, from a file
    torch:examples.torch_cnn:model       model() returns a torch.nn.Module
    torch:path/to/file.py:model

A JAX model is a `Classifier`, a `jax.tree_util.Partial`, a plain callable images →
logits, or a pair `(apply_fn, params)` meaning `apply_fn(params, images)` (made a Partial,
so the parameters are arguments of the compiled programs, not constants in them). The
loaded model carries a fingerprint of its weights, which a run directory records so that
it never mixes the results of two models.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from typing import Any, NamedTuple

import jax
import numpy as np

from experiments.adapters import torch_model
from experiments.adapters.conventions import check_shapes
from experiments.classifier import Classifier, as_classifier
from experiments.runs.fingerprint import model_fingerprint, tree_fingerprint
from experiments.training import trained_run, trainer
from squiggles.rendering import RESOLUTION, check_resolution

KINDS = ("workdir", "jax", "torch")
EXPECTED = (
    "expected a training run directory of experiments.train (e.g. models/cpu_taylor), "
    "module:function or path/to/file.py:function (a function returning a JAX model), or "
    "torch:module:function (a function returning a torch.nn.Module)"
)
JAX_MODELS = (
    "a Classifier, a jax.tree_util.Partial, a callable images (N, R, R) -> logits (N, 2), "
    "or a pair (apply_fn, params) meaning apply_fn(params, images)"
)


class LoadedModel(NamedTuple):
    """A model made from a spec: the Classifier, how it was named and made, a short name
    for people, the fingerprint of its weights, and its training run (workdirs only)."""

    classifier: Classifier
    spec: str
    kind: str  # one of KINDS
    name: str
    fingerprint: str
    workdir: str | None = None


def load(spec: str, *, resolution: int = RESOLUTION) -> LoadedModel:
    """The model named by `spec` (see the module docstring) as a Classifier of images
    (N, resolution, resolution), checked to return logits (N, 2) for them."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"a model spec must be a non-empty string ({EXPECTED}), got {spec!r}")
    resolution = check_resolution(resolution)
    if spec.startswith("torch:"):
        loaded = _load_torch(spec)
    elif os.path.isdir(spec):
        loaded = _load_workdir(spec, resolution)
    elif ":" in spec:
        loaded = _load_jax(spec)
    elif os.path.exists(spec):
        raise ValueError(f"model spec {spec!r} is a file, not a directory: {EXPECTED}")
    else:
        raise ValueError(
            f"model spec {spec!r} is neither a directory nor module:function: {EXPECTED}"
        )
    check_shapes(loaded.classifier, resolution, source=f"the model {spec!r}")
    return loaded


# ---------------------------------------------------------------- training runs


def _load_workdir(spec: str, resolution: int) -> LoadedModel:
    if not os.path.isfile(os.path.join(spec, "config.json")):
        raise ValueError(
            f"model spec {spec!r} is a directory but not a training run of experiments.train "
            f"(it has no config.json): {EXPECTED}"
        )
    trained = trainer.read_config(spec).resolution  # before the (slower) restore
    if trained != resolution:
        raise ValueError(
            f"the training run {spec} was trained on images of resolution {trained}, not "
            f"{resolution}: ask for resolution {trained}"
        )
    state, _ = trained_run.load_run(spec)
    workdir = os.path.abspath(spec)
    return LoadedModel(
        classifier=trained_run.classifier(state),
        spec=spec,
        kind="workdir",
        name=os.path.basename(os.path.normpath(workdir)),
        fingerprint=model_fingerprint(state),
        workdir=workdir,
    )


# ---------------------------------------------------------------- JAX functions


def _load_jax(spec: str) -> LoadedModel:
    made = _call(spec, spec)
    classifier = jax_classifier(made, spec)
    return LoadedModel(classifier, spec, "jax", _display_name(spec), jax_fingerprint(classifier))


def jax_classifier(made: Any, spec: str = "the model function") -> Classifier:
    """What a model function returned, as a Classifier (see JAX_MODELS)."""
    if isinstance(made, (Classifier, jax.tree_util.Partial)):
        return as_classifier(made)
    if _is_torch_module(made):
        raise ValueError(
            f"{spec} returned a torch.nn.Module: name it with the spec torch:{spec} "
            "to wrap it with the PyTorch adapter"
        )
    if "flax.linen" in sys.modules and isinstance(made, sys.modules["flax.linen"].Module):
        raise ValueError(
            f"{spec} returned a flax Module, which holds no weights: return "
            "(module.apply, variables), a pair (apply_fn, params)"
        )
    if isinstance(made, (tuple, list)) and len(made) == 2 and callable(made[0]):
        apply_fn, params = made
        if not all(_is_array(leaf) for leaf in jax.tree_util.tree_leaves(params)):
            raise ValueError(
                f"{spec} returned a pair whose second item is not parameters (a pytree of "
                f"arrays) but {_described(params)}; expected {JAX_MODELS}"
            )
        return Classifier(jax.tree_util.Partial(apply_fn, params))
    if callable(made):
        return as_classifier(made)
    raise ValueError(f"{spec} returned {_described(made)}; expected {JAX_MODELS}")


def jax_fingerprint(classifier: Classifier) -> str:
    """SHA-256 of what makes a JAX model: its function's qualified name, the arrays of its Partial
    (the weights), the arrays its function closes over, and its input range. Weights that
    the function reaches otherwise (a global, an attribute of an object) are not seen:
    give them as Partial arguments or as (apply_fn, params)."""
    function = classifier.logits_fn.func
    closure = [cell.cell_contents for cell in getattr(function, "__closure__", None) or ()]
    captured = [
        leaf
        for leaf in jax.tree_util.tree_leaves(closure)
        if isinstance(leaf, (np.ndarray, jax.Array))
    ]
    header = {
        "function": _function_name(function),
        "input_range": list(classifier.input_range),
    }
    digest = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
    digest.update(tree_fingerprint(classifier.logits_fn).encode())
    digest.update(tree_fingerprint(captured).encode())
    return digest.hexdigest()


def _is_array(leaf: Any) -> bool:
    return isinstance(leaf, (np.ndarray, np.generic, jax.Array, int, float, complex))


def _function_name(function: Any) -> str:
    """The qualified name of a function (or of the class of a callable object), without
    its module: a file's module name depends on where the file is, the weights do not."""
    named = function if hasattr(function, "__qualname__") else type(function)
    return getattr(named, "__qualname__", "?")


# ---------------------------------------------------------------- PyTorch modules


def _load_torch(spec: str) -> LoadedModel:
    target = spec.removeprefix("torch:")
    torch = torch_model.import_torch(f"the model spec {spec!r}")
    made = _call(target, spec)
    if not isinstance(made, torch.nn.Module):
        raise ValueError(
            f"{spec}: the function returned {_described(made)}; a torch: spec expects a "
            "function returning a torch.nn.Module (images (N, 1, R, R) -> logits (N, 2))"
        )
    classifier = torch_model.torch_classifier(made)
    return LoadedModel(classifier, spec, "torch", _display_name(target), torch_fingerprint(made))


def torch_fingerprint(module: Any) -> str:
    """SHA-256 of a module's class and of every tensor of its state_dict (parameters and
    buffers: name, dtype, shape and bytes, in the state_dict's order)."""
    torch = torch_model.import_torch("torch_fingerprint")
    digest = hashlib.sha256(_function_name(module).encode() + b"\n")
    for name, tensor in module.state_dict().items():
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        header = [name, str(tensor.dtype), list(tensor.shape)]
        digest.update(json.dumps(header).encode() + b"\n")
        digest.update(flat.view(dtype=torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _is_torch_module(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.nn.Module)


# ---------------------------------------------------------------- module:function


def _call(target: str, spec: str) -> Any:
    """function() of `target` = module:function or path/to/file.py:function."""
    location, _, name = target.rpartition(":")
    if not location or not name:
        raise ValueError(f"model spec {spec!r} must name module:function: {EXPECTED}")
    module = _import(location, spec)
    if not hasattr(module, name):
        functions = sorted(
            key for key, value in vars(module).items() if callable(value) and key[0] != "_"
        )
        raise ValueError(
            f"model spec {spec!r}: {location} has no function {name!r} (its functions: "
            f"{', '.join(functions) or 'none'})"
        )
    function = getattr(module, name)
    if not callable(function):
        raise ValueError(
            f"model spec {spec!r}: {location}.{name} is {_described(function)}, not a function"
        )
    return function()


def _import(location: str, spec: str) -> Any:
    """A module by dotted name (also from the current directory) or from a .py file."""
    if location.endswith(".py") or os.sep in location or "/" in location:
        return _import_file(location, spec)
    try:
        with _current_directory_importable():
            return importlib.import_module(location)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if location == missing or location.startswith(missing + "."):
            raise ValueError(
                f"model spec {spec!r}: no module named {missing!r} (looked on sys.path and in "
                f"{os.getcwd()}): {EXPECTED}"
            ) from error
        if missing == "torch":
            torch_model.import_torch(f"the module {location} of model spec {spec!r}")
        raise


def _import_file(location: str, spec: str) -> Any:
    path = os.path.abspath(location)
    if not os.path.isfile(path) or not path.endswith(".py"):
        raise ValueError(f"model spec {spec!r}: no Python file {location}: {EXPECTED}")
    name = "_squiggles_model_" + hashlib.sha256(path.encode()).hexdigest()[:16]
    if name in sys.modules:
        return sys.modules[name]
    found = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(found)
    sys.modules[name] = module
    try:
        found.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


@contextlib.contextmanager
def _current_directory_importable() -> Iterator[None]:
    """The current directory on sys.path while importing (as `python -m` has it), so a
    spec such as torch:examples.torch_cnn:model works from the repository root."""
    here = os.getcwd()
    present = any(os.path.abspath(entry or ".") == here for entry in sys.path)
    if not present:
        sys.path.insert(0, here)
    try:
        yield
    finally:
        if not present:
            sys.path.remove(here)


def _display_name(target: str) -> str:
    """module:function shortened to its last module part (file name without .py)."""
    location, _, name = target.rpartition(":")
    stem = os.path.basename(location).removesuffix(".py").rpartition(".")[2]
    return f"{stem}:{name}"


def _described(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '…' if len(text) > 60 else text}"
