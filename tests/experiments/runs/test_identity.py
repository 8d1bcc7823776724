"""What a run directory vouches for: every chunk file carries the identity of the model
and settings that computed it, damaged chunks are named and redone, a model is its
fingerprint (not its path), a refused run leaves nothing behind, and summaries are
strict JSON."""

import json
import math
import os
import shutil

import numpy as np
import pytest

from experiments import locking, results
from experiments.analyses import registry
from experiments.configs.analyses import tiny
from experiments.runs import chunk_files, identity, runner, store, strict_json
from tests.experiments.analyses.test_analyses import QUIET, config_with, save_other_model


def noise_config(**changes):
    """Gaussian noise at one ε on 2 examples: the cheapest analysis there is."""
    return config_with("noise", examples=2, **{"noise.epsilons": (0.3,), **changes})


def chunk_bytes(out) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "chunks").iterdir())}


def test_chunks_of_another_model_are_refused_without_settings_json(tiny_run, tmp_path):
    model, out = tmp_path / "model", tmp_path / "out"
    save_other_model(tiny_run, model)
    runner.ChunkedRun(out, str(model), noise_config()).run(**QUIET)
    (out / "settings.json").unlink()
    (out / "summary.json").unlink()
    before = chunk_bytes(out)
    with pytest.raises(chunk_files.ForeignChunkError, match="holds results of another model"):
        runner.ChunkedRun(out, tiny_run, noise_config())
    assert chunk_bytes(out) == before
    assert not (out / "settings.json").exists()


def test_chunks_of_other_settings_are_refused_without_settings_json(tiny_run, tmp_path):
    runner.ChunkedRun(tmp_path, tiny_run, noise_config()).run(**QUIET)
    (tmp_path / "settings.json").unlink()
    with pytest.raises(chunk_files.ForeignChunkError, match="noise_000000000.npz holds results"):
        runner.ChunkedRun(tmp_path, tiny_run, noise_config(**{"noise.seed": 1}))
    # The same settings still resume from the chunk.
    lines = []
    runner.ChunkedRun(tmp_path, tiny_run, noise_config()).run(log=lines.append)
    assert lines[0].startswith("resuming: 1 chunks")


