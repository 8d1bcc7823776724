"""Training on tiny models: steps from both sources, resume, failures, noise, errors."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest
import tensorflow_datasets as tfds

import squiggles
import squiggles_tfds
from experiments import data, train_lib
from experiments.configs import tiny


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
    initial = params_of(
        train_lib.create_train_state(config, jax.random.split(jax.random.key(0))[0])
    )
    state = train_lib.train_and_evaluate(config, str(tmp_path))
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
        train_lib.train_and_evaluate(config, str(tmp_path / "run"))


@pytest.mark.parametrize("source", ["online", "tfds"])
def test_killed_and_resumed_run_ends_like_an_uninterrupted_one(
    source, tiny_tfds_dir, tmp_path, monkeypatch
):
    config = tiny_config(**{
        "data.source": source, "data.tfds_name": "squiggles/tiny16",
        "data.data_dir": str(tiny_tfds_dir),
    })  # fmt: skip
    uninterrupted = train_lib.train_and_evaluate(config, str(tmp_path / "straight"))

    real_batches = data.train_batches

    def dying_batches(config, first_step=0):
        for step, batch in enumerate(real_batches(config, first_step), start=first_step):
            if step == 4:
                raise KeyboardInterrupt("killed")
            yield batch

    monkeypatch.setattr(data, "train_batches", dying_batches)
    with pytest.raises(KeyboardInterrupt):
        train_lib.train_and_evaluate(config, str(tmp_path / "resumed"))
    assert train_lib.checkpoint_manager(tmp_path / "resumed", config).latest_step() == 3
    monkeypatch.setattr(data, "train_batches", real_batches)
    resumed = train_lib.train_and_evaluate(config, str(tmp_path / "resumed"))

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
    real_step = train_lib.train_step

    def diverging_step(state, batch, noise_key, sigma, sigma_max):
        state, step_metrics = real_step(state, batch, noise_key, sigma, sigma_max)
        loss = jnp.where(state.step > 4, jnp.nan, step_metrics["loss"])
        return state, {**step_metrics, "loss": loss}

    monkeypatch.setattr(train_lib, "train_step", diverging_step)
    with pytest.raises(FloatingPointError, match="not saving"):
        train_lib.train_and_evaluate(config, str(tmp_path))
    manager = train_lib.checkpoint_manager(tmp_path, config)
    assert manager.all_steps() == [3]
    template = train_lib.create_train_state(config, jax.random.key(0))
    good = manager.restore(3, args=ocp.args.StandardRestore(template))
    assert int(good.step) == 3
    assert all(np.isfinite(leaf).all() for leaf in params_of(good))


def test_train_step_does_not_synchronise_with_the_host():
    config = tiny_config()
    state = train_lib.create_train_state(config, jax.random.key(0))
    step = jax.jit(train_lib.train_step, static_argnames=("sigma", "sigma_max"))
    batch = data.Batch(jnp.zeros((8, 16, 16)), jnp.zeros((8,), jnp.int32))
    key = jax.random.key(1)
    state, _ = step(state, batch, key, sigma=0.08, sigma_max=0.0)  # compile
    with jax.transfer_guard_device_to_host("disallow"):
        for _ in range(3):
            state, metrics = step(state, batch, key, sigma=0.08, sigma_max=0.0)
    assert isinstance(metrics["loss"], jax.Array)


def test_fixed_noise_statistics():
    images = jnp.full((256, 32, 32), 0.5)
    noisy = train_lib.add_noise(jax.random.key(0), images, sigma=0.08, sigma_max=0.0)
    noise = np.asarray(noisy - images)
    assert abs(noise.mean()) < 1e-3
    assert noise.std() == pytest.approx(0.08, rel=0.01)
    assert train_lib.add_noise(jax.random.key(0), images, 0.0, 0.0) is images


def test_uniform_sigma_noise_statistics():
    images = jnp.zeros((4000, 16, 16))
    noise = np.asarray(train_lib.add_noise(jax.random.key(0), images, sigma=0.0, sigma_max=0.2))
    per_example = noise.reshape(4000, -1).std(axis=1)
    assert abs(noise.mean()) < 1e-3
    assert noise.std() == pytest.approx(0.2 / np.sqrt(3), rel=0.02)  # sqrt(E[σ²]), σ ~ U[0, 0.2]
    assert per_example.max() <= 0.2 * 1.15 and per_example.min() < 0.01
    assert per_example.mean() == pytest.approx(0.1, rel=0.03)


@pytest.mark.parametrize(
    "changes, error, message",
    [
        ({"family": "fourier"}, ValueError, "unknown family 'fourier'"),
        ({"model.stem": "tiny"}, ValueError, "model.stem must be"),
        ({"noise.sigma": 0.1, "noise.sigma_max": 0.2}, ValueError, "not both"),
        ({"noise.sigma": -0.1}, ValueError, "must be >= 0"),
        ({"data.source": "disk"}, ValueError, "data.source must be"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
    ],
)
def test_bad_configs_fail_before_training(changes, error, message, tmp_path):
    with pytest.raises(error, match=message):
        train_lib.train_and_evaluate(tiny_config(**changes), str(tmp_path))
    assert not (tmp_path / "checkpoints").exists()


def test_a_workdir_of_another_config_is_refused(tmp_path):
    train_lib.train_and_evaluate(tiny_config(num_steps=1), str(tmp_path))
    with pytest.raises(ValueError, match=r"different config \(model differ\)"):
        train_lib.train_and_evaluate(
            tiny_config(**{"num_steps": 1, "model.width": 8}), str(tmp_path)
        )


def test_unwritable_workdir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(PermissionError, match="cannot write the training run"):
        train_lib.train_and_evaluate(tiny_config(), str(blocker / "run"))


def test_relative_workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    train_lib.train_and_evaluate(tiny_config(num_steps=3), "runs/relative")
    state, _ = train_lib.restore_state("runs/relative")
    assert int(state.step) == 3
