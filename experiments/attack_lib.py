"""Runs the attacks of `experiments.attacks` on a trained model over the first N test
examples, chunk by chunk. Each finished chunk is saved at once (written to a temporary
name, then renamed), so an interrupted run resumes with the chunks it has not done.

Three attacks, each over its own ε grid:
  * pixel:  ℓ2 PGD on the stored (uint8-quantised) test image, against its true label;
  * noise:  Gaussian noise of ℓ2 norm exactly ε on the same image (not clipped, like
            the noise the models are trained with);
  * latent: ℓ2 PGD on the latent through `squiggles.render`, after which the true label
            of the attacked latent is recomputed with Shapely.

A chunk file holds the test indices it covers (`index`), and results are always joined by
those indices, never by position: a run extended past a short last chunk redoes that chunk,
and a run with fewer examples than its chunks hold summarises exactly the first N. The
model is identified by a fingerprint of its weights (`experiments.fingerprint`), so a
directory never mixes the results of two models, and a run holds an exclusive lock on its
directory (`experiments.locking`), so two runs never write into one directory at once.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import json
import time
import weakref
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from etils import epath

import squiggles
from experiments import attacks, data, eval_lib, metrics
from experiments.fingerprint import model_fingerprint
from experiments.locking import locked_directory
from squiggles_tfds.features import dequantize, quantize
from squiggles_tfds.generation import chunk_starts
from squiggles_tfds.storage import ensure_writable_dir

ATTACKS = ("pixel", "noise", "latent")
DEFAULT_EPSILONS, STEPS, STEP_FRACTION = (
    attacks.DEFAULT_EPSILONS,
    attacks.STEPS,
    attacks.STEP_FRACTION,
)
DATA_SEED = 0  # the seed of the TFDS configs: the test split evaluate.py uses


@dataclasses.dataclass(frozen=True)
class AttackSettings:
    """What an attack run computes. All fields except `attacks` and `examples` define
    the saved chunks: a run directory is only resumed or extended with the same ones."""

    attacks: tuple[str, ...] = ATTACKS
    epsilons: tuple[float, ...] = DEFAULT_EPSILONS
    latent_epsilons: tuple[float, ...] = DEFAULT_EPSILONS
    examples: int = 2000
    chunk_size: int = 250
    steps: int = STEPS
    step_fraction: float = STEP_FRACTION
    random_start: bool = False
    pixel_range: tuple[float, float] | None = (0.0, 1.0)
    carry_successes: bool = True
    block: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.attacks) - set(ATTACKS))
        if unknown or not self.attacks:
            raise ValueError(
                f"unknown attacks {unknown or '(none given)'}; expected some of {ATTACKS}"
            )
        for name in ("epsilons", "latent_epsilons"):
            grid = tuple(float(e) for e in getattr(self, name))
            if not grid or any(not np.isfinite(e) or e <= 0 for e in grid):
                raise ValueError(f"{name} must be positive finite numbers, got {grid}")
            if list(grid) != sorted(set(grid)):
                raise ValueError(f"{name} must be strictly increasing, got {grid}")
            object.__setattr__(self, name, grid)
        for name in ("examples", "chunk_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.block < 0:
            raise ValueError(f"block must be >= 0 (0: one fori_loop), got {self.block}")
        if self.steps < 0 or not self.step_fraction > 0:
            raise ValueError(
                f"steps must be >= 0 and step_fraction > 0, got {self.steps} and "
                f"{self.step_fraction}"
            )
        if self.pixel_range is not None:
            low, high = (float(v) for v in self.pixel_range)
            if not low < high:
                raise ValueError(
                    f"pixel_range must be (low, high) with low < high, got {self.pixel_range}"
                )
            object.__setattr__(self, "pixel_range", (low, high))
        object.__setattr__(self, "attacks", tuple(self.attacks))

    def identity(self) -> dict:
        fields = dataclasses.asdict(self)
        del fields["attacks"], fields["examples"]
        return fields

    def iteration_options(self) -> dict:
        return dict(steps=self.steps, step_fraction=self.step_fraction, block=self.block)

    def start_key(self, chunk: Chunk, attack: str, epsilon_number: int) -> jax.Array | None:
        return chunk.key(self.seed, attack, epsilon_number) if self.random_start else None


log_line = functools.partial(print, flush=True)  # progress shows up at once in a log file


def parse_floats(name: str, values: list[str]) -> tuple[float, ...]:
    """A comma-separated flag's values as numbers, or an error naming the flag."""
    try:
        return tuple(float(v) for v in values)
    except ValueError as error:
        raise ValueError(
            f"--{name} must be a comma-separated list of numbers, got {values}"
        ) from error