def test_reading_results_checks_each_chunk_against_settings_json(tiny_run, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    runner.ChunkedRun(first, tiny_run, noise_config()).run(**QUIET)
    runner.ChunkedRun(second, tiny_run, noise_config(**{"noise.seed": 1})).run(**QUIET)
    shutil.copy(first / "chunks" / "noise_000000000.npz", second / "chunks")
    with pytest.raises(chunk_files.ForeignChunkError, match="holds results of another model"):
        store.read_results(second, "noise")
    assert store.read_results(first, "noise").index.tolist() == [0, 1]


def test_settings_json_records_the_results_type_the_store_reads_with(tiny_run, tmp_path):
    """Reading results needs no analysis module: settings.json names the results class;
    a run written before it did is read with the class its analysis always had."""
    runner.ChunkedRun(tmp_path, tiny_run, noise_config()).run(**QUIET)
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["results"] == {"noise": "AttackResults"}
    recorded = store.read_results(tmp_path, "noise")
    assert isinstance(recorded, results.AttackResults) and recorded.probability.shape == (1, 2)
    del settings["results"]  # as runs made before wrote it
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    older = store.read_results(tmp_path, "noise")
    for field in ("index", "probability", "norm", "label_after", "epsilon"):
        np.testing.assert_array_equal(getattr(older, field), getattr(recorded, field))
    (tmp_path / "settings.json").write_text(json.dumps({**settings, "results": {"noise": "X"}}))
    with pytest.raises(ValueError, match="unknown results type 'X' of noise; expected one of"):
        store.read_results(tmp_path, "noise")


def test_results_types_of_analyses_run_before_are_kept_with_their_settings(tmp_path):
    model = {"fingerprint": "f", "workdir": "w", "family": "Taylor", "resolution": 16}

    def run_of(name: str, type_name: str) -> dict:
        return {"model": model, "chunk_size": 2, "analyses": {name: {"seed": 0}},
                "results": {name: type_name}}  # fmt: skip

    path = tmp_path / "settings.json"
    path.write_text(json.dumps({**run_of("pixel", "AttackResults"), "results": {}}))  # older
    identity.write_identity(path, run_of("boundary", "BoundaryResults"))
    assert json.loads(path.read_text())["results"] == {"boundary": "BoundaryResults"}
    identity.write_identity(path, run_of("noise", "AttackResults"))
    stored = json.loads(path.read_text())
    assert stored["results"] == {"boundary": "BoundaryResults", "noise": "AttackResults"}
    assert set(stored["analyses"]) == {"pixel", "boundary", "noise"}
    assert store.results_type(stored, "pixel") is results.AttackResults  # from the table
    identity.write_identity(path, run_of("latent", "AttackResults"), lambda name: name == "latent")
    assert json.loads(path.read_text())["results"] == {"latent": "AttackResults"}


def test_a_chunk_without_identity_needs_settings_json(tiny_run, tmp_path):
    """Chunks written before chunks recorded their identity are the directory's own when
    its settings.json agrees, and unvouched for without one."""
    runner.ChunkedRun(tmp_path, tiny_run, noise_config()).run(**QUIET)
    path = tmp_path / "chunks" / "noise_000000000.npz"
    arrays = chunk_files.read_chunk(path)
    del arrays[chunk_files.IDENTITY]
    chunk_files.save_npz(path, arrays)
    lines = []
    runner.ChunkedRun(tmp_path, tiny_run, noise_config()).run(log=lines.append)
    assert lines[0].startswith("resuming: 1 chunks")
    (tmp_path / "settings.json").unlink()
    with pytest.raises(ValueError, match="records no identity and .* has no settings.json"):
        runner.ChunkedRun(tmp_path, tiny_run, noise_config())


def test_a_truncated_chunk_is_named_and_redone(tiny_run, tmp_path):
    config = noise_config(chunk_size=1)
    runner.ChunkedRun(tmp_path, tiny_run, config).run(**QUIET)
    whole = store.read_results(tmp_path, "noise")
    path = tmp_path / "chunks" / "noise_000000001.npz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(chunk_files.DamagedChunkError, match=f"{path} is damaged"):
        store.read_results(tmp_path, "noise")
    lines = []
    runner.ChunkedRun(tmp_path, tiny_run, config).run(log=lines.append)
    redo = next(line for line in lines if "examples 1..1" in line)
    assert f"redoing it: {path} is damaged" in redo and "written atomically" in redo
    again = store.read_results(tmp_path, "noise")
    np.testing.assert_array_equal(again.probability, whole.probability)


def test_the_same_model_by_another_path_is_the_same_model(tiny_run, tmp_path):
    copy, link, out = tmp_path / "copy", tmp_path / "link", tmp_path / "out"
    shutil.copytree(tiny_run, copy)
    os.symlink(tiny_run, link)
    runner.ChunkedRun(out, tiny_run, noise_config()).run(**QUIET)
    for other in (copy, link):
        lines = []
        runner.ChunkedRun(out, str(other), noise_config()).run(log=lines.append)
        assert lines[0].startswith("resuming: 1 chunks"), lines


def no_memory(monkeypatch):
    monkeypatch.setattr(
        "squiggles.sampling.available_bytes", lambda: (1000, "on the host (MemAvailable)")
    )


def test_a_refused_run_leaves_no_directory_behind(tiny_run, tmp_path, monkeypatch):
    out = tmp_path / "new" / "out"
    no_memory(monkeypatch)
    with pytest.raises(ValueError, match="test examples of Taylor.* need about"):
        runner.ChunkedRun(out, tiny_run, noise_config())
    assert not out.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="need about"):
        runner.ChunkedRun(empty, tiny_run, noise_config())
    assert list(empty.iterdir()) == []


