"""Randomized smoothing's certify against the plain forward rate; the true-class search's cost.

`experiments.attacks.smoothing.certify`'s draws per second against the model's forward
rate, and the cost of the true-class distance search of the `certify` analysis.

    python benchmarks/certify_cost.py --model cpu --images 50 --samples 2000 --batch 1024
    python benchmarks/certify_cost.py --workdir models/cpu_taylor_noise025 --search_examples 20

Both classify the same number of images per forward pass: the forward rate is a jitted
`logits` of that many test images; certify draws its n₀ + n noise draws of each image
(`ford.class_counts`: draw, add, classify and count inside one jitted scan over passes),
then bounds and certifies on the host. Its rate counts draws × images per second; the
ratio is the share of the forward rate it keeps (the aim is at least 0.8).

The search (`experiments.attacks.true_class.true_class_distance`, the analysed model as
navigator) runs once on the first `--search_examples` test examples with the `certify`
analysis's default settings, save those the `--search_*` flags set; its time per example
includes compiling its programs, as the first chunk of an analysis run pays it.
"""

from __future__ import annotations

import argparse
import math
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # experiments/
from timing import CONFIGS, best_seconds  # noqa: E402

from experiments.analyses import certify as certify_analysis  # noqa: E402
from experiments.attacks import ford, smoothing  # noqa: E402
from experiments.runs.chunk_examples import TestExamples  # noqa: E402
from experiments.training import data, metrics, trained_run, trainer  # noqa: E402

COUNTS = {  # flag: the least value it takes
    "images": 1, "samples": 1, "selection_samples": 1, "batch": 1, "repeats": 1,
    "search_examples": 0, "search_steps": 1, "search_iterations": 0,
}  # fmt: skip


def parse_epsilons(text: str) -> tuple[float, ...]:
    """A comma-separated list of positive ε, as argparse's `type` (its error names it)."""
    try:
        epsilons = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None
    if not all(0 < epsilon < math.inf for epsilon in epsilons):
        raise argparse.ArgumentTypeError(
            f"every ε must be a finite number > 0, got {text!r}"
        ) from None
    return epsilons


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The flags, or a usage error (exit status 2) naming the bad one, before any work."""
    defaults = certify_analysis.default_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(CONFIGS), default="cpu",
                        help="an untrained model of this config (unless --workdir)")  # fmt: skip
    parser.add_argument("--workdir", help="a trained run (default: --model, untrained)")
    parser.add_argument("--images", type=int, default=50, help="test images certified")
    parser.add_argument("--samples", type=int, default=2000, help="estimation draws n")
    parser.add_argument("--selection_samples", type=int, default=100, help="selection draws n₀")
    parser.add_argument("--batch", type=int, default=1024, help="images per forward pass, at most")
    parser.add_argument("--sigma", type=float, default=0.25, help="the smoothing noise σ")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls; the best counts")
    parser.add_argument("--search_examples", type=int, default=20,
                        help="examples of the true-class search (0: skip it)")  # fmt: skip
    parser.add_argument("--search_steps", type=int, default=defaults.steps,
                        help="PGD iterations per ε of the search across the boundary")  # fmt: skip
    parser.add_argument("--search_iterations", type=int, default=defaults.search_iterations,
                        help="iterations of the search along the boundary")  # fmt: skip
    parser.add_argument("--search_epsilons", type=parse_epsilons, default=tuple(defaults.epsilons),
                        help="the search's latent ε, comma-separated")  # fmt: skip
    args = parser.parse_args(argv)
    for flag, least in COUNTS.items():
        value = getattr(args, flag)
        if value < least:
            parser.error(f"--{flag} must be >= {least}, got {value}")
    if not 0 < args.sigma < math.inf:
        parser.error(f"--sigma must be a finite number > 0, got {args.sigma}")
    if args.workdir and not pathlib.Path(args.workdir, "config.json").is_file():
        parser.error(f"--workdir {args.workdir} is not a training run (no config.json)")
    return args


def search_settings(args: argparse.Namespace) -> ml_collections.ConfigDict:
    """The `certify` analysis's defaults, with the search settings the flags set."""
    settings = certify_analysis.default_settings()
    settings.update(steps=args.search_steps, search_iterations=args.search_iterations,
                    epsilons=args.search_epsilons)  # fmt: skip
    return settings


