r"""Evaluates trained runs on Squiggles test splits.

# One run on its own family's test split (or --family for another):
python -m experiments.evaluate --workdir runs/cpu_taylor --out runs/cpu_taylor/eval
# The within/cross-family table of the paper (Table 6):
python -m experiments.evaluate --table taylor=runs/taylor,sine_net=runs/sine_net --out results
# Squiggles-C: every corruption and severity, mCE against a baseline's report (or run):
python -m experiments.evaluate --workdir runs/noisy --corruptions all --examples 2000 \
    --baseline runs/plain/squiggles_c --out runs/noisy/squiggles_c
"""

import json
import sys

from absl import app, flags
from etils import epath

from experiments import console, corruption_eval, eval_lib
from squiggles.storage import ensure_writable_dir

_WORKDIR = flags.DEFINE_string("workdir", None, "Training run to evaluate.")
_TABLE = flags.DEFINE_string("table", None, "FAMILY=WORKDIR,... runs for the cross-family table.")
_FAMILY = flags.DEFINE_string("family", None, "Family to test on (default: the run's own).")
_EXAMPLES = flags.DEFINE_integer("examples", 10_000, "Test examples (from index 0).")
_SOURCE = flags.DEFINE_enum(
    "source", "generate", ["generate", "tfds"], "Where test data comes from."
)
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data_dir for --source=tfds.")
_OUT = flags.DEFINE_string("out", None, "Directory for the report.", required=True)
_CORRUPTIONS = flags.DEFINE_string(
    "corruptions", None, "Squiggles-C: 'all', or corruptions and categories, comma-separated."
)
_SEVERITIES = flags.DEFINE_string("severities", "1,2,3,4,5", "Squiggles-C severities.")
_BASELINE = flags.DEFINE_string(
    "baseline", None, "Squiggles-C baseline for the mCE: the --out directory of its "
    "--corruptions evaluation, or its training run (then evaluated into OUT/baseline).",
)  # fmt: skip


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
    if _CORRUPTIONS.value and not _WORKDIR.value:
        raise app.UsageError("--corruptions evaluates one run: give --workdir")
    if _CORRUPTIONS.value and _SOURCE.value != "generate":
        raise app.UsageError(
            "--corruptions makes its test data with the generator (the same examples as the "
            "TFDS dataset squiggles_c); --source=tfds does not apply"
        )
    if (_BASELINE.value or _SEVERITIES.value != "1,2,3,4,5") and not _CORRUPTIONS.value:
        raise app.UsageError("--baseline and --severities belong to --corruptions")
    console.setup()
    try:
        if _CORRUPTIONS.value:
            _evaluate_corruptions()
            return
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


def _corruption_rows(workdir: str, names, severities) -> list[dict]:
    state, config = eval_lib.load_run(workdir)
    family = eval_lib.family_for(config, _FAMILY.value)
    return corruption_eval.evaluate_corruptions(
        state, family, config.resolution, _EXAMPLES.value, names, severities
    )


def _evaluate_corruptions() -> None:
    names = corruption_eval.parse_corruptions(_CORRUPTIONS.value)
    severities = corruption_eval.parse_severities(_SEVERITIES.value)
    ensure_writable_dir(_OUT.value, "the corruption report")  # before any work
    baseline, baseline_name = None, _BASELINE.value
    if _BASELINE.value:
        base = epath.Path(_BASELINE.value)
        if (base / "corruptions.csv").exists() or not (base / "config.json").exists():
            baseline = corruption_eval.read_rows(base)
            corruption_eval.check_baseline(baseline, names, severities, _EXAMPLES.value)
        else:  # a training run: evaluate it the same way first
            baseline = _corruption_rows(_BASELINE.value, names, severities)
            corruption_eval.write_report(
                baseline, epath.Path(_OUT.value) / "baseline", f"{_BASELINE.value} (baseline)"
            )
    rows = _corruption_rows(_WORKDIR.value, names, severities)
    corruption_eval.write_report(rows, _OUT.value, _WORKDIR.value, baseline, baseline_name)
    out = epath.Path(_OUT.value)
    print((out / "corruptions.md").read_text())
    print(f"wrote {out / 'corruptions.md'}, corruptions.csv, corruptions.json, corruptions.png")


if __name__ == "__main__":
    app.run(main)
