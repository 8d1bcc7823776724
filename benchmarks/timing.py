"""What the model benchmarks share: the configs they can time, and the best of
several timed calls after one that compiles."""

from __future__ import annotations

import time

import jax

from experiments.configs import cpu, taylor_paper, tiny

CONFIGS = {"cpu": cpu, "resnet34": taylor_paper, "tiny": tiny}


def best_seconds(function, repeats: int) -> float:
    """Best of `repeats` timed calls, after one call that compiles."""
    jax.block_until_ready(function())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(function())
        times.append(time.perf_counter() - start)
    return min(times)