# ---------------------------------------------------------------- jitted pieces


def cross_entropy(state, labels: jax.Array) -> Callable[[jax.Array], jax.Array]:
    """Per-example cross-entropy of the true labels: the loss an untargeted attack raises."""

    def loss(images: jax.Array) -> jax.Array:
        return optax.softmax_cross_entropy_with_integer_labels(
            metrics.logits(state, images), labels
        )

    return loss


def objective(
    state, labels: jax.Array, family: squiggles.Family | None, resolution: int, targeted: bool
) -> Callable[[jax.Array], jax.Array]:
    """What PGD maximises: the cross-entropy of `labels` (lowered instead when targeted,
    so `labels` are the classes to move towards), of images, or of rendered latents
    when a family is given."""
    loss = cross_entropy(state, labels)
    if family is not None:
        loss = attacks.through_renderer(loss, family, resolution)
    return (lambda x: -loss(x)) if targeted else loss


@functools.partial(
    jax.jit,
    static_argnames=(
        "family",
        "resolution",
        "targeted",
        "steps",
        "step_fraction",
        "clip",
        "unroll",
    ),
)
def _pgd_block(
    state, x, x0, labels, epsilon, *, family, resolution, targeted, steps, step_fraction, clip,
    unroll,
):  # fmt: skip
    return attacks.pgd_steps(
        objective(state, labels, family, resolution, targeted), x, x0, epsilon, steps=steps,
        step_fraction=step_fraction, clip=clip, unroll=unroll,
    )  # fmt: skip


def run_pgd(
    state, x0, labels, epsilon: float, *, steps: int, step_fraction: float, block: int,
    clip: tuple[float, float] | None = None, family: squiggles.Family | None = None,
    resolution: int = squiggles.RESOLUTION, targeted: bool = False, key: jax.Array | None = None,
) -> jax.Array:  # fmt: skip
    """ℓ2 PGD on images, or on latents when `family` is given, from x0 (or a random point
    of the ball when a key is given). block=0 runs all iterations in one jitted
    fori_loop; block=k runs jitted blocks of k unrolled iterations one after the
    other, without host synchronisation, which is faster on XLA:CPU."""
    x0, labels = jnp.asarray(x0), jnp.asarray(labels)
    x = x0 if key is None else attacks.random_point(key, x0, epsilon, clip)
    options = dict(family=family, resolution=resolution, targeted=targeted,
                   step_fraction=step_fraction, clip=clip)  # fmt: skip
    if block == 0:
        return _pgd_block(state, x, x0, labels, epsilon, steps=steps, unroll=1, **options)
    for done in range(0, steps, block):
        x = _pgd_block(
            state, x, x0, labels, epsilon, steps=min(block, steps - done), unroll=True, **options
        )
    return x


def probabilities(state, images) -> np.ndarray:
    return np.array(metrics.predict_probabilities(state, jnp.asarray(images)))


def norms(delta: np.ndarray) -> np.ndarray:
    return np.linalg.norm(delta.reshape(delta.shape[0], -1), axis=1)


