"""An AutoAttack-style ensemble for two classes and the ℓ2 threat model: APGD on the
cross-entropy, APGD on the relative margin loss (the two-class stand-in for DLR) and
the gradient-free Square attack, each run on every example, so that each attack's own
robust accuracy can be reported beside the ensemble's. An example is robust only when
it is classified right and survives all of them.

AutoAttack also runs APGD-T and FAB-T, targeted at the other classes; with two classes
the only other class is the untargeted attacks' target, so they add nothing here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from experiments import checks
from experiments.attacks import apgd, ford, pgd, square

ATTACKS = ("apgd_ce", "apgd_margin", "square")


class EnsembleResult(NamedTuple):
    """`point` (N, R, R): the image of the first attack in ATTACKS order that fooled the
    model (the clean image for a clean error or where none did); `fooled` (N,) bool: by
    any attack, or already clean; `by_attack`: name → (N,) bool, fooled by that attack
    (clean errors included); `norm` (N,): ‖point − x0‖₂."""

    point: np.ndarray
    fooled: np.ndarray
    by_attack: dict[str, np.ndarray]
    norm: np.ndarray


def _attack(name, model, x0, labels, epsilon, key, *, steps, restarts, queries, clip, block):
    if name == "square":
        return square.square(model, x0, labels, epsilon, queries=queries, key=key, clip=clip)
    loss = name.removeprefix("apgd_")
    return apgd.apgd(model, x0, labels, epsilon, loss=loss, steps=steps, restarts=restarts,
                     key=key, clip=clip, block=block)  # fmt: skip


@jax.jit
def _clean_errors(model, x0, labels):
    return jnp.argmax(model(x0), -1) != labels


def ensemble(
    model: pgd.Model, x0, labels, epsilon, *, key: jax.Array, steps: int = 100,
    restarts: int = 1, queries: int = 1000, batch: int = 256, clip: bool = True,
    attacks: Sequence[str] = ATTACKS, block: int = 0,
) -> EnsembleResult:  # fmt: skip
    """Run `attacks` (default all of ATTACKS) on every row of x0 (N, R, R) with true
    `labels` within ε (a scalar or one per image): APGD with `steps` iterations and
    `restarts` random starts (in one program, or in programs of `block` unrolled
    iterations: see `apgd.apgd`), Square with `queries` queries, iterates clipped to the
    model's input range when `clip`.

    Rows go through each attack at most `batch` at a time, each slice padded (its last
    row repeated) to `pgd.bucket(rows, batch)` rows, so that calls on shrinking subsets
    compile a few programs. Each attack draws from `jax.random.fold_in(key, i)`, i its
    place in ATTACKS, and each slice from that key folded with its first row: an
    attack's result does not depend on which attacks ran with it, but its random draws
    do depend on `batch`."""
    unknown = [name for name in attacks if name not in ATTACKS]
    if unknown or not attacks or isinstance(attacks, str):
        raise ValueError(f"attacks must be a non-empty selection of {ATTACKS}, got {attacks!r}")
    if key is None:
        raise ValueError("ensemble needs a key: APGD starts at random points, Square is random")
    batch = checks.check_integer(batch, "batch", 1)
    for value, name in ((steps, "steps"), (restarts, "restarts"), (queries, "queries")):
        checks.check_integer(value, name, 1)
    checks.check_integer(block, "block", 0, note="(0: one program)")
    x0, labels = ford.check_inputs(x0, labels)
    model, labels = ford.check_model(model, x0, labels)
    epsilon = np.asarray(ford.check_sigmas(epsilon, len(x0), "epsilon"))
    x0, labels = np.asarray(x0), np.asarray(labels)
    clean_error = np.zeros(len(x0), bool)
    found = {name: np.zeros(len(x0), bool) for name in ATTACKS if name in attacks}
    points = {name: np.array(x0) for name in found}
    for start in range(0, len(x0), batch):
        rows = slice(start, min(start + batch, len(x0)))
        count = rows.stop - start
        size = pgd.bucket(count, batch)
        rows_in = [pgd.padded(a[rows], size) for a in (x0, labels, epsilon)]
        clean_error[rows] = np.asarray(_clean_errors(model, *rows_in[:2]))[:count]
        for name in found:
            attack_key = jax.random.fold_in(jax.random.fold_in(key, ATTACKS.index(name)), start)
            attacked = _attack(name, model, *rows_in, attack_key, steps=steps,
                               restarts=restarts, queries=queries, clip=clip,
                               block=block)  # fmt: skip
            found[name][rows] = attacked.found[:count]
            points[name][rows] = attacked.point[:count]
    point = np.array(x0)
    taken = clean_error.copy()
    for name in found:
        new = found[name] & ~taken
        point[new] = points[name][new]
        taken |= new
    norm = np.linalg.norm((point - x0).reshape(len(x0), -1), axis=1)
    return EnsembleResult(point, taken, found, norm)
