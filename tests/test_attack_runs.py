"""Attack runs, boundary distances and figures on a tiny trained model."""

import csv
import dataclasses
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
from experiments import attack_lib, attacks, boundary, eval_lib, figures, locking, train_lib
from experiments.configs import tiny

ROOT = pathlib.Path(__file__).resolve().parents[1]
SETTINGS = attack_lib.AttackSettings(
    epsilons=(0.3, 1.2, 4.8), latent_epsilons=(0.3, 2.4), examples=10, chunk_size=4, steps=4
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny")
    train_lib.train_and_evaluate(tiny.get_config(), str(path))
    return str(path)


@pytest.fixture(scope="module")
def finished(workdir, tmp_path_factory):
    out = tmp_path_factory.mktemp("attack")
    run = attack_lib.AttackRun(out, workdir, SETTINGS)
    return run, run.run(log=lambda line: None)


def test_pixel_attack_results(finished):
    run, summary = finished
    pixel = run.results("pixel")
    assert pixel["index"].tolist() == list(range(10))
    assert pixel["attacked"].shape == (3, 10, 16, 16)
    for k, epsilon in enumerate(SETTINGS.epsilons):
        assert pixel["norm"][k].max() <= epsilon * (1 + 1e-3)  # float16 storage
        assert pixel["attacked"][k].min() >= 0 and pixel["attacked"][k].max() <= 1
    np.testing.assert_array_equal(
        pixel["label_after"], np.repeat(pixel["label_before"][None], 3, 0)
    )
    # Carried successes: accuracy under attack never rises with ε.
    accuracy = [row["accuracy"] for row in summary["pixel"]["per_epsilon"]]
    assert accuracy == sorted(accuracy, reverse=True)
    assert accuracy[0] <= summary["pixel"]["clean_accuracy"]
    chunk = attack_lib.Chunk.load(run.family, 16, 0, 10)
    np.testing.assert_array_equal(pixel["label_before"], chunk.labels)
    # The stored probabilities are the model's on the stored attacked images.
    again = attack_lib.probabilities(run.state, pixel["attacked"][1].astype(np.float32))
    np.testing.assert_allclose(again, pixel["probability"][1], atol=2e-2)


def test_noise_has_norm_epsilon_and_latent_labels_are_recomputed(finished):
    run, summary = finished
    noise = run.results("noise")
    for k, epsilon in enumerate(SETTINGS.epsilons):
        np.testing.assert_allclose(noise["norm"][k], epsilon, rtol=1e-5)
    latent = run.results("latent")
    for k, epsilon in enumerate(SETTINGS.latent_epsilons):
        assert latent["norm"][k].max() <= epsilon * (1 + 1e-5)
        recomputed = attacks.true_labels(jnp.asarray(latent["attacked"][k]), run.family)
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
    assert len(rows) == 1 + 10 * len(SETTINGS.latent_epsilons)
    stored = json.loads((run.out / "summary.json").read_text())
    assert stored["latent"] == summary["latent"]


def test_interrupted_run_resumes_to_the_same_results(workdir, finished, tmp_path):
    seen = []

    def stop_after_two_chunks(line):
        seen.append(line)
        if sum(line.startswith("progress") for line in seen) == 2:
            raise KeyboardInterrupt

    run = attack_lib.AttackRun(tmp_path, workdir, SETTINGS)
    with pytest.raises(KeyboardInterrupt):
        run.run(log=stop_after_two_chunks)
    assert len(list((tmp_path / "chunks").glob("*.npz"))) == 2
    assert not (tmp_path / "summary.json").exists()
    # A half-written chunk (killed while saving) is not taken for a finished one.
    (tmp_path / "chunks" / ".noise_000000008.npz.partial").write_bytes(b"half")
    lines = []
    attack_lib.AttackRun(tmp_path, workdir, SETTINGS).run(log=lines.append)
    assert lines[0].startswith("resuming: 2 chunks")
    for attack in SETTINGS.attacks:
        resumed, whole = run.results(attack), finished[0].results(attack)
        for name in whole:
            np.testing.assert_array_equal(resumed[name], whole[name], err_msg=f"{attack} {name}")


def test_another_setting_is_refused_and_loses_nothing(workdir, finished):
    run, _ = finished
    before = sorted(p.name for p in (run.out / "chunks").iterdir())
    other = attack_lib.AttackSettings(**{**SETTINGS.__dict__, "steps": 5})
    with pytest.raises(ValueError, match="differs in steps"):
        attack_lib.AttackRun(run.out, workdir, other)
    assert sorted(p.name for p in (run.out / "chunks").iterdir()) == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"attacks": ("pixel", "fgsm")}, "unknown attacks \\['fgsm'\\]"),
        ({"epsilons": (0.3, -1.0)}, "epsilons must be positive"),
        ({"latent_epsilons": (1.0, 0.5)}, "latent_epsilons must be strictly increasing"),
        ({"examples": 0}, "examples must be at least 1"),
        ({"pixel_range": (1.0, 0.0)}, "low < high"),
    ],
)
def test_bad_settings(change, message):
    with pytest.raises(ValueError, match=message):
        attack_lib.AttackSettings(**change)


