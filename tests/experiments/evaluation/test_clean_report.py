"""Evaluation of tiny checkpoints, the cross-family table, and the binaries' errors."""

import json
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow_datasets as tfds
from matplotlib.backends.backend_agg import FigureCanvasAgg

import squiggles_tfds
from experiments.evaluation import clean_report
from experiments.training import trained_run
from squiggles.preview import draw_class_grids

ROOT = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def runs(tiny_run, tiny_sine_net_run):
    """The session's tiny run of each family (read-only: see conftest.py)."""
    return {"taylor": tiny_run, "sine_net": tiny_sine_net_run}


def test_evaluation_metrics_and_report(runs, tmp_path):
    state, config = trained_run.load_run(runs["taylor"])
    family = trained_run.family_for(config, None)
    result = clean_report.evaluate(state, clean_report.test_batches(config, family, 120))
    confusion = result["confusion"]
    assert result["examples"] == sum(confusion.values()) == 120
    correct = (
        confusion["true_simple_predicted_simple"]
        + confusion["true_intersecting_predicted_intersecting"]
    )
    assert result["accuracy"] == pytest.approx(correct / 120)
    assert 0 <= result["roc_auc"] <= 1
    out = clean_report.write_report(result, str(tmp_path / "report"), "tiny")
    assert json.loads((out / "metrics.json").read_text())["examples"] == 120
    missed = sum(len(v) for v in result["misclassified_images"].values())
    assert (out / "misclassified.png").exists() == (missed > 0)


def test_generated_test_split_equals_the_tfds_test_split(runs, tmp_path):
    state, config = trained_run.load_run(runs["taylor"])
    dataset = squiggles_tfds.SquigglesConfig(name="eval16", resolution=16, train_size=1,
                                             validation_size=1, test_size=30)  # fmt: skip
    tfds.builder("squiggles", config=dataset, data_dir=tmp_path).download_and_prepare()
    family = trained_run.family_for(config, None)
    generated = clean_report.evaluate(state, clean_report.test_batches(config, family, 30))
    stored = clean_report.evaluate(
        state,
        clean_report.test_batches(config, family, 30, "tfds", "squiggles/eval16", str(tmp_path)),
    )
    assert generated["confusion"] == stored["confusion"]
    assert generated["roc_auc"] == pytest.approx(stored["roc_auc"])


def test_cross_family_table(runs, tmp_path):
    rows = clean_report.cross_family_table(runs, 40, str(tmp_path))
    assert {(r["trained_on"], r["tested_on"], r["kind"]) for r in rows} == {
        ("taylor", "taylor", "within"), ("taylor", "sine_net", "cross"),
        ("sine_net", "sine_net", "within"), ("sine_net", "taylor", "cross"),
    }  # fmt: skip
    table = (tmp_path / "table6.md").read_text()
    assert "| within |" in table and "trained on sine_net" in table
    assert (tmp_path / "table6.csv").read_text().startswith("trained_on,tested_on,kind,accuracy")
    with pytest.raises(ValueError, match="was trained on taylor, not sine_net"):
        clean_report.cross_family_table({"sine_net": runs["taylor"]}, 10, str(tmp_path))


def test_errors(runs, tmp_path):
    with pytest.raises(FileNotFoundError, match="not a training run"):
        trained_run.load_run(str(tmp_path))
    empty = tmp_path / "no_checkpoint"
    empty.mkdir()
    (empty / "config.json").write_text((pathlib.Path(runs["taylor"]) / "config.json").read_text())
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        trained_run.load_run(str(empty))
    _, config = trained_run.load_run(runs["taylor"])
    with pytest.raises(ValueError, match="unknown family 'fourier'"):
        trained_run.family_for(config, "fourier")
    dataset = squiggles_tfds.SquigglesConfig(name="eval20", resolution=20, train_size=1,
                                             validation_size=1, test_size=4)  # fmt: skip
    tfds.builder("squiggles", config=dataset, data_dir=tmp_path / "d").download_and_prepare()
    family = trained_run.family_for(config, None)
    with pytest.raises(ValueError, match="holds 20x20 images, but the model works at 16x16"):
        next(
            clean_report.test_batches(
                config, family, 4, "tfds", "squiggles/eval20", str(tmp_path / "d")
            )
        )


