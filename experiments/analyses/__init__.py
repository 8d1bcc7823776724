"""The analyses a run can compute, one module each, found by name.

An analysis module `experiments.analyses.<name>` defines:
  RESULTS            the typed results class (`experiments.results`) its chunks load into;
  PER_EPSILON        names of its arrays that hold examples on axis 1 (one row per ε);
  default_settings() its settings, with the paper's values (a ConfigDict);
  check(settings)    a ValueError naming any bad setting and the expected value;
  compute(context, examples) -> dict of arrays for one chunk of test examples, with
                     `index` (their test indices);
  summarise(results, context) -> dict for summary.json, table(results, context) -> CSV rows.
Optional: KEY_STREAM (its random stream number), models(settings) -> {role: workdir}
(other models to load, e.g. a navigator), SHARED (arrays the same in every chunk, such as
its grid; default `epsilon`), SUMMARY_SETTINGS (settings that change only the
summary, not the chunks), ADDED_SETTINGS ({setting: the value runs made before it
existed used}: left out of the identity at that value), check_inputs(context) (checks
before any work).
Adding an analysis is adding a module here and its settings to a config in
`experiments/configs/analyses/`.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

_HELPERS = {"common"}  # modules of this package that are not analyses


def names() -> list[str]:
    """Every analysis available."""
    return sorted(
        module.name for module in pkgutil.iter_modules(__path__) if module.name not in _HELPERS
    )


def load(name: str) -> ModuleType:
    """The module of the analysis `name`, or an error listing the available ones."""
    if not isinstance(name, str) or name not in names():
        raise ValueError(f"unknown analysis {name!r}; expected one of {names()}")
    return importlib.import_module(f"{__name__}.{name}")
