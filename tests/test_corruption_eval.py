"""Squiggles-C evaluation: accuracy per corruption and severity, CE and mCE against a
baseline, the report and the binary."""

import json
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from experiments import corruption_eval, data, eval_lib, metrics
from experiments.results import predicted
from squiggles import corruptions

ROOT = pathlib.Path(__file__).resolve().parents[1]


def rows_with(errors: dict, examples: int = 100) -> list[dict]:
    return [
        {"corruption": name, "category": "clean" if name == "clean" else
         corruption_eval.category_of(name), "severity": severity, "examples": examples,
         "accuracy": 1 - error, "error": error}
        for (name, severity), error in errors.items()
    ]  # fmt: skip


MODEL = {("clean", 0): 0.05, ("gaussian_noise", 1): 0.10, ("gaussian_noise", 2): 0.20,
         ("occlusion", 1): 0.10, ("occlusion", 2): 0.30}  # fmt: skip
BASE = {("clean", 0): 0.04, ("gaussian_noise", 1): 0.40, ("gaussian_noise", 2): 0.60,
        ("occlusion", 1): 0.08, ("occlusion", 2): 0.12}  # fmt: skip


def test_ce_and_mce_follow_imagenet_c():
    summary = corruption_eval.summarise(rows_with(MODEL), rows_with(BASE))
    noise, occlusion = summary["corruptions"]["gaussian_noise"], summary["corruptions"]["occlusion"]
    assert noise["ce"] == pytest.approx(0.30 / 1.00)
    assert occlusion["ce"] == pytest.approx(0.40 / 0.20)
    assert noise["relative_ce"] == pytest.approx((0.05 + 0.15) / (0.36 + 0.56))
    assert occlusion["relative_ce"] == pytest.approx((0.05 + 0.25) / (0.04 + 0.08))
    assert summary["mce"] == pytest.approx((0.3 + 2.0) / 2)
    assert summary["mce_without_gaussian_noise"] == pytest.approx(2.0)
    assert summary["gaussian_noise"]["mean_accuracy"] == pytest.approx(0.85)
    assert summary["clean_accuracy"] == pytest.approx(0.95)
    assert summary["mean_corruption_accuracy"] == pytest.approx((0.85 + 0.8) / 2)
    table = corruption_eval.markdown(summary, "test")
    assert "| gaussian_noise | 90.0 | 80.0 | 85.0 | 30.0 | 21.7 |" in table
    assert "- mCE: 115.0 % (without Gaussian noise: 200.0 %)" in table


def test_a_baseline_on_other_examples_or_corruptions_is_refused():
    with pytest.raises(ValueError, match=r"another number of examples \(\[50, 100\]\)"):
        corruption_eval.summarise(rows_with(MODEL), rows_with(BASE, examples=50))
    partial = {cell: e for cell, e in BASE.items() if cell[0] != "occlusion"}
    with pytest.raises(ValueError, match=r"no result for \[\('occlusion', 1\)"):
        corruption_eval.summarise(rows_with(MODEL), rows_with(partial))


def test_parsing_corruptions_and_severities():
    assert corruption_eval.parse_corruptions("all") == corruptions.CORRUPTIONS
    assert corruption_eval.parse_corruptions("curve,occlusion,contrast") == (
        "thin_stroke", "thick_stroke", "occlusion", "contrast"
    )  # fmt: skip
    with pytest.raises(ValueError, match="unknown corruption 'fog'.*'all', a category"):
        corruption_eval.parse_corruptions("noise,fog")
    assert corruption_eval.parse_severities("5,1,1") == (1, 5)
    for bad in ("0", "6", "a", ""):
        with pytest.raises(ValueError, match="integers from 1 to 5"):
            corruption_eval.parse_severities(bad)
    with pytest.raises(FileNotFoundError, match="no corruptions.csv"):
        corruption_eval.read_rows(ROOT / "docs")


