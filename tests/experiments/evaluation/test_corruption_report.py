"""Squiggles-C evaluation: accuracy per corruption and severity, CE and mCE against a
baseline, the resumable chunked run that computes it, the report and the binary."""

import errno
import json
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from etils import epath

import squiggles
from experiments import locking
from experiments.drawing.corruptions import draw_heat_map
from experiments.evaluation import corruption_report, corruption_run
from experiments.results import predicted
from experiments.training import data, metrics, trained_run
from squiggles import corruptions

ROOT = pathlib.Path(__file__).resolve().parents[3]
TAYLOR = str(squiggles.Taylor())
DATA = {"family": TAYLOR, "resolution": 60, "seed": 0, "examples": 100}


def rows_with(errors: dict, examples: int = 100) -> list[dict]:
    return [
        {"corruption": name, "category": "clean" if name == "clean" else
         corruption_report.category_of(name), "severity": severity, "examples": examples,
         "accuracy": 1 - error, "error": error}
        for (name, severity), error in errors.items()
    ]  # fmt: skip


MODEL = {("clean", 0): 0.05, ("gaussian_noise", 1): 0.10, ("gaussian_noise", 2): 0.20,
         ("occlusion", 1): 0.10, ("occlusion", 2): 0.30}  # fmt: skip
BASE = {("clean", 0): 0.04, ("gaussian_noise", 1): 0.40, ("gaussian_noise", 2): 0.60,
        ("occlusion", 1): 0.08, ("occlusion", 2): 0.12}  # fmt: skip


def test_ce_and_mce_follow_imagenet_c():
    summary = corruption_report.summarise(rows_with(MODEL), rows_with(BASE))
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
    table = corruption_report.markdown(summary, "test")
    assert "| gaussian_noise | 90.0 | 80.0 | 85.0 | 30.0 | 21.7 |" in table
    assert "- mCE: 115.0 % (without Gaussian noise: 200.0 %)" in table


def test_a_baseline_on_other_examples_or_corruptions_is_refused():
    with pytest.raises(ValueError, match=r"another number of examples \(\[50, 100\]\)"):
        corruption_report.summarise(rows_with(MODEL), rows_with(BASE, examples=50))
    partial = {cell: e for cell, e in BASE.items() if cell[0] != "occlusion"}
    with pytest.raises(ValueError, match=r"no result for \[\('occlusion', 1\)"):
        corruption_report.summarise(rows_with(MODEL), rows_with(partial))


def test_parsing_corruptions_and_severities():
    assert corruption_report.parse_corruptions("all") == corruptions.CORRUPTIONS
    assert corruption_report.parse_corruptions("curve,occlusion,contrast") == (
        "thin_stroke", "thick_stroke", "occlusion", "contrast"
    )  # fmt: skip
    with pytest.raises(ValueError, match="unknown corruption 'fog'.*'all', a category"):
        corruption_report.parse_corruptions("noise,fog")
    for empty in ("", " "):
        with pytest.raises(ValueError, match="--corruptions is empty; expected 'all', a categ"):
            corruption_report.parse_corruptions(empty)
    assert corruption_report.parse_severities("5,1,1") == (1, 5)
    for bad in ("0", "6", "a", ""):
        with pytest.raises(ValueError, match="integers from 1 to 5"):
            corruption_report.parse_severities(bad)
    with pytest.raises(FileNotFoundError, match="no corruptions.csv"):
        corruption_report.read_rows(ROOT / "docs")


def test_the_analysis_checks_its_settings():
    from experiments.analyses import squiggles_c

    settings = squiggles_c.default_settings()
    squiggles_c.check(settings)
    assert squiggles_c.cells(settings)[:2] == [("clean", 0), ("gaussian_noise", 1)]
    assert len(squiggles_c.cells(settings)) == 1 + 17 * 5
    for field, value, message in (
        ("corruptions", ("fog",), "corruptions must name each corruption once"),
        ("corruptions", ("contrast", "contrast"), "corruptions must name each corruption once"),
        ("corruptions", (), "corruptions must name each corruption once"),
        ("severities", (0, 1), "severities must be increasing integers from 1 to 5"),
        ("severities", (5, 1), "severities must be increasing integers from 1 to 5"),
        ("severities", (True,), "severities must be increasing integers from 1 to 5"),
    ):
        bad = squiggles_c.default_settings()
        bad[field] = value
        with pytest.raises(ValueError, match=message):
            squiggles_c.check(bad)


