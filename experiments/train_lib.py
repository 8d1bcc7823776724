"""Training: state, a pure jitted train step, checkpoints, metrics and the loop."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp
from absl import logging
from etils import epath
from flax.training import train_state

from experiments import data, metrics, metrics_io
from experiments.models import ResNet
from squiggles_tfds.storage import ensure_writable_dir

# Fields that define what a checkpoint is; a workdir must not be resumed with others.
IDENTITY_FIELDS = ("seed", "family", "order", "width", "resolution", "model", "optimizer",
                   "batch_size", "num_steps", "noise", "data")  # fmt: skip


class TrainState(train_state.TrainState):
    batch_stats: Any


def make_model(config: ml_collections.ConfigDict) -> ResNet:
    return ResNet(
        stage_sizes=tuple(config.model.stage_sizes),
        width=config.model.width,
        stem=config.model.stem,
    )


def learning_rate_schedule(config: ml_collections.ConfigDict) -> optax.Schedule:
    """Cosine decay from the peak to 0 over the run, after an optional linear warm-up."""
    opt = config.optimizer
    return optax.warmup_cosine_decay_schedule(
        0.0 if opt.warmup_steps else opt.learning_rate,
        opt.learning_rate,
        opt.warmup_steps,
        max(config.num_steps, opt.warmup_steps + 1),
    )


def create_train_state(config: ml_collections.ConfigDict, key: jax.Array) -> TrainState:
    model = make_model(config)
    variables = model.init(key, jnp.zeros((1, config.resolution, config.resolution)), train=False)
    opt = config.optimizer
    tx = optax.adam(learning_rate_schedule(config), b1=opt.b1, b2=opt.b2, eps=opt.eps)
    return TrainState.create(
        apply_fn=model.apply,
        params=variables["params"],
        batch_stats=variables["batch_stats"],
        tx=tx,
    )


def add_noise(key: jax.Array, images: jax.Array, sigma: float, sigma_max: float) -> jax.Array:
    """Gaussian pixel noise: fixed sigma, or sigma ~ U[0, sigma_max] per example."""
    if sigma_max > 0:
        scale_key, key = jax.random.split(key)
        scale = jax.random.uniform(scale_key, (images.shape[0],) + (1,) * (images.ndim - 1))
        sigma = sigma_max * scale
    if not sigma_max and not sigma:
        return images
    return images + sigma * jax.random.normal(key, images.shape, images.dtype)


def train_step(
    state: TrainState, batch: data.Batch, noise_key: jax.Array, sigma: float, sigma_max: float
) -> tuple[TrainState, dict[str, jax.Array]]:
    """One Adam step on softmax cross-entropy. Pure: all randomness comes from
    fold_in(noise_key, step). Returns device arrays only (no host sync)."""
    images = add_noise(jax.random.fold_in(noise_key, state.step), batch.images, sigma, sigma_max)

    def loss_fn(params):
        logits, updates = state.apply_fn(
            {"params": params, "batch_stats": state.batch_stats},
            images,
            train=True,
            mutable=["batch_stats"],
        )
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch.labels).mean()
        return loss, (logits, updates["batch_stats"])

    (loss, (logits, batch_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    step_metrics = {"loss": loss, "accuracy": jnp.mean(jnp.argmax(logits, -1) == batch.labels)}
    return state.apply_gradients(grads=grads, batch_stats=batch_stats), step_metrics


def check_config(config: ml_collections.ConfigDict) -> None:
    """Clear errors for settings that would otherwise fail deep inside JAX."""
    data.family_of(config)
    if config.resolution < 8:
        raise ValueError(f"resolution must be >= 8 for a ResNet, got {config.resolution}")
    if config.model.stem not in ("imagenet", "small"):
        raise ValueError(f"model.stem must be 'imagenet' or 'small', got {config.model.stem!r}")
    if config.noise.sigma < 0 or config.noise.sigma_max < 0:
        raise ValueError("noise.sigma and noise.sigma_max must be >= 0")
    if config.noise.sigma > 0 and config.noise.sigma_max > 0:
        raise ValueError("set either noise.sigma (fixed) or noise.sigma_max (uniform), not both")
    for name in ("batch_size", "num_steps", "log_every", "eval_every", "checkpoint_every"):
        if config[name] < 1:
            raise ValueError(f"{name} must be >= 1, got {config[name]}")
    if config.data.source not in ("online", "tfds"):
        raise ValueError(f"data.source must be 'online' or 'tfds', got {config.data.source!r}")


def identity(config: ml_collections.ConfigDict) -> dict:
    as_dict = config.to_dict()
    return json.loads(json.dumps({k: as_dict[k] for k in IDENTITY_FIELDS}, default=list))


def checkpoint_manager(workdir: epath.Path, config: ml_collections.ConfigDict):
    return ocp.CheckpointManager(
        workdir / "checkpoints",
        options=ocp.CheckpointManagerOptions(max_to_keep=config.keep_checkpoints, create=True),
    )


def _validation(config: ml_collections.ConfigDict, state: TrainState) -> dict[str, float]:
    batches = data.evaluation_batches(
        data.family_of(config),
        config.resolution,
        config.eval_examples,
        stream=data.VALIDATION_STREAM,
        seed=config.seed,
        batch_size=min(config.batch_size, 1000),
    )
    result = metrics.evaluate(state, batches)
    return {"accuracy": result["accuracy"], "roc_auc": result["roc_auc"]}


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> TrainState:
    """Trains (or resumes) in `workdir`: checkpoints, metrics.jsonl, TensorBoard."""
    check_config(config)
    workdir = ensure_writable_dir(workdir, "the training run")
    config_path = workdir / "config.json"
    if config_path.exists():
        saved = json.loads(config_path.read_text())
        if saved["identity"] != identity(config):
            changed = sorted(
                k for k in IDENTITY_FIELDS if saved["identity"].get(k) != identity(config)[k]
            )
            raise ValueError(
                f"{workdir} holds a run with a different config ({', '.join(changed)} differ); "
                "use a new --workdir"
            )
    else:
        config_path.write_text(
            json.dumps(
                {"identity": identity(config), "config": config.to_dict()}, indent=2, default=list
            )
        )

    root_key = jax.random.key(config.seed)
    init_key, noise_key = jax.random.split(root_key)
    state = create_train_state(config, init_key)
    manager = checkpoint_manager(workdir, config)
    start = manager.latest_step() or 0
    if start:
        state = manager.restore(start, args=ocp.args.StandardRestore(state))
        logging.info("resumed from the checkpoint at step %d", start)
    writer = metrics_io.MetricsWriter(workdir, resume_step=start)
    try:
        with contextlib.closing(data.train_batches(config, start)) as batches:
            return _train_loop(config, state, batches, start, noise_key, manager, writer)
    finally:
        # Also on failure or Ctrl-C: finish writing checkpoints already started.
        manager.wait_until_finished()
        manager.close()
        writer.close()


def _train_loop(config, state, batches, start, noise_key, manager, writer) -> TrainState:
    schedule = learning_rate_schedule(config)
    step_fn = jax.jit(
        train_step, static_argnames=("sigma", "sigma_max"), donate_argnames=("state",)
    )
    pending: list[dict[str, jax.Array]] = []
    progress = metrics_io.Progress(config.num_steps, start)
    for step in range(start, config.num_steps):
        batch = next(batches)
        state, step_metrics = step_fn(
            state, batch, noise_key, sigma=config.noise.sigma, sigma_max=config.noise.sigma_max
        )
        pending.append(step_metrics)
        done = step + 1
        if done % config.log_every == 0 or done == config.num_steps:
            summary = {k: float(np.mean(v)) for k, v in jax.device_get(_stack(pending)).items()}
            pending.clear()
            if not np.isfinite(summary["loss"]):
                raise FloatingPointError(f"loss is {summary['loss']} at step {done}; not saving")
            summary["learning_rate"] = float(schedule(done - 1))
            summary.update(progress.update(done))
            writer.write(done, summary)
            logging.info("%s", progress.line(done, summary))
        if done % config.eval_every == 0 or done == config.num_steps:
            writer.write(
                done, {f"validation_{k}": v for k, v in _validation(config, state).items()}
            )
        if done % config.checkpoint_every == 0 or done == config.num_steps:
            # Never replace a good checkpoint with a diverged state.
            losses = np.asarray(jax.device_get([m["loss"] for m in pending]))
            if not np.isfinite(losses).all():
                raise FloatingPointError(f"loss is not finite before step {done}; not saving")
            manager.save(done, args=ocp.args.StandardSave(state))
    return state


def _stack(step_metrics: list[dict[str, jax.Array]]) -> dict[str, jax.Array]:
    return jax.tree.map(lambda *values: jnp.stack(values), *step_metrics)


def read_config(workdir: str | epath.Path) -> ml_collections.ConfigDict:
    """The config a run was trained with, without restoring its checkpoint."""
    workdir = epath.Path(workdir).expanduser().absolute()
    config_path = workdir / "config.json"
    if not config_path.exists():
        raise FileNotFoundError(f"{workdir} is not a training run: no config.json there")
    return ml_collections.ConfigDict(json.loads(config_path.read_text())["config"])


def restore_state(workdir: str) -> tuple[TrainState, ml_collections.ConfigDict]:
    """The latest checkpoint of a run and its config, with clear errors."""
    workdir = epath.Path(workdir).expanduser().absolute()
    config = read_config(workdir)
    manager = checkpoint_manager(workdir, config)
    step = manager.latest_step()
    if step is None:
        raise FileNotFoundError(f"no checkpoint in {workdir / 'checkpoints'}")
    template = create_train_state(config, jax.random.key(0))
    state = manager.restore(step, args=ocp.args.StandardRestore(template))
    return state, config