# The restore fails on purpose; see FAILED_RESTORE in tests/experiments/training/test_trainer.py.
@pytest.mark.filterwarnings(
    "ignore:coroutine .* was never awaited:RuntimeWarning",
    "ignore::pytest.PytestUnraisableExceptionWarning",
)
@pytest.mark.usefixtures("collect_failed_restores")
def test_checkpoint_of_another_model_is_a_clear_error(runs, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(runs["taylor"], copy)
    saved = json.loads((copy / "config.json").read_text())
    saved["config"]["model"]["width"] = 8
    (copy / "config.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match="does not match its config.json"):
        trained_run.load_run(str(copy))


def run_module(*args):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


@pytest.fixture(scope="module")
def binaries(tmp_path_factory):
    """The tiny config trained, then evaluated, by the binaries: their results."""
    tmp_path = tmp_path_factory.mktemp("binaries")
    work = tmp_path / "run"
    trained = run_module("experiments.train", "--config", "experiments/configs/tiny.py",
                         f"--workdir={work}")  # fmt: skip
    evaluated = run_module("experiments.evaluate", f"--workdir={work}", "--examples=30",
                           f"--out={tmp_path / 'eval'}")  # fmt: skip
    return tmp_path, trained, evaluated


@pytest.mark.e2e
def test_binaries_end_to_end_and_their_errors(tmp_path, binaries):
    made, trained, evaluated = binaries
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert json.loads((made / "eval" / "metrics.json").read_text())["examples"] == 30

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
    assert np.isfinite(json.loads((made / "eval" / "metrics.json").read_text())["accuracy"])


NOISE = ("cuInit", "cuda drivers", "backend 'tpu'", "apitools", "orbax", "checkpoint_manager.py",
         "_schedule.py", "Traceback")  # fmt: skip


@pytest.mark.e2e
def test_the_console_shows_progress_and_results_and_no_library_noise(binaries):
    _, trained, evaluated = binaries
    console = trained.stdout + trained.stderr
    lines = console.splitlines()
    # Bare lines, as the other binaries print them: no absl prefix ("I1206 07:00:00 ...] ").
    assert [line.split("  ")[0] for line in lines if line.startswith("step ")] == [
        "step 2/6", "step 4/6", "step 6/6"
    ]  # fmt: skip
    validation = [line for line in lines if "validation at step" in line]
    assert len(validation) == 2 and all(
        line.startswith("validation at step") and "accuracy 0." in line and "ROC-AUC" in line
        for line in validation
    )
    assert "trained to step 6" in trained.stdout
    assert len(lines) < 20, console
    for output in (console, evaluated.stdout + evaluated.stderr):
        assert not [word for word in NOISE if word in output], output
    assert '"accuracy"' in evaluated.stdout and "wrote " in evaluated.stdout


def test_reading_a_run_without_checkpoints_writes_nothing(runs, tmp_path):
    empty = tmp_path / "no_checkpoint"
    empty.mkdir()
    (empty / "config.json").write_text((pathlib.Path(runs["taylor"]) / "config.json").read_text())
    with pytest.raises(FileNotFoundError, match=f"no checkpoint in {empty}"):
        trained_run.load_run(str(empty))
    assert [p.name for p in empty.iterdir()] == ["config.json"]


def test_misclassified_grid_counts_what_it_shows_of_all_misclassified(tmp_path, monkeypatch):
    drawn = []

    def keep(*args, **kwargs):
        drawn.append(draw_class_grids(*args, **kwargs))
        return drawn[-1]

    monkeypatch.setattr(clean_report, "draw_class_grids", keep)
    result = {
        "examples": 200, "accuracy": 0.8, "roc_auc": 0.9,
        "confusion": {"true_simple_predicted_simple": 100, "true_simple_predicted_intersecting": 3,
                      "true_intersecting_predicted_simple": 37,
                      "true_intersecting_predicted_intersecting": 60},
        "misclassified_images": {"simple": np.zeros((3, 16, 16)),
                                 "intersecting": np.zeros((2, 16, 16))},
    }  # fmt: skip
    long_title = "/a/very/long/path/to/a/training/run/directory/" * 3 + " on Taylor(order=7)"
    out = clean_report.write_report(result, str(tmp_path), long_title)
    assert (out / "misclassified.png").exists()
    texts = [t.get_text().replace("\n", " ") for t in all_texts(drawn[0])]
    assert any("true simple, predicted intersecting: 3 shown of 3" in t for t in texts)
    assert any("true intersecting, predicted simple: 2 shown of 37" in t for t in texts)
    assert_texts_inside(drawn[0])


def all_texts(figure):
    found, parents = [], [figure]
    while parents:
        parent = parents.pop()
        found += [t for t in [parent._suptitle] if t is not None and t.get_text()]
        parents += parent.subfigs
    return found


def assert_texts_inside(figure):
    """Every (sub)figure title lies within the picture: none is cut off at an edge."""
    canvas = FigureCanvasAgg(figure)  # write_report closed the figure
    canvas.draw()
    width, height = canvas.get_width_height()
    renderer = canvas.get_renderer()
    for text in all_texts(figure):
        box = text.get_window_extent(renderer)
        assert box.x0 >= 0 and box.x1 <= width and box.y1 <= height, text.get_text()