def padded(array: np.ndarray, size: int) -> np.ndarray:
    """`array` repeated at its last row up to `size` rows: a few batch shapes, few compiles."""
    return np.concatenate([array, np.repeat(array[-1:], size - len(array), axis=0)])


def bucket(count: int, chunk_size: int) -> int:
    granularity = max(8, -(-chunk_size // 8))
    return min(-(-count // granularity) * granularity, max(chunk_size, count))


# ---------------------------------------------------------------- one chunk


@dataclasses.dataclass(frozen=True)
class Chunk:
    """Test examples start .. start+len-1, as the TFDS test split stores them."""

    start: int
    latents: np.ndarray
    labels: np.ndarray  # bool, True = self-intersecting
    images: np.ndarray  # float32, quantised like the stored images

    @classmethod
    def load(cls, family: squiggles.Family, resolution: int, start: int, count: int) -> Chunk:
        examples = squiggles.generate_examples(
            family, count, seed=DATA_SEED, stream=data.TEST_STREAM, start=start,
            resolution=resolution,
        )  # fmt: skip
        return cls(
            start,
            np.asarray(examples.latent),
            np.asarray(examples.label, bool),
            np.asarray(dequantize(quantize(examples.image))),
        )

    @property
    def indices(self) -> np.ndarray:
        return np.arange(self.start, self.start + len(self.labels), dtype=np.int64)

    def key(self, seed: int, attack: str, epsilon_number: int) -> jax.Array:
        """A key per (attack, ε, chunk): results do not depend on which chunks ran before."""
        key = jax.random.fold_in(jax.random.key(seed), ATTACKS.index(attack))
        return jax.random.fold_in(jax.random.fold_in(key, epsilon_number), self.start)


def attack_pixels(state, chunk: Chunk, settings: AttackSettings, log=log_line) -> dict:
    """PGD at each ε. With carry_successes, an example already misclassified (clean or
    at a smaller ε) keeps that adversarial image: it lies inside every larger ball, so
    accuracy under attack cannot rise with ε, and no work is spent attacking it again."""
    labels = chunk.labels.astype(np.int32)
    current, probability = chunk.images.copy(), probabilities(state, chunk.images)
    found_at = np.full(len(labels), -1, np.int32)  # ε number that made `current`; -1: clean
    results = _empty_results(chunk, settings.epsilons, chunk.images.shape[1:], np.float16)
    results["clean_probability"] = probability.copy()
    for k, epsilon in enumerate(settings.epsilons):
        fooled = (probability > 0.5) != labels
        todo = np.flatnonzero(~fooled) if settings.carry_successes else np.arange(len(labels))
        if len(todo):
            size = bucket(len(todo), settings.chunk_size)
            attacked = run_pgd(
                state, padded(chunk.images[todo], size), padded(labels[todo], size), epsilon,
                clip=settings.pixel_range, key=settings.start_key(chunk, "pixel", k),
                **settings.iteration_options(),
            )[: len(todo)]  # fmt: skip
            current[todo] = np.asarray(attacked)
            probability[todo] = probabilities(state, current[todo])
            found_at[todo] = k
        results["attacked"][k] = current
        results["probability"][k] = probability
        results["found_at"][k] = found_at
        results["norm"][k] = norms(current - chunk.images)
        log(
            f"  pixel ε={epsilon:g}: attacked {len(todo)}, "
            f"accuracy {_accuracy(probability, labels):.3f}"
        )
    return results


def add_noise(state, chunk: Chunk, settings: AttackSettings, log=log_line) -> dict:
    """Gaussian noise rescaled to norm exactly ε: the baseline PGD is compared with."""
    labels = chunk.labels.astype(np.int32)
    results = _empty_results(chunk, settings.epsilons, None, None)
    results["clean_probability"] = probabilities(state, chunk.images)
    for k, epsilon in enumerate(settings.epsilons):
        noisy = np.asarray(
            attacks.gaussian_at_norm(chunk.key(settings.seed, "noise", k), chunk.images, epsilon)
        )
        results["probability"][k] = probabilities(state, noisy)
        results["norm"][k] = norms(noisy - chunk.images)
        log(f"  noise ε={epsilon:g}: accuracy {_accuracy(results['probability'][k], labels):.3f}")
    return results


def attack_latents(
    state, chunk: Chunk, settings: AttackSettings, family, resolution: int, log=log_line
) -> dict:
    """Latent PGD at each ε (every example, every ε: the truth can change, so nothing
    carries over), with the true label of each attacked latent recomputed."""
    labels = chunk.labels.astype(np.int32)
    clean = squiggles.render(jnp.asarray(chunk.latents), family, resolution)
    results = _empty_results(chunk, settings.latent_epsilons, chunk.latents.shape[1:], np.float32)
    results["clean_probability"] = probabilities(state, clean)
    for k, epsilon in enumerate(settings.latent_epsilons):
        attacked = run_pgd(
            state, chunk.latents, labels, epsilon, family=family, resolution=resolution,
            key=settings.start_key(chunk, "latent", k), **settings.iteration_options(),
        )  # fmt: skip
        results["attacked"][k] = np.asarray(attacked)
        results["label_after"][k] = attacks.true_labels(attacked, family)
        results["probability"][k] = probabilities(
            state, squiggles.render(attacked, family, resolution)
        )
        results["norm"][k] = norms(results["attacked"][k] - chunk.latents)
        log(
            f"  latent ε={epsilon:g}: accuracy vs recomputed label "
            f"{_accuracy(results['probability'][k], results['label_after'][k]):.3f}, label "
            f"unchanged {np.mean(results['label_after'][k] == chunk.labels):.3f}"
        )
    return results


def _empty_results(chunk: Chunk, epsilons, attacked_shape, attacked_dtype) -> dict:
    count, grid = len(chunk.labels), len(epsilons)
    results = {
        "index": chunk.indices,
        "epsilon": np.asarray(epsilons, np.float64),
        "label_before": chunk.labels,
        "label_after": np.repeat(chunk.labels[None], grid, axis=0),
        "probability": np.zeros((grid, count), np.float32),
        "norm": np.zeros((grid, count), np.float32),
        "found_at": np.repeat(np.arange(grid, dtype=np.int32)[:, None], count, axis=1),
    }
    if attacked_shape is not None:
        results["attacked"] = np.zeros((grid, count, *attacked_shape), attacked_dtype)
    return results


def _accuracy(probability: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean((probability > 0.5) == np.asarray(labels, bool)))


# ---------------------------------------------------------------- a whole run


class AttackRun:
    """An output directory: settings.json, chunks/{attack}_{start}.npz (each holding the
    test indices it covers), and, once all chunks are there, summary.json and
    {attack}.csv (one row per example and ε). Constructing one checks the directory
    against the model and settings without writing; `run` holds the directory's lock."""

    def __init__(self, out: str | epath.PathLike, workdir: str, settings: AttackSettings):
        self.out = ensure_writable_dir(out, "the attack results")
        self.settings = settings
        with self.locked():  # refuse at once, before loading, while another run writes here
            self.state, self.config, fingerprint = load_model(workdir)
            self.family = data.family_of(self.config)
            self.resolution = self.config.resolution
            self.identity = {
                "workdir": str(epath.Path(workdir).expanduser().absolute()),
                "step": int(self.state.step),
                "fingerprint": fingerprint,
                "family": str(self.family),
                "resolution": self.resolution,
                "noise": self.config.noise.to_dict(),
                **settings.identity(),
            }
            check_identity(self.out / "settings.json", self.identity)

    def locked(self):
        return locked_directory(self.out, "attack run")

    def chunk_path(self, attack: str, start: int) -> epath.Path:
        return self.out / "chunks" / f"{attack}_{start:09d}.npz"

    def starts(self) -> range:
        return range(0, self.settings.examples, self.settings.chunk_size)

    def run(self, log: Callable[[str], None] = log_line) -> dict:
        """Computes the missing chunks, then writes and returns the summary, all under
        the directory's lock."""
        with self.locked():
            write_identity(self.out / "settings.json", self.identity)
            (self.out / "chunks").mkdir(exist_ok=True)
            summary = self._run(log)
        log(f"wrote {self.out / 'summary.json'}")
        return summary

    def _run(self, log: Callable[[str], None]) -> dict:
        ranges = chunk_starts(self.settings.examples, self.settings.chunk_size)
        work = [
            (attack, start, count, held)
            for start, count in ranges
            for attack in self.settings.attacks
            if (held := stored_count(self.chunk_path(attack, start), start)) < count
        ]
        done_before = len(ranges) * len(self.settings.attacks) - len(work)
        if done_before:
            log(f"resuming: {done_before} chunks already in {self.out / 'chunks'}")
        progress = Progress(sum(count for _, _, count, _ in work))
        for attack, start, count, held in work:
            chunk = Chunk.load(self.family, self.resolution, start, count)
            log(f"{attack}: examples {start}..{start + count - 1}{redo_note(held)}")
            if held:
                forget_summary(self.out, [f"{attack}.csv"], log)
            results = self._attack(attack, chunk, log)
            save_npz(self.chunk_path(attack, start), results)
            log(progress.line(count))
        return self.summarise()

    def _attack(self, attack: str, chunk: Chunk, log) -> dict:
        if attack == "pixel":
            return attack_pixels(self.state, chunk, self.settings, log)
        if attack == "noise":
            return add_noise(self.state, chunk, self.settings, log)
        return attack_latents(self.state, chunk, self.settings, self.family, self.resolution, log)

    def results(self, attack: str) -> dict[str, np.ndarray]:
        """The results of an attack on exactly the first `examples`, joined by index."""
        paths = [self.chunk_path(attack, start) for start in self.starts()]
        return join_chunks(load_chunks(paths), self.settings.examples)

    def summarise(self) -> dict:
        summary = {"model": self.identity, "examples": self.settings.examples}
        for attack in self.settings.attacks:
            results = self.results(attack)
            check_rows(results["index"], self.settings.examples, attack)
            summary[attack] = summarise(attack, results)
            _write_csv(self.out / f"{attack}.csv", results)
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2))
        return summary


_LOADED = weakref.WeakValueDictionary()  # (fingerprint, step) -> a state in use


def load_model(workdir: str) -> tuple[Any, ml_collections.ConfigDict, str]:
    """The latest checkpoint of a run, its config and its fingerprint. A state with the
    same weights and step that is still in use is returned instead of the new one, so
    that runs on one model in one process reuse its compiled attacks (a new state has
    new optimizer and apply functions, which jax would compile everything for again)."""
    state, config = eval_lib.load_run(workdir)
    fingerprint = model_fingerprint(state)
    state = _LOADED.setdefault((fingerprint, int(state.step)), state)
    return state, config, fingerprint


def stored_count(path: epath.Path, start: int) -> int:
    """How many examples from `start` on the chunk file holds (0 if there is none). The
    short last chunk of a smaller run holds fewer than a larger run needs: it is redone."""
    if not path.exists():
        return 0
    with path.open("rb") as f, np.load(f) as stored:
        index = stored["index"]
    return len(index) if np.array_equal(index, np.arange(start, start + len(index))) else 0


def redo_note(held: int) -> str:
    return f" (redoing a chunk that held only {held})" if held else ""


def forget_summary(out: epath.Path, tables: list[str], log: Callable[[str], None]) -> None:
    """Removes the summary and tables of a finished run before one of its chunks is
    replaced, so that no summary ever describes other rows than the chunks hold."""
    stale = [out / name for name in ("summary.json", *tables) if (out / name).exists()]
    for path in stale:
        path.unlink()
    if stale:
        log(f"removed {', '.join(p.name for p in stale)}: they described the replaced chunk")


def load_chunks(paths: list[epath.Path]) -> list[dict[str, np.ndarray]]:
    parts = []
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run the attack first")
        with path.open("rb") as f, np.load(f) as stored:
            parts.append({name: stored[name] for name in stored.files})
    return parts


def chunk_start(path: epath.Path) -> int:
    """The first index of a chunk file, from its name `{kind}_{start:09d}.npz`."""
    return int(path.stem.rsplit("_", 1)[1])


def chunk_files(chunks: epath.Path, kind: str, examples: int) -> list[epath.Path]:
    """The chunk files of one kind that start within the first `examples`."""
    paths = chunks.glob(f"{kind}_*.npz")
    return sorted((p for p in paths if chunk_start(p) < examples), key=chunk_start)


def read_results(out: str | epath.PathLike, attack: str) -> dict[str, np.ndarray]:
    """The per-example results of one attack of a finished run directory: exactly the
    examples its summary describes, by their stored indices."""
    out = epath.Path(out)
    if not (out / "summary.json").exists():
        raise FileNotFoundError(f"{out} holds no finished attack run (no summary.json)")
    summary = json.loads((out / "summary.json").read_text())
    if attack not in summary:
        raise ValueError(
            f"{out} has no {attack} results; it has {sorted(set(summary) & set(ATTACKS))}"
        )
    paths = chunk_files(out / "chunks", attack, summary["examples"])
    return join_chunks(load_chunks(paths), summary["examples"])


PER_EPSILON = ("label_after", "probability", "norm", "found_at", "attacked")


def join_chunks(
    parts: list[dict], examples: int, per_epsilon: tuple[str, ...] = PER_EPSILON
) -> dict[str, np.ndarray]:
    """The chunks' results for exactly the examples 0..examples-1, selected and ordered
    by their stored `index` (never by position). Arrays named in `per_epsilon` hold
    examples on axis 1, `epsilon` is shared, every other array holds them on axis 0."""
    if not parts:
        raise FileNotFoundError("no chunk files: run the attack first")
    index = np.concatenate([part["index"] for part in parts])
    rows = rows_of_examples(index, examples)
    joined = {"epsilon": parts[0]["epsilon"]} if "epsilon" in parts[0] else {}
    for name in parts[0]:
        if name == "epsilon":
            continue
        axis = 1 if name in per_epsilon else 0
        joined[name] = np.concatenate([part[name] for part in parts], axis=axis).take(rows, axis)
    return joined


def rows_of_examples(index: np.ndarray, examples: int) -> np.ndarray:
    """Where each of the examples 0..examples-1 first appears in `index`, or an error
    naming the missing ones."""
    values, first = np.unique(index, return_index=True)
    wanted = values < examples
    if wanted.sum() != examples:
        missing = np.setdiff1d(np.arange(examples), values)
        raise ValueError(
            f"the chunk files lack examples {missing[:5].tolist()} (of {len(missing)} missing) "
            f"among the first {examples}: run again to compute them"
        )
    return first[wanted]


def check_rows(index: np.ndarray, examples: int, what: str) -> None:
    """Before a summary is written: its rows are exactly the examples 0..examples-1."""
    if not np.array_equal(index, np.arange(examples)):
        raise ValueError(
            f"the {what} results hold examples {index[:5].tolist()}... instead of exactly "
            f"0..{examples - 1}; not writing a summary of them"
        )


def summarise(attack: str, results: dict[str, np.ndarray]) -> dict:
    """Per-ε figures of one attack (see the README for what each means)."""
    before = results["label_before"]
    clean_prediction = results["clean_probability"] > 0.5
    clean_correct = clean_prediction == before
    rows = []
    for k, epsilon in enumerate(results["epsilon"]):
        prediction = results["probability"][k] > 0.5
        after = results["label_after"][k]
        row = {
            "epsilon": float(epsilon),
            "accuracy": float(np.mean(prediction == after)),
            "mean_norm": float(np.mean(results["norm"][k])),
            "max_norm": float(np.max(results["norm"][k])),
        }
        if attack == "pixel":
            row["success_rate"] = float(np.mean(prediction[clean_correct] != before[clean_correct]))
        if attack == "latent":
            row.update(
                attacks.latent_attack_summary(prediction, before, after),
                accuracy_vs_original_label=float(np.mean(prediction == before)),
                label_unchanged_and_misclassified=float(
                    np.mean((before == after) & (prediction != after))
                ),
            )
        rows.append(row)
    return {"clean_accuracy": float(np.mean(clean_correct)), "per_epsilon": rows}


def _write_csv(path: epath.Path, results: dict[str, np.ndarray]) -> None:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["index", "epsilon", "label_before", "label_after", "clean_prediction",
                     "prediction", "probability", "norm"])  # fmt: skip
    clean = (results["clean_probability"] > 0.5).astype(int)
    for k, epsilon in enumerate(results["epsilon"]):
        for i, index in enumerate(results["index"]):
            probability = float(results["probability"][k, i])
            writer.writerow([
                int(index), float(epsilon), int(results["label_before"][i]),
                int(results["label_after"][k, i]), clean[i], int(probability > 0.5),
                f"{probability:.6f}", f"{float(results['norm'][k, i]):.6g}",
            ])  # fmt: skip
    path.write_text(text.getvalue())


def save_npz(path: epath.Path, arrays: dict[str, np.ndarray]) -> None:
    """Written under a temporary name and renamed (replacing a short chunk being redone):
    a chunk file is complete or absent."""
    partial = path.parent / f".{path.name}.partial"
    with partial.open("wb") as f:
        np.savez(f, **arrays)
    partial.replace(path)


FINGERPRINTS = {"fingerprint": "workdir", "navigator_fingerprint": "navigator"}


def check_identity(path: epath.Path, identity: dict) -> None:
    """Refuses a run directory that holds results of another model (by the fingerprint of
    its weights, whatever its path and step) or of other settings. Writes nothing."""
    if not path.exists():
        return
    stored = json.loads(path.read_text())
    identity = json.loads(json.dumps(identity))  # tuples as lists, like the stored file
    for key, workdir in FINGERPRINTS.items():
        if key in identity and stored.get(key) != identity[key]:
            held = stored.get(key) or "with no recorded fingerprint (an older version)"
            raise ValueError(
                f"the model in {identity[workdir]} has fingerprint {identity[key]}, but "
                f"{path.parent} holds results of model {held}; use a new --out"
            )
    differing = sorted(
        k for k in identity.keys() | stored.keys() if stored.get(k) != identity.get(k)
    )
    if differing:
        raise ValueError(
            f"{path.parent} holds results of another attack run (differs in "
            f"{', '.join(differing)}); use a new --out directory or the same settings"
        )


def write_identity(path: epath.Path, identity: dict) -> None:
    """Checks the directory again (under its lock, now) and records the identity."""
    check_identity(path, identity)
    if not path.exists():
        path.write_text(json.dumps(identity, indent=2))


class Progress:
    """Examples/s over this session and the ETA of the remaining chunks."""

    def __init__(self, total: int):
        self.total, self.done, self.began = total, 0, time.perf_counter()

    def line(self, count: int) -> str:
        self.done += count
        rate = self.done / max(time.perf_counter() - self.began, 1e-9)
        eta = round(max(self.total - self.done, 0) / rate)
        return (
            f"progress: {self.done}/{self.total} examples of this session's chunks, "
            f"{rate:.2f} examples/s, ETA {eta // 60}m{eta % 60:02d}s"
        )
