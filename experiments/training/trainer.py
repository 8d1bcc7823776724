"""Training: state, a pure jitted train step, checkpoints, metrics and the loop."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
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

from experiments import checks, locking, parallel
from experiments.training import data, metrics, metrics_log
from experiments.training.resnet import DTYPES, ResNet
from experiments.training.restore import restore_newest
from squiggles import tfds_extra
from squiggles.storage import ensure_writable_dir

# Fields that define what a checkpoint is; a workdir must not be resumed with others.
IDENTITY_FIELDS = ("seed", "family", "order", "width", "resolution", "model", "optimizer",
                   "batch_size", "num_steps", "noise", "data")  # fmt: skip


class TrainState(train_state.TrainState):
    batch_stats: Any


class ConfigFileError(ValueError):
    """A run's config.json that is not what training writes (damaged or incomplete):
    named as such, never taken for a checkpoint of another model."""


def make_model(config: ml_collections.ConfigDict) -> ResNet:
    return ResNet(
        stage_sizes=tuple(config.model.stage_sizes),
        width=config.model.width,
        stem=config.model.stem,
        dtype=DTYPES[compute_dtype(config)],
    )


def compute_dtype(config: ml_collections.ConfigDict) -> str:
    """The config's `dtype`; "float32" for runs made before it existed."""
    return config.get("dtype", "float32")


