r"""A ground-truth robustness report of any model of Squiggles images, added to a
leaderboard:

    python -m experiments.bench --model models/cpu_taylor --out runs/bench/cpu_taylor
    python -m experiments.bench --model torch:examples.torch_cnn:model \
        --out runs/bench/torch_cnn --preset standard
    python -m experiments.bench --model my_package.my_module:logits_fn --out runs/bench/mine

--model is a training run of `experiments.train`, `module:function` returning a JAX
logits function (or `(apply_fn, params)`), or `torch:module:function` returning a
`torch.nn.Module` (docs/adapters.md). Run the same command again to resume.
"""

import sys

from absl import app, flags

from experiments import console
from experiments.bench import pipeline, presets

_MODEL = flags.DEFINE_string("model", None, "Model spec: a workdir, module:function or "
                             "torch:module:function.")  # fmt: skip
_OUT = flags.DEFINE_string("out", None, "Directory of the run and its report.")
_PRESET = flags.DEFINE_enum("preset", "quick", presets.PRESETS, "Sizes of the analyses.")
_FAMILY = flags.DEFINE_string("family", None, "Test family (default: a training run's own, "
                              "else taylor).")  # fmt: skip
_RESOLUTION = flags.DEFINE_integer("resolution", None, "Image size (default: a training "
                                   "run's own, else 60).")  # fmt: skip
_NAME = flags.DEFINE_string("name", None, "The model's name in the report and leaderboard.")
_LEADERBOARD = flags.DEFINE_string("leaderboard", None, "The leaderboard to add the row to "
                                   "(default: leaderboard.md beside --out).")  # fmt: skip
_BASELINE = flags.DEFINE_string("baseline", str(pipeline.BASELINE), "Squiggles-C run of the "
                                "mCE baseline ('' for none).")  # fmt: skip
flags.mark_flags_as_required(["model", "out"])


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if _RESOLUTION.value is not None and _RESOLUTION.value < 8:
        raise app.UsageError(f"--resolution must be an integer >= 8, got {_RESOLUTION.value}")
    console.setup()
    try:
        report = pipeline.run(
            _MODEL.value, _OUT.value, preset=_PRESET.value, family=_FAMILY.value,
            resolution=_RESOLUTION.value, name=_NAME.value, leaderboard_path=_LEADERBOARD.value,
            baseline=_BASELINE.value or None,
        )  # fmt: skip
    except (ValueError, FileNotFoundError, PermissionError, ImportError) as error:
        sys.exit(f"error: {error}")
    print(report.summary_line())


if __name__ == "__main__":
    app.run(main)