# ---------------------------------------------------------------- the run on a tiny model

NAMES, SEVERITIES, EXAMPLES = ("contrast", "thick_stroke"), (1, 5), 6


def small_run(out, tiny_run, **kwargs):
    """6 test examples in chunks of 4 and 2, two corruptions at two severities."""
    return corruption_run.corruption_run(
        out, tiny_run, EXAMPLES, NAMES, SEVERITIES, chunk_size=4, **kwargs
    )


@pytest.fixture(scope="module")
def tiny_rows(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("squiggles_c")
    run = small_run(out, tiny_run)
    return out, run, corruption_run.evaluate_corruptions(run, log=lambda line: None)


def expected_accuracy(state, family, resolution, name, severity, count):
    """What the evaluation before the chunked run computed for a cell: the corrupted test
    examples made in one batch, as the TFDS dataset makes them, and the model's guesses."""
    if name == "clean":
        made = squiggles.generate_examples(family, count, stream=squiggles.TEST_STREAM,
                                           resolution=resolution)  # fmt: skip
        images = squiggles.dequantize(squiggles.quantize(np.asarray(made.image)))
    else:
        made = corruptions.corrupted_examples(family, name, severity, count,
                                              resolution=resolution)  # fmt: skip
        images = made.image
    guess = predicted(np.asarray(metrics.predict_probabilities(state, images)))
    return int(np.sum(guess == made.label)) / count


def test_accuracies_are_those_of_the_corrupted_test_examples(tiny_rows, tiny_run):
    _, run, rows = tiny_rows
    assert [(r["corruption"], r["severity"]) for r in rows] == [
        ("clean", 0), ("contrast", 1), ("contrast", 5), ("thick_stroke", 1), ("thick_stroke", 5)
    ]  # fmt: skip
    state, config = trained_run.load_run(tiny_run)
    family = data.family_of(config)
    clean = metrics.evaluate(state, data.evaluation_batches(family, config.resolution, 6))
    assert rows[0]["accuracy"] == pytest.approx(clean["accuracy"])
    for row in rows:  # chunks of 4 and 2 give the numbers of one batch of 6
        cell = (row["corruption"], row["severity"])
        assert row["accuracy"] == expected_accuracy(state, family, config.resolution, *cell, 6)
    assert all(r["examples"] == 6 and r["error"] == 1 - r["accuracy"] for r in rows)
    assert corruption_run.run_data(run) == {"family": TAYLOR, "resolution": 16, "seed": 0,
                                             "examples": 6}  # fmt: skip


class Stop(Exception):
    """Raised by a log line to stop a run part-way, as a kill would."""


def test_an_interrupted_evaluation_resumes_with_its_finished_chunks(tiny_rows, tiny_run, tmp_path):
    out, chunks = tmp_path / "c", tmp_path / "c" / "chunks"

    def stop_after_the_first_chunk(line: str) -> None:
        if line.startswith("progress:"):
            raise Stop

    with pytest.raises(Stop):
        corruption_run.evaluate_corruptions(small_run(out, tiny_run), stop_after_the_first_chunk)
    first = chunks / "squiggles_c_000000000.npz"
    assert sorted(p.name for p in chunks.iterdir()) == [first.name]
    stamp = first.stat().st_mtime_ns
    lines = []
    rows = corruption_run.evaluate_corruptions(small_run(out, tiny_run), lines.append)
    assert f"resuming: 1 chunks already in {chunks}" in lines
    assert first.stat().st_mtime_ns == stamp  # kept, not computed again
    assert rows == tiny_rows[2]  # as an uninterrupted run
    # The directory now belongs to these settings and this model.
    with pytest.raises(ValueError, match=r"another run \(differs in squiggles_c.corruptions, "):
        corruption_run.corruption_run(out, tiny_run, EXAMPLES, ("occlusion",), (1,), chunk_size=4)


def test_a_directory_in_use_is_refused(tiny_run, tmp_path):
    with locking.locked_directory(tmp_path / "c", "analysis run"):
        with pytest.raises(locking.DirectoryInUseError, match=r"c is in use by another analy"):
            small_run(tmp_path / "c", tiny_run)


def test_another_familys_examples_with_family(tiny_run, tmp_path):
    """--family: a Taylor model on SineNet test examples, recorded as such."""
    run = corruption_run.corruption_run(tmp_path, tiny_run, 4, ("occlusion",), (2,),
                                         family="sine_net")  # fmt: skip
    rows = corruption_run.evaluate_corruptions(run, log=lambda line: None)
    state, config = trained_run.load_run(tiny_run)
    sine_net = squiggles.family_from_name("sine_net")
    for row in rows:
        cell = (row["corruption"], row["severity"])
        assert row["accuracy"] == expected_accuracy(state, sine_net, config.resolution, *cell, 4)
    assert corruption_run.run_data(run)["family"] == str(sine_net)
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["model"]["family"] == str(sine_net)


# ---------------------------------------------------------------- the report


def report_files(out: pathlib.Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in corruption_report.REPORT_FILES}


def test_report_files_and_a_baseline_read_back(tiny_rows, tmp_path):
    _, run, rows = tiny_rows
    data_6 = corruption_run.run_data(run)
    corruption_report.write_report(rows, tmp_path / "base", "baseline", data_6)
    baseline, base_data = corruption_report.read_report(tmp_path / "base")
    assert baseline == rows and base_data == data_6
    summary = corruption_report.write_report(rows, tmp_path / "model", "model", data_6, baseline,
                                           "base")  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == sorted(
        corruption_report.REPORT_FILES
    )  # no temporary file left
    assert all(len(content) > 0 for content in report_files(tmp_path / "model").values())
    stored = json.loads((tmp_path / "model" / "corruptions.json").read_text())
    assert stored["baseline"] == "base"
    assert {key: stored[key] for key in corruption_report.DATA_KEYS} == data_6
    # Against itself every CE is 1 where the baseline makes errors, undefined where not.
    assert all(math.isnan(e["ce"]) or e["ce"] == pytest.approx(1.0)
               for e in summary["corruptions"].values())  # fmt: skip


def test_a_failed_report_leaves_the_earlier_one_whole(tmp_path, monkeypatch):
    out = tmp_path / "r"
    corruption_report.write_report(rows_with(MODEL), out, "first", DATA)
    before = report_files(out)
    worse = rows_with({**MODEL, ("occlusion", 2): 0.9})
    writer = type(epath.Path(out))
    real = writer.write_bytes

    def full_disk_at_the_png(self, content):
        if self.name.endswith(".png.partial"):
            real(self, content[:100])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, content)

    monkeypatch.setattr(writer, "write_bytes", full_disk_at_the_png)
    with pytest.raises(OSError, match=r"cannot write the corruption report to .*No space left"):
        corruption_report.write_report(worse, out, "second", DATA)
    monkeypatch.undo()
    assert report_files(out) == before
    assert sorted(p.name for p in out.iterdir()) == sorted(corruption_report.REPORT_FILES)

    def no_heat_map(*args, **kwargs):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr("experiments.drawing.corruptions.draw_heat_map", no_heat_map)
    with pytest.raises(RuntimeError, match="drawing failed"):
        corruption_report.write_report(worse, out, "second", DATA)
    assert report_files(out) == before


