"""Cost of the AutoAttack-style attacks (experiments/attacks/apgd.py, square.py) against
one forward and backward pass of the same model on the same batch.

    python benchmarks/bench_cost.py --batch 128 --steps 20 --repeats 3
    python benchmarks/bench_cost.py --workdir models/cpu_taylor --sections apgd

The model is a trained run (default the committed `models/cpu_taylor`); the images are
the first `--batch` test examples of its family, as the TFDS test split stores them
(`squiggles.stored_examples`). The reference pass is the jitted input gradient of the
summed cross-entropy, the work one attack iteration cannot avoid.

Each measurement is a function of the shared `Setup` in SECTIONS that times what it
compares in turn (`interleaved`, best of `--repeats` after a compiling call, as
timing.py's `best_seconds` does for one function) and prints its lines; add one there
and it becomes a `--sections` choice.

  apgd    one APGD iteration of each loss, (T(2S) − T(S)) / S for S = `--steps`, in
          one fori_loop and in blocks of 10; the whole call / S; one PGD iteration in
          one fori_loop and in blocks of 10.
  square  one Square query, (T(2Q) − T(Q)) / Q for Q = 10 S, against the forward pass.
  torch   the PyTorch adapter against PyTorch alone on the example CNN (logits and the
          input gradient; the `torch` extra), as benchmarks/torch_adapter_cost.py.
  presets the wall time of `python -m experiments.bench` with `quick` and `standard` on
          the model (minutes: not run unless named).
"""

from __future__ import annotations

import argparse
import functools
import math
import pathlib
import sys
import tempfile
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # experiments/
import squiggles  # noqa: E402
from experiments.attacks import apgd, pgd, square  # noqa: E402
from experiments.classifier import Classifier  # noqa: E402
from experiments.training import data, trained_run  # noqa: E402

EPSILON = 0.3  # where the committed model breaks; the cost does not depend on it


class Setup(NamedTuple):
    """What every section measures on: the model, a batch, and the flags."""

    model: Classifier
    images: jax.Array
    labels: jax.Array
    args: argparse.Namespace


def load(args: argparse.Namespace) -> Setup:
    state, config = trained_run.load_run(args.workdir)
    examples = squiggles.stored_examples(
        data.family_of(config), args.batch, resolution=config.resolution
    )
    labels = jnp.asarray(np.asarray(examples.label, np.int32))
    return Setup(trained_run.classifier(state), jnp.asarray(examples.image), labels, args)


@jax.jit
def _input_gradient(model, images, labels):
    return jax.grad(lambda x: jnp.sum(pgd.cross_entropy(model, labels)(x)))(images)


@jax.jit
def _forward(model, images):
    return model(images)