def test_a_run_stopped_before_its_first_chunk_blocks_nothing(tiny_run, tmp_path):
    def stop(line):
        raise KeyboardInterrupt

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        runner.ChunkedRun(out, tiny_run, noise_config()).run(log=stop)
    assert not out.exists()
    # settings.json of a run that left no result (an older version kept it) binds nothing.
    runner.ChunkedRun(out, tiny_run, noise_config()).run(**QUIET)
    shutil.rmtree(out / "chunks")
    (out / "summary.json").unlink()
    summary = runner.ChunkedRun(out, tiny_run, noise_config(**{"noise.seed": 1})).run(**QUIET)
    assert summary["noise"]["examples"] == 2
    stored = json.loads((out / "settings.json").read_text())
    assert stored["analyses"]["noise"]["seed"] == 1
    assert (out / locking.LOCK_FILE).exists()


def test_the_ford_stages_leave_no_directory_behind_a_refusal(tiny_run, tmp_path, monkeypatch):
    from experiments.runs import ford_stages

    out = tmp_path / "ford"
    examples = {"examples": 2, "distance_examples": 0, "church_examples": 0}
    no_memory(monkeypatch)
    with pytest.raises(ValueError, match="need about"):
        ford_stages.run_all(str(out), tiny_run, tiny.get_config("ford_rates"), examples)
    assert not out.exists()


def test_summaries_are_strict_json(tiny_run, tmp_path, monkeypatch):
    module = registry.load("noise")
    summarise = module.summarise
    monkeypatch.setattr(
        module, "summarise", lambda r, c: {**summarise(r, c), "never": math.inf, "n/a": math.nan}
    )
    runner.ChunkedRun(tmp_path, tiny_run, noise_config()).run(**QUIET)
    text = (tmp_path / "summary.json").read_text()

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    stored = json.loads(text, parse_constant=refuse)["noise"]
    assert (stored["never"], stored["n/a"]) == ("inf", "nan")
    summary = store.read_summary(tmp_path)["noise"]
    assert summary["never"] == math.inf and math.isnan(summary["n/a"])


def test_strict_json_round_trips_non_finite_numbers():
    value = {"a": [1.5, math.inf, -math.inf], "b": {"c": math.nan}, "d": "text"}
    text = strict_json.dumps(value)
    assert "Infinity" not in text and "NaN" not in text
    back = strict_json.loads(text)
    assert back["a"] == [1.5, math.inf, -math.inf] and math.isnan(back["b"]["c"])
    assert back["d"] == "text"
    assert strict_json.loads('{"x": Infinity}') == {"x": math.inf}  # files written before


def test_a_setting_added_later_keeps_older_runs_resumable(tiny_run, tmp_path, monkeypatch):
    """A run made before an analysis gained a setting resumes when the setting has the
    value that run used, and is another run at any other value."""
    module = registry.load("noise")
    runner.ChunkedRun(tmp_path, tiny_run, noise_config()).run(**QUIET)
    defaults = module.default_settings

    def with_radius():
        settings = defaults()
        settings.radius = "norm"
        return settings

    monkeypatch.setattr(module, "default_settings", with_radius)
    monkeypatch.setattr(module, "ADDED_SETTINGS", {"radius": "norm"}, raising=False)
    lines = []
    runner.ChunkedRun(tmp_path, tiny_run, noise_config()).run(log=lines.append)
    assert lines[0].startswith("resuming: 1 chunks")
    with pytest.raises(ValueError, match=r"differs in noise\.radius\)"):
        runner.ChunkedRun(tmp_path, tiny_run, noise_config(**{"noise.radius": "coordinate"}))


def test_a_run_refused_because_another_works_there_touches_nothing(tiny_run, tmp_path):
    """The directory, lock file and settings.json of the run that holds it stay, even
    when the refused run began before that run made them."""
    out = tmp_path / "out"
    began = runner.found(out)  # nothing there yet
    with locking.locked_directory(out, "analysis run"):
        (out / "settings.json").write_text("{}")  # as the live run would have written it
        with pytest.raises(locking.DirectoryInUseError):
            runner.ChunkedRun(out, tiny_run, noise_config(), as_found=began)
        assert sorted(p.name for p in out.iterdir()) == [locking.LOCK_FILE, "settings.json"]