@pytest.fixture(scope="module")
def tiny_rows(tiny_run):
    state, config = eval_lib.load_run(tiny_run)
    rows = corruption_eval.evaluate_corruptions(
        state, data.family_of(config), config.resolution, 6, ("contrast", "thick_stroke"),
        (1, 5), log=lambda line: None,
    )  # fmt: skip
    return state, config, rows


def test_accuracies_are_those_of_the_corrupted_test_examples(tiny_rows):
    state, config, rows = tiny_rows
    assert [(r["corruption"], r["severity"]) for r in rows] == [
        ("clean", 0), ("contrast", 1), ("contrast", 5), ("thick_stroke", 1), ("thick_stroke", 5)
    ]  # fmt: skip
    family = data.family_of(config)
    clean = metrics.evaluate(state, data.evaluation_batches(family, config.resolution, 6))
    assert rows[0]["accuracy"] == pytest.approx(clean["accuracy"])
    made = corruptions.corrupted_examples(family, "thick_stroke", 5, 6,
                                          resolution=config.resolution)  # fmt: skip
    guess = predicted(np.asarray(metrics.predict_probabilities(state, made.image)))
    assert rows[4]["accuracy"] == pytest.approx(np.mean(guess == made.label))
    assert all(r["examples"] == 6 and r["error"] == pytest.approx(1 - r["accuracy"]) for r in rows)


def test_report_files_and_a_baseline_read_back(tiny_rows, tmp_path):
    _, _, rows = tiny_rows
    corruption_eval.write_report(rows, tmp_path / "base", "baseline")
    baseline = corruption_eval.read_rows(tmp_path / "base")
    assert baseline == rows
    summary = corruption_eval.write_report(rows, tmp_path / "model", "model", baseline, "base")
    for name in ("corruptions.csv", "corruptions.md", "corruptions.json", "corruptions.png"):
        assert (tmp_path / "model" / name).stat().st_size > 0
    assert json.loads((tmp_path / "model" / "corruptions.json").read_text())["baseline"] == "base"
    # Against itself every CE is 1 where the baseline makes errors, undefined where not.
    assert all(math.isnan(e["ce"]) or e["ce"] == pytest.approx(1.0)
               for e in summary["corruptions"].values())  # fmt: skip


@pytest.mark.e2e
def test_the_binary_evaluates_a_run_and_its_baseline_run(tiny_run, tmp_path):
    out = tmp_path / "c"
    done = subprocess.run(
        [sys.executable, "-m", "experiments.evaluate", f"--workdir={tiny_run}",
         "--corruptions=occlusion", "--severities=2", "--examples=4", f"--baseline={tiny_run}",
         f"--out={out}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| occlusion |" in done.stdout and "corruptions: 4/4 examples" in done.stdout
    assert (out / "baseline" / "corruptions.csv").exists()
    summary = json.loads((out / "corruptions.json").read_text())
    assert summary["examples"] == 4 and summary["baseline"] == tiny_run
    bad = subprocess.run(
        [sys.executable, "-m", "experiments.evaluate", "--corruptions=fog",
         f"--workdir={tiny_run}", f"--out={tmp_path / 'x'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert bad.returncode != 0 and "error: unknown corruption 'fog'" in bad.stderr
    assert not (tmp_path / "x").exists()
    # A baseline report of other examples or corruptions is refused before any work.
    for flags, message in (
        (["--corruptions=occlusion", "--severities=2", "--examples=5"], "evaluated on [4] exa"),
        (["--corruptions=contrast", "--severities=2", "--examples=4"], "no result for [('con"),
    ):
        refused = subprocess.run(
            [sys.executable, "-m", "experiments.evaluate", *flags, f"--workdir={tiny_run}",
             f"--baseline={out}", f"--out={tmp_path / 'y'}"],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert refused.returncode != 0 and message in refused.stderr, refused.stderr[-500:]
        assert "corruptions:" not in refused.stderr + refused.stdout  # no evaluation ran
        assert not (tmp_path / "y" / "corruptions.csv").exists()
