"""One call from a model to its report: load the model (any spec of
`experiments.adapters`), check its conventions on labelled examples, run the preset's
analyses as one resumable chunked run, then write the report, its figure and the
leaderboard row."""

from __future__ import annotations

import os
from collections.abc import Callable

from etils import epath

import squiggles
from experiments.adapters import conventions, specs
from experiments.bench import figure, leaderboard, presets
from experiments.bench import report as reports
from experiments.classifier import Classifier
from experiments.runs import runner
from experiments.training import trained_run, trainer

REPOSITORY = epath.Path(__file__).resolve().parents[2]
# The Squiggles-C run of the plain `cpu` model that mCE is measured against (its 2,000
# test examples' results, committed: `experiments.evaluate --corruptions all` on
# models/cpu_taylor, docs/corruptions.md).
BASELINE = REPOSITORY / "bench" / "baseline" / "squiggles_c_cpu_taylor"
DEFAULT_FAMILY = "taylor"


def run(
    model: str | Classifier | Callable, out: str | epath.PathLike, *, preset: str = "quick",
    family: str | None = None, resolution: int | None = None, name: str | None = None,
    leaderboard_path: str | epath.PathLike | None = None,
    baseline: str | epath.PathLike | None = BASELINE, log: runner.Log = runner.log_line,
) -> reports.Report:  # fmt: skip
    """The robustness report of `model` (a spec string, or a Classifier or logits
    function given directly) written into `out` and added to the leaderboard
    (`leaderboard_path`, by default leaderboard.md beside `out`). `family`: the test
    family (default: a training run's own, else taylor); `resolution`: a training run's
    own, else 60. `baseline`: the Squiggles-C run mCE is measured against (None: no mCE).
    Runs again in the same `out` resume; another model or preset there is refused."""
    presets.check_preset(preset)
    loaded = _loaded(model, name, resolution)
    tested, resolution = _family_and_resolution(loaded, family, resolution)
    log(f"checking the conventions of {loaded.spec} on labelled test examples")
    checked = conventions.check_conventions(loaded.classifier, tested, resolution)
    log(f"  {checked.summary()}")
    if loaded.workdir is not None:
        analysed = str(loaded.workdir)
        chunked = runner.ChunkedRun(out, analysed, presets.config(preset), family=family)
    else:
        given = runner.GivenModel(loaded.spec, loaded.classifier, loaded.fingerprint, tested,
                                  resolution)  # fmt: skip
        chunked = runner.ChunkedRun(out, given, presets.config(preset))
    chunked.run(log)
    report = reports.read(
        chunked.out, model=loaded.spec, name=name or loaded.name, preset=preset,
        baseline=_baseline(baseline, tested, resolution),
    )  # fmt: skip
    reports.write(report, chunked.out)
    figure.draw(report, chunked.out)
    board = epath.Path(leaderboard_path or chunked.out.parent / "leaderboard.md")
    leaderboard.add(report, board)
    log(f"wrote {chunked.out / 'report.md'}, report.json, robustness.png and {board}")
    return report


def _loaded(model, name: str | None, resolution: int | None) -> specs.LoadedModel:
    """A spec loaded (`experiments.adapters.specs`), or a JAX model given as an object."""
    if isinstance(model, str):
        if resolution is None and os.path.isfile(os.path.join(model, "config.json")):
            resolution = trainer.read_config(model).resolution  # a training run's own
        return specs.load(model, resolution=resolution or squiggles.RESOLUTION)
    classifier = specs.jax_classifier(model, "the model given to bench.run")
    label = name or "model"
    return specs.LoadedModel(classifier, f"python:{label}", "jax", label,
                             specs.jax_fingerprint(classifier))  # fmt: skip


def _family_and_resolution(loaded, family: str | None, resolution: int | None):
    """The test family and resolution: a training run's own unless another family is
    asked for (its resolution is fixed by its weights), else taylor at 60."""
    if loaded.workdir is not None:
        config = trainer.read_config(loaded.workdir)  # the config alone: no second restore
        if resolution is not None and resolution != config.resolution:
            raise ValueError(f"{loaded.spec} was trained at resolution {config.resolution}; "
                             f"got --resolution {resolution}")  # fmt: skip
        return trained_run.family_for(config, family), config.resolution
    name = family or DEFAULT_FAMILY
    if name not in squiggles.FAMILIES:
        raise ValueError(f"unknown family {name!r}; expected one of {sorted(squiggles.FAMILIES)}")
    return squiggles.family_from_name(name), resolution or squiggles.RESOLUTION


def _baseline(baseline, family: squiggles.Family, resolution: int) -> epath.Path | None:
    """The baseline run when it exists (the report checks its family and resolution)."""
    if baseline is None or not (epath.Path(baseline) / "summary.json").exists():
        return None
    return epath.Path(baseline)