def test_a_baseline_with_more_cells_is_compared_on_the_asked_ones(tmp_path):
    """A baseline evaluated on more corruptions and severities, in another order: the CE,
    the mCE and the heat map's differences use the evaluated cells only."""
    more = {("clean", 0): 0.04, ("occlusion", 3): 0.5, ("occlusion", 2): 0.12,
            ("occlusion", 1): 0.08, ("contrast", 1): 0.7, ("gaussian_noise", 1): 0.40,
            ("gaussian_noise", 2): 0.60, ("gaussian_noise", 3): 0.9}  # fmt: skip
    corruption_report.check_baseline(rows_with(more), ("gaussian_noise", "occlusion"), (1, 2), 100)
    summary = corruption_report.write_report(rows_with(MODEL), tmp_path, "m", DATA,
                                           rows_with(more), "base")  # fmt: skip
    exact = corruption_report.summarise(rows_with(MODEL), rows_with(BASE))
    for key in ("mce", "mrelative_ce", "mce_without_gaussian_noise", "baseline_clean_accuracy"):
        assert summary[key] == exact[key]
    assert (tmp_path / "corruptions.png").stat().st_size > 0
    base = corruption_report.summarise(
        corruption_report.cells_like(rows_with(more), rows_with(MODEL))
    )
    figure = draw_heat_map(summary, "m", base)
    panel = next(ax for ax in figure.axes if ax.get_title().startswith("minus baseline"))
    change = [text.get_text() for text in panel.texts]
    # gaussian_noise: 90-60, 80-40, mean 85-50; occlusion: 90-92, 70-88, mean 80-90
    assert change == ["+30.0", "+40.0", "+35.0", "-2.0", "-18.0", "-10.0"]
    assert panel.get_title() == "minus baseline (points); mCE 115.0 %"


