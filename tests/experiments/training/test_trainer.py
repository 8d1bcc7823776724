"""Training on tiny models: steps from both sources, resume, failures, noise, errors."""

import json
import pathlib
import re
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest
import tensorflow_datasets as tfds

import squiggles
import squiggles_tfds
from experiments import locking
from experiments.configs import tiny
from experiments.training import data, restore, trained_run, trainer


def tiny_config(**changes):
    config = tiny.get_config()
    for key, value in changes.items():
        target = config
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return config


def params_of(state):
    return jax.tree.leaves(jax.device_get(state.params))


@pytest.fixture(scope="module")
def tiny_tfds_dir(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("tfds")
    config = squiggles_tfds.SquigglesConfig(
        name="tiny16", resolution=16, train_size=64, validation_size=8, test_size=40
    )
    tfds.builder("squiggles", config=config, data_dir=data_dir).download_and_prepare()
    return data_dir


def test_online_batches_are_the_train_stream_by_step():
    config = tiny_config()
    batches = data.train_batches(config, first_step=2)
    batch = next(batches)
    batches.close()
    family = data.family_of(config)
    expected = squiggles.generate_examples(family, 8, seed=0, stream=0, start=16, resolution=16)
    np.testing.assert_array_equal(batch.images, expected.image)
    np.testing.assert_array_equal(batch.labels, expected.label.astype(np.int32))
    assert batch.images.dtype == jnp.float32 and batch.images.shape == (8, 16, 16)


@pytest.mark.parametrize("source", ["online", "tfds"])
def test_two_training_steps_from_each_source(source, tiny_tfds_dir, tmp_path):
    config = tiny_config(**{
        "num_steps": 2, "data.source": source, "data.tfds_name": "squiggles/tiny16",
        "data.data_dir": str(tiny_tfds_dir),
    })  # fmt: skip
    initial = params_of(trainer.create_train_state(config, jax.random.split(jax.random.key(0))[0]))
    state = trainer.train_and_evaluate(config, str(tmp_path))
    assert int(state.step) == 2
    assert any(not np.array_equal(a, b) for a, b in zip(initial, params_of(state), strict=True))
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train_lines = [line for line in lines if "loss" in line]
    assert [line["step"] for line in train_lines] == [2]
    assert {"loss", "accuracy", "learning_rate", "steps_per_second"} <= set(train_lines[0])
    assert np.isfinite(train_lines[0]["loss"])
    assert any("validation_roc_auc" in line for line in lines)
    assert list((tmp_path / "tensorboard").iterdir())


def test_tfds_source_with_a_missing_dataset_is_a_clear_error(tmp_path):
    config = tiny_config(**{"data.source": "tfds", "data.tfds_name": "squiggles/tiny16",
                            "data.data_dir": str(tmp_path / "empty")})  # fmt: skip
    with pytest.raises(FileNotFoundError, match="squiggles/tiny16 is not built"):
        trainer.train_and_evaluate(config, str(tmp_path / "run"))


@pytest.mark.parametrize("source", ["online", "tfds"])
def test_killed_and_resumed_run_ends_like_an_uninterrupted_one(
    source, tiny_tfds_dir, tiny_run, tmp_path, monkeypatch
):
    config = tiny_config(**{
        "data.source": source, "data.tfds_name": "squiggles/tiny16",
        "data.data_dir": str(tiny_tfds_dir),
    })  # fmt: skip
    if source == "online":  # the shared run is this one uninterrupted (it reads no tfds setting)
        uninterrupted, _ = trainer.restore_state(tiny_run)
        assert int(uninterrupted.step) == 6
    else:
        uninterrupted = trainer.train_and_evaluate(config, str(tmp_path / "straight"))

    real_batches = data.train_batches

    def dying_batches(config, first_step=0):
        for step, batch in enumerate(real_batches(config, first_step), start=first_step):
            if step == 4:
                raise KeyboardInterrupt("killed")
            yield batch

    monkeypatch.setattr(data, "train_batches", dying_batches)
    with pytest.raises(KeyboardInterrupt):
        trainer.train_and_evaluate(config, str(tmp_path / "resumed"))
    assert trainer.checkpoint_manager(tmp_path / "resumed", config).latest_step() == 3
    monkeypatch.setattr(data, "train_batches", real_batches)
    resumed = trainer.train_and_evaluate(config, str(tmp_path / "resumed"))

    for a, b in zip(params_of(uninterrupted), params_of(resumed), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    steps = [
        json.loads(x)["step"]
        for x in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()
        if "loss" in x
    ]
    assert steps == [2, 4, 6]


def test_a_diverged_run_never_overwrites_a_good_checkpoint(tmp_path, monkeypatch):
    config = tiny_config()
    real_step = trainer.train_step

    def diverging_step(state, batch, noise_key, sigma, sigma_max):
        state, step_metrics = real_step(state, batch, noise_key, sigma, sigma_max)
        loss = jnp.where(state.step > 4, jnp.nan, step_metrics["loss"])
        return state, {**step_metrics, "loss": loss}

    monkeypatch.setattr(trainer, "train_step", diverging_step)
    with pytest.raises(FloatingPointError, match="not saving"):
        trainer.train_and_evaluate(config, str(tmp_path))
    manager = trainer.checkpoint_manager(tmp_path, config)
    assert manager.all_steps() == [3]
    template = trainer.create_train_state(config, jax.random.key(0))
    good = manager.restore(3, args=ocp.args.StandardRestore(template))
    assert int(good.step) == 3
    assert all(np.isfinite(leaf).all() for leaf in params_of(good))


def test_train_step_does_not_synchronise_with_the_host():
    config = tiny_config()
    state = trainer.create_train_state(config, jax.random.key(0))
    step = jax.jit(trainer.train_step, static_argnames=("sigma", "sigma_max"))
    batch = data.Batch(jnp.zeros((8, 16, 16)), jnp.zeros((8,), jnp.int32))
    key = jax.random.key(1)
    state, _ = step(state, batch, key, sigma=0.08, sigma_max=0.0)  # compile
    with jax.transfer_guard_device_to_host("disallow"):
        for _ in range(3):
            state, metrics = step(state, batch, key, sigma=0.08, sigma_max=0.0)
    assert isinstance(metrics["loss"], jax.Array)


def test_fixed_noise_statistics():
    images = jnp.full((256, 32, 32), 0.5)
    noisy = trainer.add_noise(jax.random.key(0), images, sigma=0.08, sigma_max=0.0)
    noise = np.asarray(noisy - images)
    assert abs(noise.mean()) < 1e-3
    assert noise.std() == pytest.approx(0.08, rel=0.01)
    assert trainer.add_noise(jax.random.key(0), images, 0.0, 0.0) is images


def test_uniform_sigma_noise_statistics():
    images = jnp.zeros((4000, 16, 16))
    noise = np.asarray(trainer.add_noise(jax.random.key(0), images, sigma=0.0, sigma_max=0.2))
    per_example = noise.reshape(4000, -1).std(axis=1)
    assert abs(noise.mean()) < 1e-3
    assert noise.std() == pytest.approx(0.2 / np.sqrt(3), rel=0.02)  # sqrt(E[σ²]), σ ~ U[0, 0.2]
    assert per_example.max() <= 0.2 * 1.15 and per_example.min() < 0.01
    assert per_example.mean() == pytest.approx(0.1, rel=0.03)


@pytest.mark.parametrize(
    "changes, error, message",
    [
        ({"family": "fourier"}, ValueError, "unknown family 'fourier'"),
        ({"order": 0}, ValueError, "order must be an integer >= 1, got 0"),
        ({"model.stem": "tiny"}, ValueError, "model.stem must be"),
        ({"model.width": 0}, ValueError, "model.width must be an integer >= 1, got 0"),
        ({"model.stage_sizes": (1, 0)}, ValueError, r"model.stage_sizes must be a non-empty"),
        ({"model.stage_sizes": ()}, ValueError, r"model.stage_sizes must be a non-empty"),
        ({"noise.sigma": 0.1, "noise.sigma_max": 0.2}, ValueError, "not both"),
        ({"noise.sigma": -0.1}, ValueError, "must be a finite number >= 0"),
        ({"noise.sigma": float("nan")}, ValueError,
         "noise.sigma must be a finite number >= 0, got nan"),
        ({"noise.sigma_max": float("inf")}, ValueError,
         "noise.sigma_max must be a finite number >= 0"),
        ({"data.source": "disk"}, ValueError, "data.source must be"),
        ({"data.prefetch": -1}, ValueError, "data.prefetch must be an integer >= 0, got -1"),
        ({"batch_size": 0}, ValueError, "batch_size must be an integer >= 1"),
        ({"batch_size": None}, ValueError, "batch_size must be an integer >= 1, got None"),
        ({"num_steps": True}, ValueError, "num_steps must be an integer >= 1, got True"),
        ({"eval_examples": 0}, ValueError, "eval_examples must be an integer >= 1, got 0"),
        ({"keep_checkpoints": 0}, ValueError, "keep_checkpoints must be an integer >= 1, got 0"),
        ({"resolution": 4}, ValueError, "resolution must be an integer >= 8 for a ResNet, got 4"),
        ({"seed": -1}, ValueError, r"seed must be an integer in \[0, 4294967295\], got -1"),
        ({"optimizer.learning_rate": -1e-3}, ValueError,
         r"optimizer.learning_rate must be a finite number > 0, got -0.001"),
        ({"optimizer.learning_rate": 0.0}, ValueError,
         "optimizer.learning_rate must be a finite number > 0"),
        ({"optimizer.learning_rate": float("nan")}, ValueError,
         "optimizer.learning_rate must be a finite number > 0, got nan"),
        ({"optimizer.learning_rate": float("inf")}, ValueError, "got inf"),
        ({"optimizer.b1": 1.0}, ValueError,
         r"optimizer.b1 must be a finite number in \[0, 1\), got 1.0"),
        ({"optimizer.b2": -0.5}, ValueError, r"optimizer.b2 must be a finite number in \[0, 1\)"),
        ({"optimizer.eps": 0.0}, ValueError, "optimizer.eps must be a finite number > 0, got 0.0"),
        ({"optimizer.warmup_steps": 7}, ValueError,
         r"optimizer.warmup_steps must be an integer in \[0, 6\] \(at most num_steps\), got 7"),
        ({"optimizer.warmup_steps": -1}, ValueError,
         "optimizer.warmup_steps must be an integer in"),
        ({"batch_size": 2**20, "num_steps": 2**13}, ValueError,
         r"batch_size × num_steps must be <= 2\*\*32"),
        ({"dtype": "float16"}, ValueError,
         "dtype must be one of 'float32', 'bfloat16', got 'float16'"),
    ],
)  # fmt: skip
def test_bad_configs_fail_before_anything_is_written(changes, error, message, tmp_path):
    workdir = tmp_path / "run"
    with pytest.raises(error, match=message):
        trainer.train_and_evaluate(tiny_config(**changes), str(workdir))
    assert not workdir.exists()


def test_without_warm_up_the_schedule_is_the_cosine_decay_of_the_paper():
    config = tiny_config()
    schedule = trainer.learning_rate_schedule(config)
    reference = optax.warmup_cosine_decay_schedule(2e-3, 2e-3, 0, 6)
    for step in range(8):
        assert float(schedule(step)) == pytest.approx(float(reference(step)), abs=1e-12)
    warm = trainer.learning_rate_schedule(tiny_config(**{"optimizer.warmup_steps": 2}))
    assert float(warm(0)) == 0.0 and float(warm(2)) == pytest.approx(2e-3)


def test_a_workdir_in_use_is_refused_before_anything_is_written(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 2, "loss": 0.5}\n')
    (tmp_path / "checkpoints" / "3").mkdir(parents=True)
    (tmp_path / "checkpoints" / "3" / "data").write_text("weights")
    before = snapshot(tmp_path)
    with locking.locked_directory(tmp_path, "training run"):
        with pytest.raises(locking.DirectoryInUseError, match="in use by another training run"):
            trainer.train_and_evaluate(tiny_config(), str(tmp_path))
        assert snapshot(tmp_path) == before
    assert not (tmp_path / "config.json").exists()


def snapshot(directory, skip=(locking.LOCK_FILE,)) -> dict:
    """Every file under `directory` (but `skip`) with its bytes and modification time."""
    return {
        str(path.relative_to(directory)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name not in skip
    }


# orbax leaves the coroutines of a failed restore unawaited (reported when collected);
# the library reports the failure itself, in one warning. `collect_failed_restores` collects
# them before the test ends, so that no later test reports them.
IGNORE_LEFTOVERS = pytest.mark.filterwarnings(
    "ignore:coroutine .* was never awaited:RuntimeWarning",
    "ignore::pytest.PytestUnraisableExceptionWarning",
)


def FAILED_RESTORE(test):
    return IGNORE_LEFTOVERS(pytest.mark.usefixtures("collect_failed_restores")(test))


def corrupt(workdir, step):
    """Truncates the array data of a checkpoint, as a disk error or a killed copy would."""
    files = [f for f in (workdir / "checkpoints" / str(step)).rglob("*") if f.parent.name == "d"]
    assert files
    for path in files:
        with path.open("r+b") as f:
            f.truncate(10)


@FAILED_RESTORE
def test_reading_a_run_skips_a_corrupt_newest_checkpoint_and_writes_nothing(
    tiny_run, tmp_path, caplog
):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy)
    corrupt(copy, 6)
    before = snapshot(copy)
    state, _ = trainer.restore_state(str(copy))
    assert int(state.step) == 3
    assert snapshot(copy) == before
    assert sorted(p.name for p in (copy / "checkpoints").iterdir()) == ["3", "6"]
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert "checkpoint at step 6 does not restore" in warning
    assert "using the one at step 3" in warning and "left in place" in warning


@FAILED_RESTORE
def test_training_resumes_from_the_newest_checkpoint_that_restores(tiny_run, tmp_path, caplog):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy)
    corrupt(copy, 6)
    corrupt_bytes = {p.name: p.read_bytes() for p in (copy / "checkpoints" / "6").rglob("*")
                     if p.is_file()}  # fmt: skip
    state = trainer.train_and_evaluate(tiny_config(), str(copy))
    assert int(state.step) == 6
    # The same weights as the run that was never corrupted: it redid steps 4 to 6.
    original, _ = trainer.restore_state(tiny_run)
    for a, b in zip(params_of(original), params_of(state), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    kept = [p for p in (copy / "checkpoints").iterdir() if p.name.startswith("corrupt-6-")]
    assert len(kept) == 1
    assert {p.name: p.read_bytes() for p in kept[0].rglob("*") if p.is_file()} == corrupt_bytes
    assert trainer.checkpoint_manager(copy, tiny_config()).all_steps() == [3, 6]
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert "checkpoint at step 6 does not restore" in warning and str(kept[0]) in warning
    steps = [json.loads(x)["step"] for x in (copy / "metrics.jsonl").read_text().splitlines()
             if "loss" in x]  # fmt: skip
    assert steps == [2, 4, 6]


@FAILED_RESTORE
def test_when_no_checkpoint_restores_training_stops_and_keeps_them(tiny_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy)
    corrupt(copy, 3)
    corrupt(copy, 6)
    before = snapshot(copy)
    with pytest.raises(restore.CheckpointError, match="no checkpoint in .* can be restored"):
        trainer.train_and_evaluate(tiny_config(), str(copy))
    assert snapshot(copy) == before


def test_a_workdir_of_another_config_is_refused(tiny_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy)
    before = snapshot(copy)
    with pytest.raises(ValueError, match=r"different config \(model differ\)"):
        trainer.train_and_evaluate(tiny_config(**{"model.width": 8}), str(copy))
    assert snapshot(copy) == before


def damage_config(saved: dict, text: str, damage: str) -> str:
    """config.json's text, damaged as a full disk, a killed copy or a hand edit would."""
    if damage == "empty object":
        return "{}"
    if damage == "truncated":
        return text[: len(text) // 2]
    if damage == "fields missing":
        return json.dumps({"identity": {"seed": 0}, "config": saved["config"]})
    return json.dumps({**saved, "config": {**saved["config"], "model": {}}})  # no model


@pytest.mark.parametrize(
    "damage, message",
    [("empty object", "is damaged or incomplete: it holds no 'identity' object"),
     ("truncated", "is damaged: it is not valid JSON"),
     ("fields missing", "is damaged or incomplete: its 'identity' lacks family, order, width"),
     ("model missing", "is damaged or incomplete: its config builds no model")],
)  # fmt: skip
def test_a_damaged_config_json_is_named_and_not_taken_for_a_checkpoint_mismatch(
    damage, message, tiny_run, tmp_path
):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy)
    path = copy / "config.json"
    text = path.read_text()
    path.write_text(damage_config(json.loads(text), text, damage))
    before = snapshot(copy)
    readers = [trained_run.load_run]  # evaluate, analyse and the attacks read runs with it
    if damage != "model missing":  # only restoring builds the model of config.json
        readers.append(trainer.read_config)
        readers.append(lambda workdir: trainer.train_and_evaluate(tiny_config(), workdir))
    for read in readers:
        with pytest.raises(trainer.ConfigFileError, match=re.escape(f"{path} {message}")):
            read(str(copy))
    assert snapshot(copy) == before


def test_a_float32_run_keeps_its_identity_and_another_dtype_is_refused(tiny_run, tmp_path):
    saved = json.loads((pathlib.Path(tiny_run) / "config.json").read_text())["identity"]
    assert "dtype" not in saved  # as in runs made before config.dtype existed
    assert trainer.identity(tiny_config()) == saved
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy)
    before = snapshot(copy)
    with pytest.raises(ValueError, match=r"different config \(dtype differ\)"):
        trainer.train_and_evaluate(tiny_config(dtype="bfloat16"), str(copy))
    assert snapshot(copy) == before


def test_unwritable_workdir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(PermissionError, match="cannot write the training run"):
        trainer.train_and_evaluate(tiny_config(), str(blocker / "run"))


def test_relative_workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    trainer.train_and_evaluate(tiny_config(num_steps=3), "runs/relative")
    state, _ = trainer.restore_state("runs/relative")
    assert int(state.step) == 3