def time_search(
    logits_fn, chunk: TestExamples, family, resolution: int, args: argparse.Namespace
) -> None:
    """One call of the true-class search on the chunk, the model as its own navigator."""
    settings = search_settings(args)
    start = time.perf_counter()
    nearest = certify_analysis.true_class_search(
        settings, logits_fn, chunk.latents, chunk.labels, family=family, resolution=resolution,
        batch=len(chunk.labels),
    )  # fmt: skip
    seconds = time.perf_counter() - start
    count = len(chunk.labels)
    print(
        f"true-class search: {seconds / count:10.3f} s per example "
        f"({count} examples, {seconds:.1f} s, compiling included; ε {settings.epsilons}, "
        f"{settings.steps} steps, {settings.search_iterations} iterations)"
    )
    print(
        f"true-class distance: median {np.median(nearest.distance):.4f}, "
        f"crossed {int(nearest.found.sum())} of {count}"
    )


def load_model(args: argparse.Namespace):
    """(train state, config) of the trained run, or of an untrained `--model`."""
    if args.workdir:
        return trained_run.load_run(args.workdir)
    config = CONFIGS[args.model].get_config()
    return trainer.create_train_state(config, jax.random.key(0)), config


def forward_rate(state, images: jax.Array, per_pass: int, passes: int, repeats: int) -> float:
    """Images per second of `passes` jitted forward passes of `per_pass` copies of images."""
    forward = jax.jit(metrics.logits)
    batch = jnp.tile(images, (per_pass, 1, 1))
    seconds = best_seconds(lambda: [forward(state, batch) for _ in range(passes)], repeats)
    return passes * len(batch) / seconds


def certify_rate(logits_fn, images: jax.Array, args) -> tuple[float, smoothing.Certificate]:
    """Draws × images per second of `smoothing.certify`, and its certificates."""
    certificates = []  # every call's are the same: one key

    def run() -> smoothing.Certificate:
        certificates.append(smoothing.certify(
            logits_fn, images, args.sigma, selection_samples=args.selection_samples,
            samples=args.samples, key=jax.random.key(0), batch=args.batch,
        ))  # fmt: skip
        return certificates[-1]

    seconds = best_seconds(run, args.repeats)
    return (args.selection_samples + args.samples) * len(images) / seconds, certificates[-1]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    state, config = load_model(args)
    family = data.family_of(config)
    chunk = TestExamples.load(family, config.resolution, 0, args.images)
    images = jnp.asarray(chunk.images)
    logits_fn = trained_run.classifier(state)
    # certify's estimation passes classify this many draws of every image at once.
    per_pass = min(ford.draws_per_pass(args.images, args.batch), args.samples)
    passes = -(-args.samples // per_pass)
    forward = forward_rate(state, images, per_pass, passes, args.repeats)
    rate, certificate = certify_rate(logits_fn, images, args)
    right = certificate.prediction == chunk.labels
    median_radius = np.median(certificate.radius[right]) if right.any() else 0.0

    print(
        f"device: {jax.devices()[0].device_kind}, model {args.workdir or args.model}, "
        f"{args.images} images × ({args.selection_samples} + {args.samples}) draws at "
        f"σ={args.sigma:g}, {args.images * per_pass} images per forward pass, "
        f"best of {args.repeats}"
    )
    print(f"plain forward:  {forward:10,.0f} images/s")
    print(f"certify:        {rate:10,.0f} draws·images/s ({rate / forward:.2f}× the forward rate)")
    print(
        f"certificates:   right and certified {right.mean():.2f}, abstained "
        f"{np.mean(certificate.prediction == smoothing.ABSTAIN):.2f}, median radius of the "
        f"right {median_radius:.4f}"
    )
    if args.search_examples:
        search_chunk = TestExamples.load(family, config.resolution, 0, args.search_examples)
        time_search(logits_fn, search_chunk, family, config.resolution, args)


if __name__ == "__main__":
    main()