def test_binary_reports_bad_flags_and_missing_runs(tmp_path):
    def attack(*flags):
        return subprocess.run(
            [sys.executable, "-m", "experiments.attack", f"--out={tmp_path / 'out'}", *flags],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    result = attack(f"--workdir={tmp_path}", "--epsilons=0.1,big")
    assert result.returncode != 0
    assert "error: --epsilons must be a comma-separated list of numbers" in result.stderr
    result = attack(f"--workdir={tmp_path / 'nothing'}")
    assert result.returncode != 0 and "is not a training run" in result.stderr
    with locking.locked_directory(tmp_path / "out", "attack run"):
        result = attack(f"--workdir={tmp_path / 'nothing'}")
    assert result.returncode != 0
    assert f"error: {tmp_path / 'out'} is in use by another attack run (pid" in result.stderr


def test_bisection_finds_the_label_change_on_a_known_path():
    family = squiggles.Taylor()
    # y = t³ − c·t with x = t²: simple for c ≤ 0, crossing for c > 0 (see test_attacks).
    start = np.array([[[0, 2, 0, 0, 0, 0, 0], [1, 0, 6, 0, 0, 0, 0]]], np.float32)
    end = start.copy()
    end[0, 1, 0] = -3.0  # c goes from -1 to 3: the truth changes near c = 0, a quarter in
    label = attacks.true_labels(start, family)
    assert not label[0] and attacks.true_labels(end, family)[0]
    fraction, point = boundary.bisect_on_true_label(family, start, end, label, steps=20)
    assert attacks.true_labels(point, family)[0]
    assert 0.2 < fraction[0] <= 0.3
    coarse, _ = boundary.bisect_on_true_label(family, start, end, label, steps=3)
    assert fraction[0] <= coarse[0] <= fraction[0] + 2**-3


def test_boundary_run(workdir, finished, tmp_path):
    settings = boundary.BoundarySettings(epsilons=(0.6, 2.4, 4.8), examples=6, chunk_size=3,
                                         steps=10, bisection_steps=12)  # fmt: skip
    run = boundary.BoundaryRun(tmp_path, workdir, settings)
    summary = run.run(str(finished[0].out), 1.2, log=lambda line: None)
    chunks = attack_lib.load_chunks([run.chunk_path(0), run.chunk_path(3)])
    found_at = np.concatenate([c["found_at"] for c in chunks])
    grid = np.concatenate([c["grid_distance"] for c in chunks])
    refined = np.concatenate([c["refined_distance"] for c in chunks])
    points = np.concatenate([c["boundary_point"] for c in chunks])
    labels = np.concatenate([c["label"] for c in chunks])
    found = found_at >= 0
    assert found.any()
    # The refined point has the other true label and lies within the grid bracket.
    np.testing.assert_array_equal(attacks.true_labels(points[found], run.family), ~labels[found])
    assert np.all((refined[found] > 0) & (refined[found] <= grid[found] * (1 + 1e-5)))
    assert np.all(np.isinf(grid[~found]) & np.isinf(refined[~found]))
    cdf = summary["cumulative_fraction"]
    assert set(cdf) == {"all", "misclassified", "attack_succeeded"}
    assert cdf["all"]["examples"] == 6
    assert cdf["all"]["grid"] == pytest.approx([np.mean(grid <= e) for e in settings.epsilons])
    assert all(r >= g for r, g in zip(cdf["all"]["refined"], cdf["all"]["grid"], strict=True))
    with pytest.raises(ValueError, match="no results at ε=0.5"):
        boundary.attack_successes(str(finished[0].out), 0.5, np.arange(6))


def test_figures_are_written_with_their_numbers(workdir, finished, tmp_path):
    run, _ = finished
    out = tmp_path / "figures"
    out.mkdir()
    from etils import epath

    out = epath.Path(out)
    figures.accuracy_against_epsilon([str(run.out)], out)
    figures.latent_attack_curves(str(run.out), str(run.out), out)
    figures.attacked_curve(str(run.out), 0, [0.3, 1.2], out)
    figures.error_grids([str(run.out)], str(run.out), 1.2, 2.4, out)
    figures.side_by_side(str(run.out), str(run.out), 4.8, 2.4, out)
    for name in ("fig10_pgd_vs_noise", "fig9_latent_attacks", "fig3_attacked_curve",
                 "fig7_errors_by_class"):  # fmt: skip
        assert (out / f"{name}.png").exists(), name
    rows = (out / "fig10_pgd_vs_noise.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * len(SETTINGS.epsilons)
    record = json.loads((out / "fig3_attacked_curve.json").read_text())
    assert [a["epsilon"] for a in record["attacks"]] == [0.3, 1.2, 0.3, 1.2]
    with pytest.raises(ValueError, match="no results at ε=0.7"):
        figures.error_grids([str(run.out)], None, 0.7, 2.4, out)


def test_blocks_of_unrolled_iterations_run_the_same_attack(finished):
    run, _ = finished
    chunk = attack_lib.Chunk.load(run.family, 16, 0, 6)
    labels = chunk.labels.astype(np.int32)
    for space in ({"clip": (0.0, 1.0)}, {"family": run.family, "resolution": 16}):
        x0 = chunk.images if "clip" in space else chunk.latents
        one_loop, blocks = (
            attack_lib.run_pgd(run.state, x0, labels, 0.5, steps=7, step_fraction=0.04,
                               block=block, **space)
            for block in (0, 3)
        )  # fmt: skip
        np.testing.assert_allclose(blocks, one_loop, atol=1e-4)
        assert float(jnp.abs(blocks - x0).max()) > 0


# ---------------------------------------------------------------- issue 11


def csv_indices(path) -> list[int]:
    return [int(row["index"]) for row in csv.DictReader(io.StringIO(path.read_text()))]


def test_extending_past_a_short_last_chunk_and_shrinking_keep_exactly_n_rows(workdir, tmp_path):
    """6, then 12 (the short chunk 4..5 is redone), then 10 and 5 (no work): each summary
    and CSV describes exactly the examples 0..N-1, joined by their stored indices."""
    settings = dataclasses.replace(SETTINGS, attacks=("pixel", "noise"), epsilons=(0.3, 1.2))
    seen = {}

    def stop_after_the_first_chunk(line):
        if line.startswith("progress"):
            raise KeyboardInterrupt

    for examples in (6, 12, 10, 5):
        if examples == 12:  # interrupted right after redoing the short pixel chunk 4..5
            run = attack_lib.AttackRun(
                tmp_path, workdir, dataclasses.replace(settings, examples=12)
            )
            with pytest.raises(KeyboardInterrupt):
                run.run(log=stop_after_the_first_chunk)
            assert attack_lib.stored_count(run.chunk_path("pixel", 4), 4) == 4
            # The summary of 6 no longer matches the pixel chunks: it is gone.
            assert not (tmp_path / "summary.json").exists()
            assert not (tmp_path / "pixel.csv").exists()
            with pytest.raises(FileNotFoundError, match="no finished attack run"):
                attack_lib.read_results(tmp_path, "pixel")
        lines = []
        run = attack_lib.AttackRun(
            tmp_path, workdir, dataclasses.replace(settings, examples=examples)
        )
        summary = run.run(log=lines.append)
        assert summary["examples"] == examples
        assert json.loads((tmp_path / "summary.json").read_text())["examples"] == examples
        for attack in settings.attacks:
            results = attack_lib.read_results(tmp_path, attack)
            assert results["index"].tolist() == list(range(examples))
            assert csv_indices(tmp_path / f"{attack}.csv") == list(range(examples)) * 2
            assert results["probability"].shape == (2, examples)
            for name, value in run.results(attack).items():
                np.testing.assert_array_equal(value, results[name], err_msg=name)
            seen[attack, examples] = results
        if examples == 12:  # the noise chunk 4..5 is redone now
            assert any("noise: examples 4..7 (redoing a chunk that held only 2)" in line
                       for line in lines)  # fmt: skip
            assert attack_lib.stored_count(run.chunk_path("noise", 4), 4) == 4
        if examples in (10, 5):  # all covered by the chunks of the run of 12
            assert not any(": examples" in line for line in lines)
    for attack in settings.attacks:
        first, whole = seen[attack, 6], seen[attack, 12]
        # Chunk 0..3 was kept; the smaller runs are the first rows of the run of 12.
        np.testing.assert_array_equal(first["probability"][:, :4], whole["probability"][:, :4])
        for examples in (10, 5):
            for name, value in seen[attack, examples].items():
                if name != "epsilon":
                    axis = 1 if name in attack_lib.PER_EPSILON else 0
                    expected = whole[name].take(np.arange(examples), axis)
                    np.testing.assert_array_equal(value, expected, err_msg=f"{attack} {name}")


def test_joining_selects_examples_by_their_stored_index():
    parts = [
        {"index": np.array([4, 5]), "norm": np.array([[4.0, 5.0]]), "epsilon": np.array([1.0])},
        {"index": np.array([0, 1, 2, 3]), "norm": np.array([[0.0, 1, 2, 3]]), "epsilon": [1.0]},
        {"index": np.array([8, 9]), "norm": np.array([[8.0, 9.0]]), "epsilon": np.array([1.0])},
    ]
    joined = attack_lib.join_chunks(parts, 6)
    assert joined["index"].tolist() == list(range(6))
    assert joined["norm"].tolist() == [[0, 1, 2, 3, 4, 5]]
    with pytest.raises(ValueError, match=r"lack examples \[6, 7\]"):
        attack_lib.join_chunks(parts, 10)


def test_boundary_run_redoes_a_short_last_chunk(workdir, tmp_path):
    # Batches of 3 and 2, as the other tests use: no new compilations.
    settings = boundary.BoundarySettings(epsilons=(4.8,), examples=5, chunk_size=3, steps=10,
                                         bisection_steps=2)  # fmt: skip
    for examples in (5, 6, 4):
        lines = []
        run = boundary.BoundaryRun(
            tmp_path, workdir, dataclasses.replace(settings, examples=examples)
        )
        summary = run.run(log=lines.append)
        assert summary["examples"] == summary["cumulative_fraction"]["all"]["examples"] == examples
        assert csv_indices(tmp_path / "distances.csv") == list(range(examples))
        assert run.results()["index"].tolist() == list(range(examples))
        if examples == 6:
            assert any("redoing a chunk that held only 2" in line for line in lines)
        if examples == 4:
            assert not any(": examples" in line for line in lines)


def save_other_model(workdir: str, target: pathlib.Path) -> None:
    """`target` as if the run in `workdir` were retrained with another seed: the same
    config and step, other weights."""
    shutil.copytree(workdir, target)
    shutil.rmtree(target / "checkpoints")
    state, config = eval_lib.load_run(workdir)
    other = state.replace(params=jax.tree.map(lambda x: -x, state.params))
    manager = train_lib.checkpoint_manager(epath.Path(target), config)
    manager.save(int(state.step), args=ocp.args.StandardSave(other))
    manager.wait_until_finished()
    manager.close()


def test_results_of_another_model_in_the_same_workdir_are_refused(workdir, tmp_path):
    model, out = tmp_path / "model", tmp_path / "out"
    shutil.copytree(workdir, model)
    settings = dataclasses.replace(SETTINGS, attacks=("noise",), examples=2)
    first = attack_lib.AttackRun(out, str(model), settings)
    first.run(log=lambda line: None)
    stored = json.loads((out / "settings.json").read_text())["fingerprint"]
    assert stored == first.identity["fingerprint"] and len(stored) == 64
    shutil.rmtree(model)
    save_other_model(workdir, model)  # retrained: same path and step, other weights
    before = sorted(p.name for p in (out / "chunks").iterdir())
    with pytest.raises(ValueError) as refused:
        attack_lib.AttackRun(out, str(model), settings)
    other = fingerprint_of(model)
    assert str(refused.value) == (
        f"the model in {model} has fingerprint {other}, but {out} holds results of "
        f"model {stored}; use a new --out"
    )
    assert sorted(p.name for p in (out / "chunks").iterdir()) == before


def fingerprint_of(model) -> str:
    from experiments.fingerprint import model_fingerprint

    return model_fingerprint(eval_lib.load_run(str(model))[0])


def test_boundary_refuses_another_analysed_model_or_navigator(workdir, tmp_path):
    model, other, out = tmp_path / "model", tmp_path / "other", tmp_path / "out"
    shutil.copytree(workdir, model)
    save_other_model(workdir, other)
    settings = boundary.BoundarySettings(epsilons=(4.8,), examples=2, chunk_size=3, steps=10,
                                         bisection_steps=2)  # fmt: skip
    boundary.BoundaryRun(out, str(model), settings).run(log=lambda line: None)
    refusal = re.escape(f"the model in {other} has fingerprint {fingerprint_of(other)}, but")
    with pytest.raises(ValueError, match=refusal):
        boundary.BoundaryRun(out, str(other), settings, navigator=str(model))
    with pytest.raises(ValueError, match=refusal):
        boundary.BoundaryRun(out, str(model), settings, navigator=str(other))
    # The 'attack succeeded' group must come from attacks on the analysed model.
    attacked = tmp_path / "attacked"
    noise = dataclasses.replace(SETTINGS, attacks=("noise",), examples=2)
    attack_lib.AttackRun(attacked, str(other), noise).run(log=lambda line: None)
    with pytest.raises(ValueError, match="holds attacks on model"):
        boundary.BoundaryRun(out, str(model), settings).run(str(attacked), 0.3)


def test_a_directory_in_use_is_refused_without_writing(workdir, tmp_path):
    settings = boundary.BoundarySettings(epsilons=(4.8,), examples=2, chunk_size=3, steps=10)
    for make in (
        lambda out: attack_lib.AttackRun(out, workdir, SETTINGS),
        lambda out: boundary.BoundaryRun(out, workdir, settings),
    ):
        out = tmp_path / "out"
        with locking.locked_directory(out, "attack run"):
            with pytest.raises(locking.DirectoryInUseError, match=re.escape(f"{out} is in use")):
                make(out)
        run = make(out)  # constructed while free; then another run takes the directory
        with locking.locked_directory(out, "attack run"):
            with pytest.raises(locking.DirectoryInUseError, match="in use by another attack run"):
                run.run(log=lambda line: None)
        assert [p.name for p in out.iterdir()] == [locking.LOCK_FILE]
        shutil.rmtree(out)


def test_runs_on_one_model_share_its_loaded_state(workdir, finished):
    """A second run on the same weights reuses the state in use, and with it the compiled
    attacks (a freshly restored state has new functions that jax would compile for)."""
    run, _ = finished
    state, _, fingerprint = attack_lib.load_model(workdir)
    assert state is run.state
    assert fingerprint == run.identity["fingerprint"]