def test_a_truncated_baseline_is_named_and_refused(tmp_path):
    corruption_report.write_report(rows_with(MODEL), tmp_path, "base", DATA)
    path = tmp_path / "corruptions.csv"
    whole = path.read_text()
    path.write_text(whole[: whole.rindex(",")])  # cut inside the last row
    with pytest.raises(ValueError, match=rf"{path} is truncated or damaged at line 6 \(it has"):
        corruption_report.read_rows(tmp_path)
    path.write_text(whole[: whole.rindex("occlusion")])  # cut at the start of a line
    with pytest.raises(ValueError, match="corruptions.csv does not hold the cells its corrupti"):
        corruption_report.read_report(tmp_path)
    path.write_text("")
    with pytest.raises(ValueError, match=rf"{path} is damaged: its header is"):
        corruption_report.read_rows(tmp_path)


def test_a_baseline_of_other_test_data_is_refused(tmp_path):
    corruption_report.write_report(rows_with(BASE), tmp_path, "base", DATA)
    rows, base_data = corruption_report.read_report(tmp_path)
    names, severities = ("gaussian_noise", "occlusion"), (1, 2)
    corruption_report.check_baseline(rows, names, severities, 100, DATA, base_data)
    sine_net = {**DATA, "family": str(squiggles.family_from_name("sine_net")), "resolution": 120}
    with pytest.raises(ValueError, match=r"other test data \(family: Taylor\(order=7.*there, "
                       r"SineNet\(width=300.* here; resolution: 60 there, 120 here\)"):  # fmt: skip
        corruption_report.check_baseline(rows, names, severities, 100, sine_net, base_data)
    # A report written before reports recorded their test data cannot be checked.
    summary = json.loads((tmp_path / "corruptions.json").read_text())
    for key in ("family", "resolution", "seed"):
        del summary[key]
    (tmp_path / "corruptions.json").write_text(json.dumps(summary))
    with pytest.raises(
        ValueError,
        match=r"does not record its test data \(family, resolution, "
        r"seed\): it was written by an older version.*evaluate the baseline again",
    ):
        corruption_report.read_report(tmp_path)


def test_out_must_not_be_the_baseline_by_any_path(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "base")
    for out in (tmp_path / "base", tmp_path / "link", tmp_path / "x" / ".." / "base"):
        with pytest.raises(ValueError, match="is the baseline's directory"):
            corruption_report.check_not_baseline(out, tmp_path / "link")
    corruption_report.check_not_baseline(tmp_path / "new", tmp_path / "base")


def test_the_heat_map_prints_the_numbers_of_its_table():
    """One formatting: halves round away from zero in both (12.25 % is 12.3, 12.5 % is
    12.5, not 12), whatever the float's last bit."""
    assert [corruption_report.percent(v) for v in (0.125, 0.1225, 1 - 0.8775, 0.0)] == [
        "12.5", "12.3", "12.3", "0.0"
    ]  # fmt: skip
    assert corruption_report.percent(0.95855, 2) == "95.86"
    assert corruption_report.percent(-0.0625, signed=True) == "-6.3"
    assert corruption_report.percent(1e-17, signed=True) == "+0.0"
    assert corruption_report.percent(math.nan) == "n/a"
    errors = {("clean", 0): 0.04, ("occlusion", 1): 0.875, ("occlusion", 2): 0.8775}
    summary = corruption_report.summarise(rows_with(errors))
    figure = draw_heat_map(summary, "t")
    cells = [text.get_text() for text in figure.axes[0].texts]
    assert cells == ["12.5", "12.3", "12.4"]  # mean 12.375 %
    assert "| occlusion | 12.5 | 12.3 | 12.4 |" in corruption_report.markdown(summary, "t")
    assert figure.axes[0].get_title() == "accuracy (%); clean 96.00 %"


