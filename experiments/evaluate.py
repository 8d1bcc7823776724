r"""Evaluates trained runs on Squiggles test splits.

# One run on its own family's test split (or --family for another):
python -m experiments.evaluate --workdir runs/cpu_taylor --out runs/cpu_taylor/eval
# The within/cross-family table of the paper (Table 6):
python -m experiments.evaluate --table taylor=runs/taylor,sine_net=runs/sine_net --out results
"""

import json
import sys

from absl import app, flags

from experiments import console, eval_lib

_WORKDIR = flags.DEFINE_string("workdir", None, "Training run to evaluate.")
_TABLE = flags.DEFINE_string("table", None, "FAMILY=WORKDIR,... runs for the cross-family table.")
_FAMILY = flags.DEFINE_string("family", None, "Family to test on (default: the run's own).")
_EXAMPLES = flags.DEFINE_integer("examples", 10_000, "Test examples (from index 0).")
_SOURCE = flags.DEFINE_enum(
    "source", "generate", ["generate", "tfds"], "Where test data comes from."
)
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data_dir for --source=tfds.")
_OUT = flags.DEFINE_string("out", None, "Directory for the report.", required=True)


def _parse_table(text: str) -> dict[str, str]:
    runs = {}
    for item in text.split(","):
        family, sep, workdir = item.partition("=")
        if not sep or not family or not workdir:
            raise ValueError(f"--table takes FAMILY=WORKDIR,..., got {item!r} in {text!r}")
        runs[family] = workdir
    return runs


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if bool(_WORKDIR.value) == bool(_TABLE.value):
        raise app.UsageError("give exactly one of --workdir and --table")
    console.setup()
    try:
        if _TABLE.value:
            runs = _parse_table(_TABLE.value)
            eval_lib.cross_family_table(
                runs, _EXAMPLES.value, _OUT.value, _SOURCE.value, _DATA_DIR.value
            )
            print((eval_lib.epath.Path(_OUT.value) / "table6.md").read_text())
            return
        state, config = eval_lib.load_run(_WORKDIR.value)
        family = eval_lib.family_for(config, _FAMILY.value)
        batches = eval_lib.test_batches(
            config, family, _EXAMPLES.value, _SOURCE.value, data_dir=_DATA_DIR.value
        )
        result = eval_lib.evaluate(state, batches)
        out = eval_lib.write_report(result, _OUT.value, f"{_WORKDIR.value} on {family}")
        print(
            json.dumps({k: v for k, v in result.items() if k != "misclassified_images"}, indent=2)
        )
        written = [out / name for name in ("metrics.json", "misclassified.png")]
        print("wrote " + " and ".join(str(path) for path in written if path.exists()))
    except (ValueError, FileNotFoundError, PermissionError) as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    app.run(main)
