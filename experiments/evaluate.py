r"""Evaluates trained runs on Squiggles test splits.

# One run on its own family's test split (or --family for another):
python -m experiments.evaluate --workdir runs/cpu_taylor --out runs/cpu_taylor/eval
# The within/cross-family table of the paper (Table 6):
python -m experiments.evaluate --table taylor=runs/taylor,sine_net=runs/sine_net --out results
# Squiggles-C: every corruption and severity, mCE against a baseline's report (or run):
python -m experiments.evaluate --workdir runs/noisy --corruptions all --examples 2000 \
    --baseline runs/plain/squiggles_c --out runs/noisy/squiggles_c

A Squiggles-C evaluation is a chunked run (`experiments.evaluation.corruption_run`): its
chunks are saved in --out as they finish, so the same command resumes an interrupted one,
and --out is locked while it works and refused if it holds another model's or other
settings' results.
"""

import json
import sys

from absl import app, flags
from etils import epath

from experiments import console
from experiments.evaluation import clean_report, corruption_report, corruption_run
from experiments.runs.runner import ChunkedRun
from experiments.training import trained_run, trainer

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
    corrupting = _CORRUPTIONS.value is not None  # given, even if empty
    if corrupting and not _CORRUPTIONS.value.strip():  # not a plain evaluation
        try:
            corruption_report.parse_corruptions(_CORRUPTIONS.value)
        except ValueError as error:
            raise app.UsageError(str(error)) from None
    if corrupting and not _WORKDIR.value:
        raise app.UsageError("--corruptions evaluates one run: give --workdir")
    if corrupting and _SOURCE.value != "generate":
        raise app.UsageError(
            "--corruptions makes its test data with the generator (the same examples as the "
            "TFDS dataset squiggles_c); --source=tfds does not apply"
        )
    if (_BASELINE.value or _SEVERITIES.value != "1,2,3,4,5") and not corrupting:
        raise app.UsageError("--baseline and --severities belong to --corruptions")
    console.setup()
    try:
        if corrupting:
            _evaluate_corruptions()
            return
        if _TABLE.value:
            runs = _parse_table(_TABLE.value)
            clean_report.cross_family_table(
                runs, _EXAMPLES.value, _OUT.value, _SOURCE.value, _DATA_DIR.value
            )
            print((clean_report.epath.Path(_OUT.value) / "table6.md").read_text())
            return
        state, config = trained_run.load_run(_WORKDIR.value)
        family = trained_run.family_for(config, _FAMILY.value)
        batches = clean_report.test_batches(
            config, family, _EXAMPLES.value, _SOURCE.value, data_dir=_DATA_DIR.value
        )
        result = clean_report.evaluate(state, batches)
        out = clean_report.write_report(result, _OUT.value, f"{_WORKDIR.value} on {family}")
        print(
            json.dumps({k: v for k, v in result.items() if k != "misclassified_images"}, indent=2)
        )
        written = [out / name for name in ("metrics.json", "misclassified.png")]
        print("wrote " + " and ".join(str(path) for path in written if path.exists()))
    except (ValueError, OSError) as error:  # OSError: a full disk, among others
        sys.exit(f"error: {error}")


def _evaluate_corruptions() -> None:
    """Checks everything it can before any work (the flags, the baseline's report and
    test data, --out not being the baseline's, the run directories), then evaluates the
    baseline run (if --baseline is one) and the model, each a resumable chunked run, and
    writes each report under its directory's lock."""
    names = corruption_report.parse_corruptions(_CORRUPTIONS.value)
    severities = corruption_report.parse_severities(_SEVERITIES.value)
    data = corruption_run.evaluation_data(
        trainer.read_config(_WORKDIR.value), _FAMILY.value, _EXAMPLES.value
    )
    out, baseline, base_run = epath.Path(_OUT.value), None, None
    if _BASELINE.value:
        base = epath.Path(_BASELINE.value)
        corruption_report.check_not_baseline(out, base)
        if (base / "corruptions.csv").exists() or not (base / "config.json").exists():
            baseline, base_data = corruption_report.read_report(base)
            corruption_report.check_baseline(baseline, names, severities, _EXAMPLES.value,
                                           data, base_data)  # fmt: skip
        else:  # a training run: evaluated the same way first, into OUT/baseline
            corruption_report.check_not_baseline(out / "baseline", base)
            base_config = trainer.read_config(base)
            corruption_report.check_same_data(
                data, corruption_run.evaluation_data(base_config, _FAMILY.value, _EXAMPLES.value)
            )
            base_run = _run(out / "baseline", _BASELINE.value, names, severities)
    run = _run(out, _WORKDIR.value, names, severities)
    if base_run is not None:
        baseline = _evaluate(base_run, f"{_BASELINE.value} (baseline)")
    _evaluate(run, _WORKDIR.value, baseline, _BASELINE.value)
    print((out / "corruptions.md").read_text())
    print(f"wrote {out / 'corruptions.md'}, corruptions.csv, corruptions.json, corruptions.png")


def _run(out: epath.Path, workdir: str, names, severities) -> ChunkedRun:
    return corruption_run.corruption_run(
        out, workdir, _EXAMPLES.value, names, severities, family=_FAMILY.value
    )


def _evaluate(run: ChunkedRun, title: str, baseline=None, baseline_name=None) -> list:
    """A model's rows, computed by its chunked run (resumed where it stopped), and its
    report in the run's directory."""
    rows = corruption_run.evaluate_corruptions(run)
    with run.locked():  # no other run writes here while the report is written
        corruption_report.write_report(
            rows, run.out, title, corruption_run.run_data(run), baseline, baseline_name
        )
    return rows


if __name__ == "__main__":
    app.run(main)