# ---------------------------------------------------------------- the binary


def evaluate(*flags, timeout=300):
    return subprocess.run([sys.executable, "-m", "experiments.evaluate", *flags], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


@pytest.mark.e2e
def test_the_binary_evaluates_a_run_and_its_baseline_run(tiny_run, tmp_path):
    out = tmp_path / "c"
    done = evaluate(f"--workdir={tiny_run}", "--corruptions=occlusion", "--severities=2",
                    "--examples=4", f"--baseline={tiny_run}", f"--out={out}")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| occlusion |" in done.stdout and "squiggles_c: 4 examples in" in done.stdout
    assert "progress: 4/4 examples" in done.stdout
    assert (out / "baseline" / "corruptions.csv").exists()
    assert (out / "baseline" / "chunks" / "squiggles_c_000000000.npz").exists()
    summary = json.loads((out / "corruptions.json").read_text())
    assert summary["examples"] == 4 and summary["baseline"] == tiny_run
    assert summary["family"] == TAYLOR and summary["resolution"] == 16 and summary["seed"] == 0
    bad = evaluate("--corruptions=fog", f"--workdir={tiny_run}", f"--out={tmp_path / 'x'}")
    assert bad.returncode != 0 and "error: unknown corruption 'fog'" in bad.stderr
    assert not (tmp_path / "x").exists()
    # A baseline report of other examples or corruptions is refused before any work.
    for flags, message in (
        (["--corruptions=occlusion", "--severities=2", "--examples=5"], "evaluated on [4] exa"),
        (["--corruptions=contrast", "--severities=2", "--examples=4"], "no result for [('con"),
    ):
        refused = evaluate(*flags, f"--workdir={tiny_run}", f"--baseline={out}",
                           f"--out={tmp_path / 'y'}")  # fmt: skip
        assert refused.returncode != 0 and message in refused.stderr, refused.stderr[-500:]
        assert "squiggles_c:" not in refused.stderr + refused.stdout  # no evaluation ran
        assert not (tmp_path / "y" / "corruptions.csv").exists()


@pytest.mark.e2e
def test_the_binary_refuses_what_would_give_a_wrong_or_lost_report(tiny_run, tmp_path):
    """Each refused before any evaluation, leaving the baseline's report as it was."""
    base = tmp_path / "base"
    corruption_report.write_report(rows_with({("clean", 0): 0.1, ("occlusion", 2): 0.2}, 4), base,
                                 "base", {**DATA, "examples": 4, "resolution": 16})  # fmt: skip
    (tmp_path / "link").symlink_to(base)
    before = report_files(base)
    common = ("--corruptions=occlusion", "--severities=2", "--examples=4", f"--workdir={tiny_run}")
    empty = evaluate(f"--workdir={tiny_run}", "--corruptions=", f"--out={tmp_path / 'e'}")
    assert empty.returncode != 0 and "--corruptions is empty; expected 'all', a category (noi" in (
        empty.stderr
    )  # a usage error, not a plain evaluation
    assert not (tmp_path / "e").exists()
    same = evaluate(*common, f"--baseline={base}", f"--out={tmp_path / 'link'}")
    assert same.returncode != 0 and "is the baseline's directory" in same.stderr
    summary = json.loads((base / "corruptions.json").read_text())
    summary["family"] = str(squiggles.family_from_name("sine_net"))
    (base / "corruptions.json").write_text(json.dumps(summary))
    other = evaluate(*common, f"--baseline={base}", f"--out={tmp_path / 'o'}")
    assert other.returncode != 0 and "error: the baseline was evaluated on other test data (fa" in (
        other.stderr
    )
    assert not (tmp_path / "o").exists()
    (base / "corruptions.json").write_bytes(before["corruptions.json"])
    assert report_files(base) == before
    for result in (empty, same, other):
        assert "squiggles_c:" not in result.stdout + result.stderr  # nothing evaluated