def interleaved(functions: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """The best of `repeats` timed calls of each function, after one call of each that
    compiles, the calls taken in turn (one of each per round), so that figures divided by
    one another are timed under the same load on a shared machine."""
    for function in functions.values():
        jax.block_until_ready(function())
    best = dict.fromkeys(functions, math.inf)
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            jax.block_until_ready(function())
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def reference_pass(setup: Setup) -> Callable[[], jax.Array]:
    """One forward and backward pass: the jitted input gradient of the cross-entropy."""
    return lambda: _input_gradient(setup.model, setup.images, setup.labels)


def report(name: str, seconds: float, reference: float, unit: str = "the pass") -> None:
    print(f"  {name:40s} {1e3 * seconds:9.2f} ms  {seconds / reference:5.2f}× {unit}")


def apgd_section(setup: Setup) -> None:
    """One iteration of APGD with each loss, as (T(2S) − T(S)) / S for S = `--steps`,
    so that the clean pass, the first step and the call's checks cancel out; the whole
    call divided by S; APGD in blocks of 10 unrolled programs (`block=10`); and, for
    scale, one PGD iteration in one fori_loop and in blocks of 10 (the analyses'
    default): on XLA:CPU a loop body runs slower than a plain program
    (docs/speed.md#attack-cost)."""
    model, images, labels, args = setup
    epsilon = jnp.full(len(images), EPSILON, jnp.float32)
    steps = args.steps
    functions = {"pass": reference_pass(setup)}
    for loss in apgd.LOSSES:
        for count in (steps, 2 * steps):
            functions[f"APGD-{loss} {count}"] = functools.partial(
                apgd._apgd_run, model, images, labels, epsilon, None, steps=count, loss=loss,
                clip=True,
            )  # fmt: skip
        functions[f"APGD-{loss} call"] = functools.partial(
            apgd.apgd, model, images, labels, EPSILON, loss=loss, steps=steps
        )
    for count in (steps, 2 * steps):
        functions[f"APGD blocks {count}"] = functools.partial(
            apgd._apgd_blocks, model, images, labels, epsilon, None, steps=count,
            loss="margin", clip=True, block=10,
        )  # fmt: skip
    for block in (0, 10):
        for count in (steps, 2 * steps):
            functions[f"PGD {block} {count}"] = functools.partial(
                pgd.run_pgd, model, images, labels, EPSILON, steps=count, block=block,
                step_fraction=pgd.STEP_FRACTION, clip=True,
            )  # fmt: skip
    best = interleaved(functions, args.repeats)
    reference = best["pass"]
    report("forward + backward pass (input gradient)", reference, reference)
    for loss in apgd.LOSSES:
        iteration = (best[f"APGD-{loss} {2 * steps}"] - best[f"APGD-{loss} {steps}"]) / steps
        report(f"APGD-{loss} iteration", iteration, reference)
        report(f"APGD-{loss} whole call / S", best[f"APGD-{loss} call"] / steps, reference)
    iteration = (best[f"APGD blocks {2 * steps}"] - best[f"APGD blocks {steps}"]) / steps
    report("APGD-margin iteration, blocks of 10", iteration, reference)
    for block, name in ((0, "one fori_loop"), (10, "blocks of 10")):
        iteration = (best[f"PGD {block} {2 * steps}"] - best[f"PGD {block} {steps}"]) / steps
        report(f"PGD iteration, {name}", iteration, reference)


def square_section(setup: Setup) -> None:
    """One Square query (a forward pass and the proposal), as (T(2Q) − T(Q)) / Q over
    Q = 10 S queries, against the forward pass alone. An ε of 0 fools nothing, so every
    query runs on the whole batch."""
    model, images, labels, args = setup
    zero = jnp.zeros(len(images), jnp.float32)
    queries = 10 * args.steps
    functions = {"pass": reference_pass(setup),
                 "forward": functools.partial(_forward, model, images)}  # fmt: skip
    for count in (queries, 2 * queries):
        functions[f"Square {count}"] = functools.partial(
            square._square_run, model, images, labels, zero, jax.random.key(0),
            queries=count, p_init=square.P_INIT, clip=True,
        )  # fmt: skip
    best = interleaved(functions, args.repeats)
    query = (best[f"Square {2 * queries}"] - best[f"Square {queries}"]) / queries
    report("forward + backward pass (input gradient)", best["pass"], best["pass"])
    report("forward pass", best["forward"], best["pass"])
    report("Square query", query, best["pass"])
    report("Square query", query, best["forward"], "the forward pass")


def torch_section(setup: Setup) -> None:
    """The PyTorch adapter against PyTorch alone, on the example CNN
    (`torch_adapter_cost.measure`: logits, and the input gradient of a loss)."""
    import torch_adapter_cost  # the neighbour script; needs the `torch` extra

    figures = torch_adapter_cost.measure(setup.args.batch, setup.args.repeats)
    for what in ("forward", "gradient"):
        print(f"  {what}: PyTorch {figures[f'torch_{what}_ms']:.1f} ms, adapter "
              f"{figures[f'adapter_{what}_ms']:.1f} ms, median ratio "
              f"{figures[f'{what}_ratio']:.2f}×")  # fmt: skip


def presets_section(setup: Setup) -> None:
    """The wall time of `experiments.bench` with the `quick` and `standard` presets on the
    model, from nothing (compilation included) into a temporary directory."""
    from experiments.bench import pipeline

    for preset in ("quick", "standard"):
        with tempfile.TemporaryDirectory() as out:
            began = time.perf_counter()
            pipeline.run(setup.args.workdir, pathlib.Path(out) / "run", preset=preset,
                         log=lambda line: None)  # fmt: skip
            print(f"  {preset}: {time.perf_counter() - began:.0f} s")


SECTIONS: dict[str, Callable[[Setup], None]] = {
    "apgd": apgd_section,
    "square": square_section,
    "torch": torch_section,
    "presets": presets_section,
}
DEFAULT_SECTIONS = ("apgd", "square", "torch")  # presets take minutes: ask for them


def check_counts(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Every count must be at least 1 (a usage error naming the flag, before any work)."""
    for flag in ("batch", "steps", "repeats"):
        value = getattr(args, flag)
        if value < 1:
            parser.error(f"--{flag} must be >= 1, got {value}")
    if not pathlib.Path(args.workdir, "config.json").is_file():
        parser.error(f"--workdir {args.workdir} is not a training run (no config.json)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="models/cpu_taylor", help="a trained run")
    parser.add_argument("--batch", type=int, default=128, help="images per pass")
    parser.add_argument("--steps", type=int, default=20, help="APGD iterations S (Square: 10 S)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls; the best counts")
    parser.add_argument("--sections", default=",".join(DEFAULT_SECTIONS),
                        help=f"comma-separated, of {', '.join(SECTIONS)}")  # fmt: skip
    args = parser.parse_args(argv)
    check_counts(parser, args)
    sections = args.sections.split(",")
    unknown = [name for name in sections if name not in SECTIONS]
    if unknown or not sections:
        parser.error(f"--sections must name some of {', '.join(SECTIONS)}, got {args.sections!r}")

    setup = load(args)
    side = setup.images.shape[1]
    print(f"model {args.workdir}, batch {args.batch} of {side}×{side}, "
          f"{jax.devices()[0].device_kind}, best of {args.repeats}")  # fmt: skip
    for name in sections:
        print(f"{name}:")
        SECTIONS[name](setup)


if __name__ == "__main__":
    main()
