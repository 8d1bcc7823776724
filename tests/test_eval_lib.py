"""Evaluation of tiny checkpoints, the cross-family table, and the binaries' errors."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow_datasets as tfds

import squiggles_tfds
from experiments import eval_lib, train_lib
from experiments.configs import tiny

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny run trained on each family."""
    made = {}
    for family in ("taylor", "sine_net"):
        config = tiny.get_config()
        config.family = family
        workdir = tmp_path_factory.mktemp(family)
        train_lib.train_and_evaluate(config, str(workdir))
        made[family] = str(workdir)
    return made


def test_evaluation_metrics_and_report(runs, tmp_path):
    state, config = eval_lib.load_run(runs["taylor"])
    family = eval_lib.family_for(config, None)
    result = eval_lib.evaluate(state, eval_lib.test_batches(config, family, 120))
    confusion = result["confusion"]
    assert result["examples"] == sum(confusion.values()) == 120
    correct = (
        confusion["true_simple_predicted_simple"]
        + confusion["true_intersecting_predicted_intersecting"]
    )
    assert result["accuracy"] == pytest.approx(correct / 120)
    assert 0 <= result["roc_auc"] <= 1
    out = eval_lib.write_report(result, str(tmp_path / "report"), "tiny")
    assert json.loads((out / "metrics.json").read_text())["examples"] == 120
    missed = sum(len(v) for v in result["misclassified_images"].values())
    assert (out / "misclassified.png").exists() == (missed > 0)


def test_generated_test_split_equals_the_tfds_test_split(runs, tmp_path):
    state, config = eval_lib.load_run(runs["taylor"])
    dataset = squiggles_tfds.SquigglesConfig(name="eval16", resolution=16, train_size=1,
                                             validation_size=1, test_size=30)  # fmt: skip
    tfds.builder("squiggles", config=dataset, data_dir=tmp_path).download_and_prepare()
    family = eval_lib.family_for(config, None)
    generated = eval_lib.evaluate(state, eval_lib.test_batches(config, family, 30))
    stored = eval_lib.evaluate(
        state, eval_lib.test_batches(config, family, 30, "tfds", "squiggles/eval16", str(tmp_path))
    )
    assert generated["confusion"] == stored["confusion"]
    assert generated["roc_auc"] == pytest.approx(stored["roc_auc"])


def test_cross_family_table(runs, tmp_path):
    rows = eval_lib.cross_family_table(runs, 40, str(tmp_path))
    assert {(r["trained_on"], r["tested_on"], r["kind"]) for r in rows} == {
        ("taylor", "taylor", "within"), ("taylor", "sine_net", "cross"),
        ("sine_net", "sine_net", "within"), ("sine_net", "taylor", "cross"),
    }  # fmt: skip
    table = (tmp_path / "table6.md").read_text()
    assert "| within |" in table and "trained on sine_net" in table
    assert (tmp_path / "table6.csv").read_text().startswith("trained_on,tested_on,kind,accuracy")
    with pytest.raises(ValueError, match="was trained on taylor, not sine_net"):
        eval_lib.cross_family_table({"sine_net": runs["taylor"]}, 10, str(tmp_path))


def test_errors(runs, tmp_path):
    with pytest.raises(FileNotFoundError, match="not a training run"):
        eval_lib.load_run(str(tmp_path))
    empty = tmp_path / "no_checkpoint"
    empty.mkdir()
    (empty / "config.json").write_text((pathlib.Path(runs["taylor"]) / "config.json").read_text())
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        eval_lib.load_run(str(empty))
    _, config = eval_lib.load_run(runs["taylor"])
    with pytest.raises(ValueError, match="unknown family 'fourier'"):
        eval_lib.family_for(config, "fourier")
    dataset = squiggles_tfds.SquigglesConfig(name="eval20", resolution=20, train_size=1,
                                             validation_size=1, test_size=4)  # fmt: skip
    tfds.builder("squiggles", config=dataset, data_dir=tmp_path / "d").download_and_prepare()
    family = eval_lib.family_for(config, None)
    with pytest.raises(ValueError, match="holds 20x20 images, but the model works at 16x16"):
        next(
            eval_lib.test_batches(
                config, family, 4, "tfds", "squiggles/eval20", str(tmp_path / "d")
            )
        )


def test_checkpoint_of_another_model_is_a_clear_error(runs, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(runs["taylor"], copy)
    saved = json.loads((copy / "config.json").read_text())
    saved["config"]["model"]["width"] = 8
    (copy / "config.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match="does not match its config.json"):
        eval_lib.load_run(str(copy))


def run_module(*args):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_binaries_end_to_end_and_their_errors(tmp_path, runs):
    work = tmp_path / "run"
    trained = run_module("experiments.train", "--config", "experiments/configs/tiny.py",
                         "--config.num_steps=2", f"--workdir={work}")  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-2000:]
    evaluated = run_module("experiments.evaluate", f"--workdir={work}", "--examples=30",
                           f"--out={tmp_path / 'eval'}")  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["examples"] == 30

    bad = run_module("experiments.train", "--config", "experiments/configs/tiny.py",
                     "--config.model.stem=huge", f"--workdir={tmp_path / 'bad'}")  # fmt: skip
    assert bad.returncode != 0 and "error: model.stem must be" in bad.stderr
    missing = run_module("experiments.evaluate", f"--workdir={tmp_path / 'nothing'}",
                         f"--out={tmp_path / 'x'}")  # fmt: skip
    assert (
        missing.returncode != 0
        and "error:" in missing.stderr
        and "not a training run" in missing.stderr
    )
    assert np.isfinite(json.loads((tmp_path / "eval" / "metrics.json").read_text())["accuracy"])
