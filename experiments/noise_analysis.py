r"""Every analysis of Ford et al. (2019) on a trained model, into one run directory:
error rates in noise and σ(x, 1 %) on --examples test images, the distances to the
nearest error (from the image and from noisy samples), the errors' nearest curves and
the latent-space quantities on the first --distance_examples, and church-window slices
of the first --church_examples.

    python -m experiments.noise_analysis --workdir models/cpu_taylor \
        --out runs/ford_cpu_taylor --examples 200 --distance_examples 100 \
        --samples 1000 --noisy_points 20

Settings come from --config (default experiments/configs/analyses/ford.py, the paper's);
the flags below set the common ones, and --config.<analysis>.<field> any other. It is
three runs of `experiments.analyse` in one directory (resumable, settings and model
checked, progress with ETA): run it again to resume or extend.
"""

from __future__ import annotations

import json
import pathlib
import sys

import ml_collections
from absl import app, flags
from ml_collections import config_flags

from experiments import console, runs

CONFIG = pathlib.Path(__file__).parent / "configs" / "analyses" / "ford.py"
# (analyses, the flag giving their number of examples), in the order they run: the
# summaries of later ones compare with the results of earlier ones.
STAGES = (
    (("ford_rates",), "examples"),
    (("ford_distance", "ford_latent"), "distance_examples"),
    (("ford_church",), "church_examples"),
)

_CONFIG = config_flags.DEFINE_config_file("config", str(CONFIG), "Ford analyses config file.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Training run whose latest checkpoint to analyse.")
_OUT = flags.DEFINE_string("out", None, "Directory for chunks, summary.json and CSVs.")
_EXAMPLES = flags.DEFINE_integer("examples", 200, "Test images for error rates and σ(x, μ).")
_DISTANCE_EXAMPLES = flags.DEFINE_integer(
    "distance_examples", 100, "Test images for the distances and the latent analyses."
)
_CHURCH_EXAMPLES = flags.DEFINE_integer("church_examples", 4, "Test images with church windows.")
_SIGMAS = flags.DEFINE_list("sigmas", None, "σ of the error rates μ(x, σ) (default: config's).")
_SAMPLES = flags.DEFINE_integer("samples", None, "Noise draws per image for μ and σ(x, μ).")
_STEPS = flags.DEFINE_integer("steps", None, "PGD steps of the distance searches.")
_NOISY_POINTS = flags.DEFINE_integer("noisy_points", None, "Noisy samples per image (Fig. 4).")
flags.mark_flags_as_required(["workdir", "out"])


def apply_flags(
    config: ml_collections.ConfigDict, sigmas: list[str] | None, samples: int | None,
    steps: int | None, noisy_points: int | None,
) -> None:  # fmt: skip
    """The common flags, written into every analysis that has the field."""
    if sigmas is not None:
        try:
            config.ford_rates.sigmas = tuple(float(s) for s in sigmas)
        except ValueError as error:
            raise ValueError(f"--sigmas must be numbers, got {sigmas}") from error
    if samples is not None:
        for name, field in (
            ("ford_rates", "samples"),
            ("ford_rates", "sigma_samples"),
            ("ford_latent", "samples"),
            ("ford_latent", "sigma_samples"),
        ):
            config[name][field] = samples  # fmt: skip
    if steps is not None:
        for name in ("ford_distance", "ford_latent", "ford_church"):
            config[name].steps = steps
    if noisy_points is not None:
        config.ford_distance.noisy_points = noisy_points


def stage_config(
    config: ml_collections.ConfigDict, names: tuple[str, ...], examples: int
) -> ml_collections.ConfigDict:
    """The run config of one stage: its analyses and their settings, `examples` images."""
    stage = ml_collections.ConfigDict()
    stage.analyses = names
    stage.examples = examples
    stage.chunk_size = config.chunk_size
    for name in names:
        stage[name] = config[name]
    return stage


def run_all(out: str, workdir: str, config: ml_collections.ConfigDict,
            examples: dict[str, int], log: runs.Log = runs.log_line) -> dict:  # fmt: skip
    """Every stage in order (each checked before any runs); the merged summary."""
    stages = [
        runs.ChunkedRun(out, workdir, stage_config(config, names, examples[flag]))
        for names, flag in STAGES
        if all(name in config.analyses for name in names) and examples[flag] > 0
    ]
    if not stages:
        raise ValueError(f"nothing to run: analyses {tuple(config.analyses)}, examples {examples}")
    summary = {}
    for stage in stages:
        summary = stage.run(log)
    return summary


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    console.setup()
    config = _CONFIG.value
    examples = {"examples": _EXAMPLES.value, "distance_examples": _DISTANCE_EXAMPLES.value,
                "church_examples": _CHURCH_EXAMPLES.value}  # fmt: skip
    try:
        for flag, value in examples.items():
            if value < 0:
                raise ValueError(f"--{flag} must be >= 0, got {value}")
        apply_flags(config, _SIGMAS.value, _SAMPLES.value, _STEPS.value, _NOISY_POINTS.value)
        summary = run_all(_OUT.value, _WORKDIR.value, config, examples)
    except (ValueError, FileNotFoundError, PermissionError) as error:
        sys.exit(f"error: {error}")
    print(json.dumps({k: v for k, v in summary.items() if k != "model"}, indent=2))


if __name__ == "__main__":
    app.run(main)
