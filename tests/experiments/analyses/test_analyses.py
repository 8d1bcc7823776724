"""Analysis runs (pixel PGD, noise, latent PGD, boundary distance) on a tiny trained
model: values, resumption, extension, joins by index, identity checks and the binary."""

import csv
import io
import json
import pathlib
import re
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest
from etils import epath

import squiggles
from experiments import classifier, locking
from experiments.analyses import boundary, registry
from experiments.attacks import pgd
from experiments.configs.analyses import paper, tiny
from experiments.results import AttackResults
from experiments.runs import chunk_files, runner, store
from experiments.runs.chunk_examples import TestExamples
from experiments.training import trained_run, trainer

ROOT = pathlib.Path(__file__).resolve().parents[3]
CONFIG = tiny.get_config()  # pixel, noise and latent on 10 examples, chunks of 4, 4 steps
QUIET = dict(log=lambda line: None)


def config_with(names: str = paper.ATTACKS, **changes):
    """The tiny config of `names` with changes; 'pixel.steps' names a nested field."""
    config = tiny.get_config(names)
    for field, value in changes.items():
        *parents, leaf = field.split(".")
        target = config
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return config


class Finished:
    """A finished run directory, read without writing (it is shared by the session)."""

    def __init__(self, out: str, workdir: str):
        self.out, self.model = epath.Path(out), runner.load_model(workdir)

    def results(self, name: str) -> dict:
        examples = store.read_summary(self.out)[name]["examples"]
        paths = chunk_files.chunk_files(self.out / "chunks", name, examples)
        return chunk_files.join_chunks(
            chunk_files.load_chunks(paths), examples, registry.load(name).PER_EPSILON
        )


@pytest.fixture(scope="module")
def finished(tiny_run, tiny_analyses):
    """The session's run of every tiny analysis (conftest.py), and its summary."""
    return Finished(tiny_analyses, tiny_run), store.read_summary(tiny_analyses)


def test_pixel_attack_results(finished):
    run, summary = finished
    pixel = run.results("pixel")
    assert pixel["index"].tolist() == list(range(10))
    assert pixel["attacked"].shape == (3, 10, 16, 16)
    for k, epsilon in enumerate(CONFIG.pixel.epsilons):
        assert pixel["norm"][k].max() <= epsilon * (1 + 1e-3)  # float16 storage
        assert pixel["attacked"][k].min() >= 0 and pixel["attacked"][k].max() <= 1
    np.testing.assert_array_equal(
        pixel["label_after"], np.repeat(pixel["label_before"][None], 3, 0)
    )
    # Carried successes: accuracy under attack never rises with ε.
    accuracy = [row["accuracy"] for row in summary["pixel"]["per_epsilon"]]
    assert accuracy == sorted(accuracy, reverse=True)
    assert accuracy[0] <= summary["pixel"]["clean_accuracy"]
    examples = TestExamples.load(run.model.family, 16, 0, 10)
    np.testing.assert_array_equal(pixel["label_before"], examples.labels)
    np.testing.assert_allclose(pixel["clean"], examples.images, atol=1e-3)  # float16
    # The stored probabilities are the model's on the stored attacked images.
    again = classifier.probabilities(run.model.classifier, pixel["attacked"][1].astype(np.float32))
    np.testing.assert_allclose(again, pixel["probability"][1], atol=2e-2)
    # The success rate is the fraction of clean-correct examples fooled.
    typed = store.read_results(run.out, "pixel")
    for k, row in enumerate(summary["pixel"]["per_epsilon"]):
        correct = typed.clean_correct
        expected = np.mean(
            (pixel["probability"][k][correct] > 0.5) != pixel["label_before"][correct]
        )
        assert row["success_rate"] == pytest.approx(expected)