def learning_rate_schedule(config: ml_collections.ConfigDict) -> optax.Schedule:
    """Cosine decay from the peak to 0 over the run, after an optional linear warm-up."""
    opt = config.optimizer
    if not opt.warmup_steps:  # the same values, without optax's note on a 0-step warm-up
        return optax.cosine_decay_schedule(opt.learning_rate, max(config.num_steps, 1))
    return optax.warmup_cosine_decay_schedule(
        0.0, opt.learning_rate, opt.warmup_steps, max(config.num_steps, opt.warmup_steps + 1)
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
    """Every setting, before anything is written: a negative learning rate or a warm-up
    longer than the run would otherwise train quietly towards nonsense, and a bad size
    would fail deep inside JAX. Each error names the field, its value and the range."""
    for name in ("batch_size", "num_steps", "log_every", "eval_every", "checkpoint_every",
                 "eval_examples", "keep_checkpoints"):  # fmt: skip
        _check_integer(config, name, 1)
    _check_integer(config, "seed", 0, UINT32_MAX)
    data.family_of(config)  # an unknown family, a bad order or width
    _check_integer(config, "resolution", 8, what="for a ResNet")
    _check_model(config)
    _check_optimizer(config)
    _check_noise(config)
    _check_data(config)
    # The batch is split over every device (and process): it must divide.
    parallel.check_batch_size(config.batch_size)
    parallel.process_slice(config.batch_size, 0)


UINT32_MAX = 2**32 - 1


def _field(config: ml_collections.ConfigDict, name: str) -> Any:
    value = config
    for part in name.split("."):
        try:
            value = value[part]
        except (KeyError, AttributeError, TypeError):
            raise ValueError(f"the config has no field {name}") from None
    return value


def _check_integer(
    config: ml_collections.ConfigDict, name: str, low: int, high: int | None = None, what=""
) -> int:
    return checks.check_integer(_field(config, name), name, low, high, what)


def _check_number(
    config: ml_collections.ConfigDict, name: str, expected: str, ok: Callable[[float], bool]
) -> float:
    return checks.check_number(_field(config, name), name, expected, ok)


def _check_model(config: ml_collections.ConfigDict) -> None:
    stages = _field(config, "model.stage_sizes")
    if (
        isinstance(stages, (str, bytes))
        or not isinstance(stages, Sequence)
        or not stages
        or not all(checks.is_integer(size) and size >= 1 for size in stages)
    ):
        raise ValueError(
            f"model.stage_sizes must be a non-empty sequence of integers >= 1, got {stages!r}"
        )
    _check_integer(config, "model.width", 1)
    if config.model.stem not in ("imagenet", "small"):
        raise ValueError(f"model.stem must be 'imagenet' or 'small', got {config.model.stem!r}")
    if compute_dtype(config) not in DTYPES:
        raise ValueError(
            f"dtype must be one of {', '.join(map(repr, DTYPES))}, got {compute_dtype(config)!r}"
        )


def _check_optimizer(config: ml_collections.ConfigDict) -> None:
    _check_number(config, "optimizer.learning_rate", "> 0", lambda v: v > 0)
    for name in ("optimizer.b1", "optimizer.b2"):
        _check_number(config, name, "in [0, 1)", lambda v: 0 <= v < 1)
    _check_number(config, "optimizer.eps", "> 0", lambda v: v > 0)
    _check_integer(
        config, "optimizer.warmup_steps", 0, config.num_steps, what="(at most num_steps)"
    )


def _check_noise(config: ml_collections.ConfigDict) -> None:
    sigma = _check_number(config, "noise.sigma", ">= 0", lambda v: v >= 0)
    sigma_max = _check_number(config, "noise.sigma_max", ">= 0", lambda v: v >= 0)
    if sigma > 0 and sigma_max > 0:
        raise ValueError("set either noise.sigma (fixed) or noise.sigma_max (uniform), not both")


def _check_data(config: ml_collections.ConfigDict) -> None:
    source = _field(config, "data.source")
    if source not in ("online", "tfds"):
        raise ValueError(f"data.source must be 'online' or 'tfds', got {source!r}")
    _check_integer(config, "data.prefetch", 0)
    if source == "tfds":
        tfds_extra.require("data.source=tfds", ValueError)
        _check_integer(config, "data.shuffle_buffer", 1)
        name = _field(config, "data.tfds_name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"data.tfds_name must name a dataset, got {name!r}")
    # Online batch s holds train-stream indices s·B .. s·B+B-1, and indices are uint32.
    elif config.batch_size * config.num_steps > UINT32_MAX + 1:
        raise ValueError(
            f"batch_size × num_steps must be <= 2**32 (the indices of a stream), got "
            f"{config.batch_size} × {config.num_steps} = {config.batch_size * config.num_steps}"
        )


def identity(config: ml_collections.ConfigDict) -> dict:
    """The settings a resumed run must share. The compute dtype is one of them only when
    it is not float32, so runs made before it existed keep their identity."""
    as_dict = config.to_dict()
    fields = {k: as_dict[k] for k in IDENTITY_FIELDS}
    if compute_dtype(config) != "float32":
        fields["dtype"] = compute_dtype(config)
    return json.loads(json.dumps(fields, default=list))


def checkpoint_manager(
    workdir: epath.Path, config: ml_collections.ConfigDict | None, read_only: bool = False
) -> ocp.CheckpointManager:
    """The run's checkpoints. Read-only (no config needed): creates, renames and deletes
    nothing."""
    if read_only:
        options = ocp.CheckpointManagerOptions(
            create=False, read_only=True, save_interval_steps=0, max_to_keep=None
        )
    else:
        options = ocp.CheckpointManagerOptions(max_to_keep=config.keep_checkpoints, create=True)
    return ocp.CheckpointManager(workdir / "checkpoints", options=options)


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


def validation_line(step: int, scores: dict[str, float | None], examples: int) -> str:
    auc = "n/a (one class only)" if scores["roc_auc"] is None else f"{scores['roc_auc']:.4f}"
    return (
        f"validation at step {step}: accuracy {scores['accuracy']:.4f}  ROC-AUC {auc}  "
        f"({examples} examples)"
    )


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> TrainState:
    """Trains (or resumes) in `workdir`: checkpoints, metrics.jsonl, TensorBoard.

    The whole run holds an exclusive lock on `workdir`: a second run on it is refused
    (locking.DirectoryInUseError) before it writes anything. With several processes
    (`parallel.initialize`), process 0 holds the lock and writes config.json and the
    metrics, and all of them save the checkpoints together (orbax)."""
    check_config(config)
    workdir = ensure_writable_dir(workdir, "the training run")
    lock = (
        locking.locked_directory(workdir, "training run")
        if parallel.is_primary()
        else contextlib.nullcontext()
    )
    with lock:
        return _train_in(config, workdir)


def _train_in(config: ml_collections.ConfigDict, workdir: epath.Path) -> TrainState:
    if parallel.is_primary():
        _check_or_write_config(config, workdir)
    parallel.barrier("config checked")
    root_key = jax.random.key(config.seed)
    init_key, noise_key = jax.random.split(root_key)
    state, start = _resume(workdir, create_train_state(config, init_key))
    data_mesh = parallel.mesh()
    state = jax.device_put(state, parallel.replicated(data_mesh))  # batches are split
    manager = checkpoint_manager(workdir, config)
    writer = (
        metrics_log.MetricsWriter(workdir, resume_step=start)
        if parallel.is_primary()
        else metrics_log.NoMetricsWriter()
    )
    try:
        with contextlib.closing(data.train_batches(config, start)) as batches:
            return _train_loop(config, state, batches, start, noise_key, manager, writer, data_mesh)
    finally:
        # Also on failure or Ctrl-C: finish writing checkpoints already started.
        manager.wait_until_finished()
        manager.close()
        writer.close()


def _check_or_write_config(config: ml_collections.ConfigDict, workdir: epath.Path) -> None:
    config_path = workdir / "config.json"
    if config_path.exists():
        saved = _read_config_file(config_path)
        current = identity(config)
        if saved["identity"] != current:
            changed = sorted(
                k
                for k in set(saved["identity"]) | set(current)
                if saved["identity"].get(k) != current.get(k)
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


def _resume(workdir: epath.Path, initial: TrainState) -> tuple[TrainState, int]:
    """The newest checkpoint that restores (unreadable newer ones set aside), or the
    initial state at step 0 when there is no checkpoint yet."""
    if not (workdir / "checkpoints").is_dir():
        return initial, 0
    manager = checkpoint_manager(workdir, None, read_only=True)
    try:
        state, start = restore_newest(manager, initial, set_aside=parallel.is_primary())
    finally:
        manager.close()
    if start:
        logging.info("resumed from the checkpoint at step %d", start)
    return state, start


def _train_loop(config, state, batches, start, noise_key, manager, writer, data_mesh) -> TrainState:
    schedule = learning_rate_schedule(config)
    step_fn = jax.jit(
        train_step, static_argnames=("sigma", "sigma_max"), donate_argnames=("state",)
    )
    pending: list[dict[str, jax.Array]] = []
    progress = metrics_log.Progress(config.num_steps, start)
    for step in range(start, config.num_steps):
        batch = parallel.global_batch(next(batches), data_mesh)
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
            scores = _validation(config, state)
            writer.write(done, {f"validation_{k}": v for k, v in scores.items()})
            logging.info("%s", validation_line(done, scores, config.eval_examples))
        if done % config.checkpoint_every == 0 or done == config.num_steps:
            # Never replace a good checkpoint with a diverged state.
            losses = np.asarray(jax.device_get([m["loss"] for m in pending]))
            if not np.isfinite(losses).all():
                raise FloatingPointError(f"loss is not finite before step {done}; not saving")
            manager.save(done, args=ocp.args.StandardSave(state))
            logging.info("saving the checkpoint of step %d", done)
    return state


def _stack(step_metrics: list[dict[str, jax.Array]]) -> dict[str, jax.Array]:
    return jax.tree.map(lambda *values: jnp.stack(values), *step_metrics)


def read_config(workdir: str | epath.Path) -> ml_collections.ConfigDict:
    """The config a run was trained with, without restoring its checkpoint."""
    workdir = epath.Path(workdir).expanduser().absolute()
    config_path = workdir / "config.json"
    if not config_path.exists():
        raise FileNotFoundError(f"{workdir} is not a training run: no config.json there")
    return ml_collections.ConfigDict(_read_config_file(config_path)["config"])


def _read_config_file(path: epath.Path) -> dict:
    """A run's config.json, checked: JSON holding the "identity" and "config" objects
    that training writes, each with every identity field (ConfigFileError if not)."""
    try:
        saved = json.loads(path.read_text())
    except ValueError as error:  # not JSON, or not UTF-8
        raise ConfigFileError(
            f"{path} is damaged: it is not valid JSON ({error}); restore it from a copy of "
            "the run, or train into a new --workdir"
        ) from None
    for part in ("identity", "config"):
        held = saved.get(part) if isinstance(saved, dict) else None
        if not isinstance(held, dict):
            raise ConfigFileError(
                f"{path} is damaged or incomplete: it holds no {part!r} object (training "
                "writes 'identity' and 'config', each with every identity field)"
            )
        missing = [field for field in IDENTITY_FIELDS if field not in held]
        if missing:
            raise ConfigFileError(
                f"{path} is damaged or incomplete: its {part!r} lacks {', '.join(missing)}"
            )
    return saved


def _template(config: ml_collections.ConfigDict, config_path: epath.Path) -> TrainState:
    """A state of the model `config` describes, to restore into: a config that builds no
    model is the config file's fault, not the checkpoint's."""
    try:
        return create_train_state(config, jax.random.key(0))
    except (KeyError, AttributeError, TypeError, ValueError) as error:
        raise ConfigFileError(
            f"{config_path} is damaged or incomplete: its config builds no model ({error})"
        ) from None


def restore_state(workdir: str) -> tuple[TrainState, ml_collections.ConfigDict]:
    """The newest restorable checkpoint of a run and its config, with clear errors.

    Read-only: creates, renames and deletes nothing (an unreadable newer checkpoint is
    reported with a warning and skipped; training sets it aside)."""
    workdir = epath.Path(workdir).expanduser().absolute()
    config = read_config(workdir)
    if not (workdir / "checkpoints").is_dir():
        raise FileNotFoundError(f"no checkpoint in {workdir}: it has no checkpoints directory")
    manager = checkpoint_manager(workdir, config, read_only=True)
    try:
        if not manager.all_steps():
            raise FileNotFoundError(f"no checkpoint in {workdir / 'checkpoints'}")
        template = _template(config, workdir / "config.json")
        state, _ = restore_newest(manager, template, set_aside=False)
    finally:
        manager.close()
    # Replicated on every device, so evaluations and attacks split their batches over them.
    return jax.device_put(state, parallel.replicated(parallel.mesh())), config
