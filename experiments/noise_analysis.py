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
checked, progress with ETA): run it again to resume or extend. A smoke test at tiny
sizes, under a minute of CPU time on a tiny model:

    python -m experiments.noise_analysis --config experiments/configs/analyses/tiny.py:ford \
        --workdir /tmp/tiny --out /tmp/tiny_ford --examples 4 --distance_examples 4 \
        --church_examples 1
"""

from __future__ import annotations

import pathlib
import sys

from absl import app, flags
from ml_collections import config_flags

from experiments import config_overrides, console
from experiments.runs import ford_stages, strict_json

CONFIG = pathlib.Path(__file__).parent / "configs" / "analyses" / "ford.py"
# No default here: `config_overrides.run` sets it, so that it is loaded (and its
# overrides checked) while the flags are parsed, not at import.
_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Ford analyses config file (default experiments/configs/analyses/ford.py)."
)
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
        ford_stages.apply_flags(
            config, _SIGMAS.value, _SAMPLES.value, _STEPS.value, _NOISY_POINTS.value
        )
        summary = ford_stages.run_all(_OUT.value, _WORKDIR.value, config, examples)
    except (ValueError, FileNotFoundError, PermissionError) as error:
        sys.exit(f"error: {error}")
    print(strict_json.dumps({k: v for k, v in summary.items() if k != "model"}, indent=2))


if __name__ == "__main__":
    config_overrides.run(main, default_config=str(CONFIG))