def test_noise_has_norm_epsilon_and_latent_labels_are_recomputed(finished):
    run, summary = finished
    noise = run.results("noise")
    for k, epsilon in enumerate(CONFIG.noise.epsilons):
        np.testing.assert_allclose(noise["norm"][k], epsilon, rtol=1e-5)
    latent = run.results("latent")
    np.testing.assert_array_equal(
        latent["clean"], TestExamples.load(run.model.family, 16, 0, 10).latents
    )
    for k, epsilon in enumerate(CONFIG.latent.epsilons):
        assert latent["norm"][k].max() <= epsilon * (1 + 1e-5)
        recomputed = pgd.true_labels(jnp.asarray(latent["attacked"][k]), run.model.family)
        np.testing.assert_array_equal(latent["label_after"][k], recomputed)
        row = summary["latent"]["per_epsilon"][k]
        prediction = latent["probability"][k] > 0.5
        assert row["accuracy_vs_recomputed_label"] == pytest.approx(
            np.mean(prediction == recomputed)
        )
        assert row["label_unchanged"] == pytest.approx(
            np.mean(recomputed == latent["label_before"])
        )
    rows = (run.out / "latent.csv").read_text().splitlines()
    assert len(rows) == 1 + 10 * len(CONFIG.latent.epsilons)
    assert summary["latent"]["examples"] == 10


def test_typed_results_define_fooled_once():
    results = AttackResults(
        index=np.arange(4), epsilon=np.array([1.0]),
        label_before=np.array([True, True, False, False]),
        label_after=np.array([[True, False, False, True]]),
        clean_probability=np.array([0.9, 0.9, 0.9, 0.1]),
        probability=np.array([[0.1, 0.1, 0.9, 0.9]]), norm=np.zeros((1, 4)),
    )  # fmt: skip
    # 0: right -> wrong (fooled); 1: label changed and followed (not fooled);
    # 2: a clean error stays wrong (not fooled); 3: right -> right after a label change.
    assert results.clean_correct.tolist() == [True, True, False, True]
    assert results.correct.tolist() == [[False, True, False, True]]
    assert results.fooled.tolist() == [[True, False, False, False]]
    assert results.label_changed.tolist() == [[False, True, False, True]]
    with pytest.raises(ValueError, match=r"no results at ε=2.0; the run has ε \[1.0\]"):
        results.at(2.0)


def test_interrupted_run_resumes_to_the_same_results(tiny_run, finished, tmp_path):
    seen = []

    def stop_after_two_chunks(line):
        seen.append(line)
        if sum(line.startswith("progress") for line in seen) == 2:
            raise KeyboardInterrupt

    run = runner.ChunkedRun(tmp_path, tiny_run, CONFIG)
    with pytest.raises(KeyboardInterrupt):
        run.run(log=stop_after_two_chunks)
    assert len(list((tmp_path / "chunks").glob("*.npz"))) == 2
    assert not (tmp_path / "summary.json").exists()
    # A half-written chunk (killed while saving) is not taken for a finished one.
    (tmp_path / "chunks" / ".noise_000000008.npz.partial").write_bytes(b"half")
    lines = []
    runner.ChunkedRun(tmp_path, tiny_run, CONFIG).run(log=lines.append)
    assert lines[0].startswith("resuming: 2 chunks")
    for name in CONFIG.analyses:
        resumed, whole = run.results(name), finished[0].results(name)
        for field in whole:
            np.testing.assert_array_equal(resumed[field], whole[field], err_msg=f"{name} {field}")


