"""What an analysis module is, as a typed Protocol: the runner (`experiments.runs.runner`)
computes it chunk by chunk, the store (`experiments.runs.store`) reads its results back.

Required (`Analysis`):
  RESULTS            its typed results class, one of `experiments.results.TYPES`: its
                     chunks load into it, and it says how they join (PER_EPSILON, SHARED);
  default_settings() its settings, with the paper's values (a ConfigDict);
  check(settings)    a ValueError naming any bad setting and the expected value;
  compute(context, examples) -> dict of arrays for one chunk of test examples, with
                     `index` (their test indices);
  summarise(results, context) -> dict for summary.json; table(results, context) -> CSV rows.
Optional (`OPTIONAL`): KEY_STREAM (its random stream number), models(settings) ->
{role: workdir} (other models to load, e.g. a navigator), SUMMARY_SETTINGS (settings that
change only the summary, not the chunks), ADDED_SETTINGS ({setting: the value runs made
before it existed used}: left out of the identity at that value), check_inputs(context)
(checks before any work).

`context` is the runner's `Context`; an analysis imports the store, never the runner.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any, Protocol

import ml_collections
import numpy as np

from experiments import results


class Analysis(Protocol):
    """An analysis module, as the runner sees it."""

    RESULTS: type

    def default_settings(self) -> ml_collections.ConfigDict: ...

    def check(self, settings: ml_collections.ConfigDict) -> None: ...

    def compute(self, context: Any, examples: Any) -> dict[str, np.ndarray]: ...

    def summarise(self, results: Any, context: Any) -> dict: ...

    def table(self, results: Any, context: Any) -> list[dict]: ...


FUNCTIONS = {"default_settings": 0, "check": 1, "compute": 2, "summarise": 2, "table": 2}
REQUIRED = ("RESULTS", *FUNCTIONS)
# Optional members: what each must be when a module defines it.
OPTIONAL: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "KEY_STREAM": ("an integer >= 0", lambda v: isinstance(v, int) and v >= 0),
    "models": ("a function of (settings)", lambda v: _takes(v, 1)),
    "check_inputs": ("a function of (context)", lambda v: _takes(v, 1)),
    "SUMMARY_SETTINGS": ("a tuple of setting names", lambda v: _names(v)),
    "ADDED_SETTINGS": ("a dict {setting: value}", lambda v: isinstance(v, Mapping)),
}


def _takes(value: Any, count: int) -> bool:
    """A function that can be called with `count` positional arguments."""
    if not callable(value):
        return False
    try:
        inspect.signature(value).bind(*range(count))
    except TypeError:
        return False
    return True


def _names(value: Any) -> bool:
    return isinstance(value, tuple) and all(isinstance(v, str) for v in value)


def check_module(module: ModuleType) -> Analysis:
    """`module` as an `Analysis`, or a TypeError naming the module and each member it
    lacks or has wrong."""
    problems = [f"no {name}" for name in REQUIRED if not hasattr(module, name)]
    problems += [
        f"{name} is not a function of {count} arguments"
        for name, count in FUNCTIONS.items()
        if hasattr(module, name) and not _takes(getattr(module, name), count)
    ]
    problems += [
        f"{name} is not {expected}"
        for name, (expected, valid) in OPTIONAL.items()
        if hasattr(module, name) and not valid(getattr(module, name))
    ]
    cls = getattr(module, "RESULTS", None)
    if cls is not None and results.TYPES.get(getattr(cls, "__name__", None)) is not cls:
        problems.append(f"RESULTS is {cls!r}, not one of experiments.results.TYPES")
    elif cls is not None:  # module constants may repeat the layout, never contradict it
        problems += [
            f"{name} {getattr(module, name)} differs from RESULTS.{name} {getattr(cls, name)}"
            for name in ("PER_EPSILON", "SHARED")
            if hasattr(module, name) and tuple(getattr(module, name)) != getattr(cls, name)
        ]
    if problems:
        raise TypeError(
            f"{module.__name__} is not an analysis module ({'; '.join(problems)}); "
            f"see experiments.analyses.contract"
        )
    return module
