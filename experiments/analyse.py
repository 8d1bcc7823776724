r"""Runs analyses of a trained model on the first N test examples: pixel PGD, Gaussian
noise of the same norm, latent PGD with the true label recomputed, the distance to the
true decision boundary, or any module of `experiments.analyses`.

    python -m experiments.analyse --config experiments/configs/analyses/paper.py \
        --workdir models/cpu_taylor --out runs/attack_cpu_taylor --config.examples=500
    python -m experiments.analyse \
        --config experiments/configs/analyses/paper.py:boundary \
        --workdir models/cpu_taylor --out runs/boundary_cpu_taylor

Chunks are saved as they finish: run the same command again to resume, with a larger
--config.examples to extend (a short last chunk is redone), or with a smaller one to
summarise the first examples. Writes summary.json and one CSV per analysis in --out.
--out is refused if it holds results of another model (settings.json records a
fingerprint of the weights) or other settings of an analysis, or while another run uses it.
"""

import sys

from absl import app, flags
from ml_collections import config_flags

from experiments import config_overrides, console
from experiments.runs import runner, strict_json

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Analysis config file (experiments/configs/analyses/), ':names' to choose."
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Training run whose latest checkpoint to analyse.")
_OUT = flags.DEFINE_string("out", None, "Directory for chunks, summary.json and CSVs.")
flags.mark_flags_as_required(["workdir", "out"])


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if _CONFIG.value is None:
        raise app.UsageError("--config is required, e.g. experiments/configs/analyses/paper.py")
    console.setup()
    try:
        summary = runner.ChunkedRun(_OUT.value, _WORKDIR.value, _CONFIG.value).run()
    except (ValueError, FileNotFoundError, PermissionError) as error:
        sys.exit(f"error: {error}")
    print(strict_json.dumps({k: v for k, v in summary.items() if k != "model"}, indent=2))


def run_with_default_config(config: str) -> None:
    """Runs this binary with `config` as the default of --config (for the aliases)."""
    config_overrides.run(main, default_config=config)


if __name__ == "__main__":
    config_overrides.run(main)