def test_another_setting_is_refused_and_loses_nothing(tiny_run, finished, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(finished[0].out, out)
    before = sorted(p.name for p in (out / "chunks").iterdir())
    with pytest.raises(ValueError, match=r"differs in pixel\.steps, latent\.steps\)"):
        runner.ChunkedRun(out, tiny_run, config_with(**{"pixel.steps": 5, "latent.steps": 5}))
    with pytest.raises(ValueError, match=r"differs in chunk_size\)"):
        runner.ChunkedRun(out, tiny_run, config_with(chunk_size=5))
    assert sorted(p.name for p in (out / "chunks").iterdir()) == before


def test_another_analysis_may_join_a_directory(tiny_run, tmp_path):
    runner.ChunkedRun(tmp_path, tiny_run, config_with("noise", examples=2)).run(**QUIET)
    config = config_with("pixel", examples=2, **{"pixel.epsilons": (0.3,)})
    summary = runner.ChunkedRun(tmp_path, tiny_run, config).run(**QUIET)
    assert set(summary) == {"model", "noise", "pixel"}
    stored = json.loads((tmp_path / "settings.json").read_text())
    assert set(stored["analyses"]) == {"noise", "pixel"}
    assert store.read_results(tmp_path, "noise").index.tolist() == [0, 1]


@pytest.mark.parametrize(
    ("names", "change", "message"),
    [
        ("pixel,fgsm", {}, "unknown analysis 'fgsm'; expected one of \\['boundary', "),
        ("pixel", {"pixel.epsilons": (0.3, -1.0)}, "epsilons must be positive"),
        ("latent", {"latent.epsilons": (1.0, 0.5)}, "epsilons must be strictly increasing"),
        ("pixel", {"examples": 0}, "examples must be an integer >= 1, got 0"),
        ("pixel", {"pixel.pixel_range": (1.0, 0.0)}, "low < high"),
        ("pixel", {"pixel.steps": -1}, "steps must be an integer >= 0, got -1"),
        ("boundary", {"boundary.bisection_steps": -1}, "bisection_steps must be an integer >= 0"),
        ("noise,noise", {}, "analyses must name each analysis once"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_loaded(names, change, message, tmp_path):
    config = config_with(names.replace(",fgsm", ""), **change)
    if "fgsm" in names:
        config.analyses = ("pixel", "fgsm")
    with pytest.raises(ValueError, match=message):
        runner.ChunkedRun(tmp_path / "out", str(tmp_path / "no model"), config)
    assert not (tmp_path / "out").exists()


def test_pixel_range_none_turns_clipping_off():
    from experiments.analyses import pixel

    for value in (None, (None,), ()):
        settings = pixel.default_settings()
        settings.pixel_range = value
        pixel.check(settings)
        assert pixel.clip_range(settings) is None
    assert pixel.clip_range(pixel.default_settings()) == (0.0, 1.0)


def test_analyses_are_found_by_name():
    assert registry.names() == [
        "boundary", "certify", "ensemble", "ford_church", "ford_distance", "ford_latent",
        "ford_rates", "latent", "noise", "pixel", "squiggles_c",
    ]  # fmt: skip
    for name in registry.names():
        module = registry.load(name)
        module.check(module.default_settings())  # the paper's settings are valid
        assert module.RESULTS is not None and isinstance(module.PER_EPSILON, tuple)


def run_module(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


@pytest.mark.e2e
def test_binaries_report_bad_settings_and_missing_runs(tmp_path):
    out = f"--out={tmp_path / 'out'}"
    result = run_module("experiments.attack", f"--workdir={tmp_path}", out,
                        "--config.pixel.epsilons=(0.1,'big')")  # fmt: skip
    assert result.returncode != 0
    assert "error: epsilons must be positive finite numbers, got (0.1, 'big')" in result.stderr
    result = run_module("experiments.analyse", "--config",
                        "experiments/configs/analyses/paper.py:boundary",
                        f"--workdir={tmp_path / 'nothing'}", out)  # fmt: skip
    assert result.returncode != 0 and "is not a training run" in result.stderr
    with locking.locked_directory(tmp_path / "out", "analysis run"):
        result = run_module("experiments.boundary_distance", f"--workdir={tmp_path / 'nothing'}",
                            out)  # fmt: skip
    assert result.returncode != 0
    assert f"error: {tmp_path / 'out'} is in use by another analysis run (pid" in result.stderr
    result = run_module("experiments.analyse", f"--workdir={tmp_path}", out)
    assert result.returncode != 0 and "--config is required" in result.stderr


@pytest.mark.e2e
def test_the_alias_runs_the_paper_config_with_overrides(tiny_run, tmp_path):
    result = run_module(
        "experiments.attack", f"--workdir={tiny_run}", f"--out={tmp_path}",
        "--config.analyses=('noise',)", "--config.examples=3", "--config.noise.epsilons=(0.5,)",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["noise"]["examples"] == 3
    assert [row["epsilon"] for row in summary["noise"]["per_epsilon"]] == [0.5]


def test_bisection_finds_the_label_change_on_a_known_path():
    family = squiggles.Taylor()
    # y = t³ − c·t with x = t²: simple for c ≤ 0, crossing for c > 0
    # (see tests/experiments/attacks/test_pgd.py).
    start = np.array([[[0, 2, 0, 0, 0, 0, 0], [1, 0, 6, 0, 0, 0, 0]]], np.float32)
    end = start.copy()
    end[0, 1, 0] = -3.0  # c goes from -1 to 3: the truth changes near c = 0, a quarter in
    label = pgd.true_labels(start, family)
    assert not label[0] and pgd.true_labels(end, family)[0]
    fraction, point = boundary.bisect_on_true_label(family, start, end, label, steps=20)
    assert pgd.true_labels(point, family)[0]
    assert 0.2 < fraction[0] <= 0.3
    coarse, _ = boundary.bisect_on_true_label(family, start, end, label, steps=3)
    assert fraction[0] <= coarse[0] <= fraction[0] + 2**-3


def boundary_config(**changes):
    return config_with("boundary", **{"examples": 6, "chunk_size": 3, **changes})


def test_boundary_run(tiny_run, finished, tmp_path):
    config = boundary_config(**{"boundary.attack_results": str(finished[0].out),
                                "boundary.attack_epsilon": 1.2})  # fmt: skip
    run = runner.ChunkedRun(tmp_path, tiny_run, config)
    summary = run.run(**QUIET)["boundary"]
    chunks = chunk_files.load_chunks([run.chunk_path("boundary", 0), run.chunk_path("boundary", 3)])
    found_at = np.concatenate([c["found_at"] for c in chunks])
    grid = np.concatenate([c["grid_distance"] for c in chunks])
    refined = np.concatenate([c["refined_distance"] for c in chunks])
    points = np.concatenate([c["boundary_point"] for c in chunks])
    labels = np.concatenate([c["label"] for c in chunks])
    found = found_at >= 0
    assert found.any()
    # The refined point has the other true label and lies within the grid bracket.
    family = run.model.family
    np.testing.assert_array_equal(pgd.true_labels(points[found], family), ~labels[found])
    assert np.all((refined[found] > 0) & (refined[found] <= grid[found] * (1 + 1e-5)))
    assert np.all(np.isinf(grid[~found]) & np.isinf(refined[~found]))
    cdf = summary["cumulative_fraction"]
    assert set(cdf) == {"all", "misclassified", "attack_succeeded"}
    assert cdf["all"]["examples"] == 6
    epsilons = config.boundary.epsilons
    assert cdf["all"]["grid"] == pytest.approx([np.mean(grid <= e) for e in epsilons])
    assert all(r >= g for r, g in zip(cdf["all"]["refined"], cdf["all"]["grid"], strict=True))
    pixel = store.read_results(finished[0].out, "pixel")
    expected = pixel.fooled[pixel.at(1.2)][:6]
    assert cdf["attack_succeeded"]["examples"] == int(expected.sum())
    rows = list(csv.DictReader(io.StringIO((tmp_path / "boundary.csv").read_text())))
    assert [int(row["attack_succeeded"]) for row in rows] == expected.astype(int).tolist()
    with pytest.raises(ValueError, match=re.escape("no results at ε=0.5")):
        boundary.attack_successes(finished[0].out, 0.5, np.arange(6))
    # An ε the attack run lacks is refused before any work.
    bad = boundary_config(**{"boundary.attack_results": str(finished[0].out),
                             "boundary.attack_epsilon": 0.5})  # fmt: skip
    with pytest.raises(ValueError, match="has no pixel results at attack_epsilon=0.5"):
        runner.ChunkedRun(tmp_path / "other", tiny_run, bad)


def test_blocks_of_unrolled_iterations_run_the_same_attack(finished):
    run, _ = finished
    examples = TestExamples.load(run.model.family, 16, 0, 6)
    labels = examples.labels.astype(np.int32)
    for space in ({"clip": True}, {"family": run.model.family, "resolution": 16}):
        x0 = examples.images if "clip" in space else examples.latents
        one_loop, blocks = (
            pgd.run_pgd(run.model.classifier, x0, labels, 0.5, steps=7, step_fraction=0.04,
                        block=block, **space).point
            for block in (0, 3)
        )  # fmt: skip
        np.testing.assert_allclose(blocks, one_loop, atol=1e-4)
        assert float(jnp.abs(blocks - x0).max()) > 0


# ---------------------------------------------------------------- no silent wrong answers


def csv_indices(path) -> list[int]:
    return [int(row["index"]) for row in csv.DictReader(io.StringIO(path.read_text()))]


def test_extending_past_a_short_last_chunk_and_shrinking_keep_exactly_n_rows(tiny_run, tmp_path):
    """6, then 12 (the short chunk 4..5 is redone), then 10 and 5 (no work): each summary
    and CSV describes exactly the examples 0..N-1, joined by their stored indices."""
    eps = {"pixel.epsilons": (0.3, 1.2), "noise.epsilons": (0.3, 1.2)}
    seen = {}

    def stop_after_the_first_chunk(line):
        if line.startswith("progress"):
            raise KeyboardInterrupt

    for examples in (6, 12, 10, 5):
        config = config_with("pixel,noise", examples=examples, **eps)
        if examples == 12:  # interrupted right after redoing the short pixel chunk 4..5
            run = runner.ChunkedRun(tmp_path, tiny_run, config)
            with pytest.raises(KeyboardInterrupt):
                run.run(log=stop_after_the_first_chunk)
            assert chunk_files.stored_chunk(run.chunk_path("pixel", 4), 4).held == 4
            # The pixel summary of 6 no longer matches the pixel chunks: it is gone.
            assert "pixel" not in json.loads((tmp_path / "summary.json").read_text())
            assert not (tmp_path / "pixel.csv").exists()
            with pytest.raises(ValueError, match="has no pixel results"):
                store.read_results(tmp_path, "pixel")
        lines = []
        run = runner.ChunkedRun(tmp_path, tiny_run, config)
        summary = run.run(log=lines.append)
        stored = json.loads((tmp_path / "summary.json").read_text())
        for name in config.analyses:
            assert summary[name]["examples"] == stored[name]["examples"] == examples
            results = store.read_results(tmp_path, name)
            assert results.index.tolist() == list(range(examples))
            assert csv_indices(tmp_path / f"{name}.csv") == list(range(examples)) * 2
            assert results.probability.shape == (2, examples)
            for field, value in run.results(name).items():
                np.testing.assert_array_equal(value, getattr(results, field), err_msg=field)
            seen[name, examples] = run.results(name)
        if examples == 12:  # the noise chunk 4..5 is redone now
            assert any("noise: examples 4..7 (redoing a chunk that held only 2)" in line
                       for line in lines)  # fmt: skip
            assert chunk_files.stored_chunk(run.chunk_path("noise", 4), 4).held == 4
        if examples in (10, 5):  # all covered by the chunks of the run of 12
            assert not any(": examples" in line for line in lines)
    for name in ("pixel", "noise"):
        first, whole = seen[name, 6], seen[name, 12]
        # Chunk 0..3 was kept; the smaller runs are the first rows of the run of 12.
        np.testing.assert_array_equal(first["probability"][:, :4], whole["probability"][:, :4])
        for examples in (10, 5):
            for field, value in seen[name, examples].items():
                if field != "epsilon":
                    axis = 1 if field in registry.load(name).PER_EPSILON else 0
                    expected = whole[field].take(np.arange(examples), axis)
                    np.testing.assert_array_equal(value, expected, err_msg=f"{name} {field}")


def test_joining_selects_examples_by_their_stored_index():
    parts = [
        {"index": np.array([4, 5]), "norm": np.array([[4.0, 5.0]]), "epsilon": np.array([1.0])},
        {"index": np.array([0, 1, 2, 3]), "norm": np.array([[0.0, 1, 2, 3]]), "epsilon": [1.0]},
        {"index": np.array([8, 9]), "norm": np.array([[8.0, 9.0]]), "epsilon": np.array([1.0])},
    ]
    joined = chunk_files.join_chunks(parts, 6, per_epsilon=("norm",))
    assert joined["index"].tolist() == list(range(6))
    assert joined["norm"].tolist() == [[0, 1, 2, 3, 4, 5]]
    with pytest.raises(ValueError, match=r"lack examples \[6, 7\]"):
        chunk_files.join_chunks(parts, 10, per_epsilon=("norm",))


def test_boundary_run_redoes_a_short_last_chunk(tiny_run, tmp_path):
    # Batches of 3 and 2, as the other tests use: no new compilations.
    changes = {"boundary.epsilons": (4.8,), "boundary.bisection_steps": 2}
    for examples in (5, 6, 4):
        lines = []
        run = runner.ChunkedRun(tmp_path, tiny_run, boundary_config(examples=examples, **changes))
        summary = run.run(log=lines.append)["boundary"]
        assert summary["examples"] == summary["cumulative_fraction"]["all"]["examples"] == examples
        assert csv_indices(tmp_path / "boundary.csv") == list(range(examples))
        assert run.results("boundary")["index"].tolist() == list(range(examples))
        if examples == 6:
            assert any("redoing a chunk that held only 2" in line for line in lines)
        if examples == 4:
            assert not any(": examples" in line for line in lines)


def save_other_model(workdir: str, target: pathlib.Path) -> None:
    """`target` as if the run in `workdir` were retrained with another seed: the same
    config and step, other weights."""
    shutil.copytree(workdir, target)
    shutil.rmtree(target / "checkpoints")
    state, config = trained_run.load_run(workdir)
    other = state.replace(params=jax.tree.map(lambda x: -x, state.params))
    manager = trainer.checkpoint_manager(epath.Path(target), config)
    manager.save(int(state.step), args=ocp.args.StandardSave(other))
    manager.wait_until_finished()
    manager.close()


def fingerprint_of(model) -> str:
    from experiments.runs.fingerprint import model_fingerprint

    return model_fingerprint(trained_run.load_run(str(model))[0])


def test_results_of_another_model_in_the_same_workdir_are_refused(tiny_run, tmp_path):
    model, out = tmp_path / "model", tmp_path / "out"
    shutil.copytree(tiny_run, model)
    config = config_with("noise", examples=2)
    first = runner.ChunkedRun(out, str(model), config)
    first.run(**QUIET)
    stored = json.loads((out / "settings.json").read_text())["model"]["fingerprint"]
    assert stored == first.model.fingerprint and len(stored) == 64
    shutil.rmtree(model)
    save_other_model(tiny_run, model)  # retrained: same path and step, other weights
    before = sorted(p.name for p in (out / "chunks").iterdir())
    with pytest.raises(ValueError) as refused:
        runner.ChunkedRun(out, str(model), config)
    assert str(refused.value) == (
        f"the model in {model} has fingerprint {fingerprint_of(model)}, but {out} holds "
        f"results of model {stored}; use a new --out"
    )
    assert sorted(p.name for p in (out / "chunks").iterdir()) == before


def test_boundary_refuses_another_analysed_model_or_navigator(tiny_run, tmp_path):
    model, other, out = tmp_path / "model", tmp_path / "other", tmp_path / "out"
    shutil.copytree(tiny_run, model)
    save_other_model(tiny_run, other)
    changes = {"examples": 2, "boundary.epsilons": (4.8,), "boundary.bisection_steps": 2}
    runner.ChunkedRun(out, str(model), boundary_config(**changes)).run(**QUIET)
    refusal = re.escape(f"the model in {other} has fingerprint {fingerprint_of(other)}, but")
    navigated = boundary_config(**changes, **{"boundary.navigator": str(model)})
    with pytest.raises(ValueError, match=refusal):
        runner.ChunkedRun(out, str(other), navigated)
    with pytest.raises(ValueError, match=refusal):
        runner.ChunkedRun(
            out, str(model), boundary_config(**changes, **{"boundary.navigator": str(other)})
        )
    # The 'attack succeeded' group must come from attacks on the analysed model.
    attacked = tmp_path / "attacked"
    runner.ChunkedRun(attacked, str(other), config_with("pixel", examples=2)).run(**QUIET)
    from_other = boundary_config(**changes, **{"boundary.attack_results": str(attacked)})
    with pytest.raises(ValueError, match="holds attacks on model"):
        runner.ChunkedRun(out, str(model), from_other)


def test_a_directory_in_use_is_refused_without_writing(tiny_run, tmp_path):
    for config in (CONFIG, boundary_config(examples=2)):
        out = tmp_path / "out"
        with locking.locked_directory(out, "analysis run"):
            with pytest.raises(locking.DirectoryInUseError, match=re.escape(f"{out} is in use")):
                runner.ChunkedRun(out, tiny_run, config)
        run = runner.ChunkedRun(out, tiny_run, config)  # made while free; then another takes it
        with locking.locked_directory(out, "analysis run"):
            with pytest.raises(locking.DirectoryInUseError, match="in use by another analysis"):
                run.run(**QUIET)
        assert [p.name for p in out.iterdir()] == [locking.LOCK_FILE]
        shutil.rmtree(out)


def test_runs_on_one_model_share_its_loaded_state(tiny_run, finished):
    """A second run on the same weights reuses the state in use, and with it the compiled
    attacks (a freshly restored state has new functions that jax would compile for)."""
    run, _ = finished
    model = runner.load_model(tiny_run)
    assert model.state is run.model.state
    assert model.fingerprint == run.model.fingerprint
