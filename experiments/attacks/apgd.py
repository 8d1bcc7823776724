"""APGD, the step-size-free ℓ2 attack of Croce & Hein (ICML 2020), "Reliable evaluation
of adversarial robustness with an ensemble of diverse parameter-free attacks", for a
`Classifier` (or a plain logits function) of images (N, R, R).

PGD's fixed step (`experiments.attacks.pgd`) must be tuned; APGD sets its own. It
maximises a loss f over the ball ‖x − x₀‖₂ ≤ ε (and the input range, with `clip`):

- the first step is a plain one, x₁ = P(x₀ + η·∇̂f(x₀)), with η = 2ε and ∇̂ the
  gradient scaled to unit ℓ2 norm (`pgd.unit`); P projects onto the ball, then clips
  (`pgd.project`);
- then, with momentum α = 0.75, z = P(x_k + η·∇̂f(x_k)) and
  x_{k+1} = P(x_k + α(z − x_k) + (1 − α)(x_k − x_{k−1}));
- at the checkpoints w_j = ⌈p_j·N_iter⌉ (`checkpoints`: p₀ = 0, p₁ = 0.22,
  p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06)), η is halved and the iterate
  restarted from the best point so far when condition 1 (fewer than ρ = 0.75 of the
  w_j − w_{j−1} steps since the last checkpoint raised f) or condition 2 (η was not
  halved at the last checkpoint and the best loss has not risen since) holds.

Everything is per example: the step size, the counts, the best point. The loss is the
cross-entropy of the true label (`"ce"`) or the two-class margin in units of the clean
margin (`"margin"`, `losses.relative_margin_loss`, which replaces AutoAttack's DLR).
Each iteration is one forward and backward pass, all of them in one jitted fori_loop
(or, with `block`, in jitted blocks of unrolled iterations: faster on XLA:CPU).
An example is `found` when any iterate (or the clean input) is misclassified; its point
is then the first such iterate, as AutoAttack reports a point that fools the model, and
otherwise the point of highest loss.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments import checks
from experiments.attacks import ford, losses, pgd

LOSSES = ("ce", "margin")
MOMENTUM = 0.75  # α
RHO = 0.75  # condition 1: the fraction of steps that must raise the loss
FIRST_STEP = 2.0  # η₀ = 2ε


def checkpoints(steps: int) -> tuple[int, ...]:
    """The paper's checkpoints w_0 = 0, w_1, … for `steps` iterations: w_j = ⌈p_j·steps⌉
    for every p_j ≤ 1, repeats dropped. The p_j are kept in hundredths, as integers, so
    that ⌈0.41·100⌉ is 41 and not 42 (0.41·100 is 41.000000000000007 in floats)."""
    steps = checks.check_integer(steps, "steps", 1)
    hundredths = [0, 22]
    while (following := hundredths[-1] + max(hundredths[-1] - hundredths[-2] - 3, 6)) <= 100:
        hundredths.append(following)
    return tuple(dict.fromkeys(-(-p * steps // 100) for p in hundredths))


def _schedule(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """For iterations 0 … steps−1: whether each is a checkpoint, and its window length
    w_j − w_{j−1} there (0 elsewhere)."""
    points = checkpoints(steps)
    is_check, length = np.zeros(steps, bool), np.zeros(steps, np.int32)
    for previous, point in zip(points, points[1:], strict=False):
        if point < steps:
            is_check[point], length[point] = True, point - previous
    return is_check, length


def _column(values: jax.Array, like: jax.Array) -> jax.Array:
    return values.reshape((-1,) + (1,) * (like.ndim - 1))


def _where(condition: jax.Array, a: jax.Array, b: jax.Array) -> jax.Array:
    """a where the per-example condition holds, else b."""
    return jnp.where(_column(condition, a), a, b)


def _evaluator(model, labels, clean_margin, loss):
    """x ↦ (the loss of each example, whether it is misclassified, the gradient of the
    step): one forward and backward pass."""

    def total(x):
        logits = model(x)
        if loss == "ce":
            values = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
            return jnp.sum(values), (values, logits)
        # The step follows the gradient of −margin: the relative loss's gradient times
        # |clean margin| > 0, so the same once normalised, and finite where the clean
        # margin is (nearly) 0 and 1/|clean margin| overflows.
        values = losses.relative_margin_loss(logits, labels, clean_margin)
        return -jnp.sum(losses.margin(logits, labels)), (values, logits)

    def evaluate(x):
        (_, (values, logits)), gradient = jax.value_and_grad(total, has_aux=True)(x)
        return values, jnp.argmax(logits, -1) != labels, gradient

    return evaluate


def _recorded(found, error, x, wrong):
    """Keep the first misclassified point of each example."""
    return found | wrong, _where(wrong & ~found, x, error)


def _start(model, x0, labels, epsilon, key, *, loss, clip):
    """The state after the first, plain step from x0 (key None) or a random point."""
    radius = _column(epsilon, x0)
    bounds = model.input_range if clip else None
    clean_logits = model(x0)
    clean_margin = losses.margin(clean_logits, labels)
    evaluate = _evaluator(model, labels, clean_margin, loss)
    found, error = jnp.argmax(clean_logits, -1) != labels, x0
    start = x0 if key is None else pgd.random_point(key, x0, epsilon, bounds)
    f_start, wrong, g_start = evaluate(start)
    found, error = _recorded(found, error, start, wrong)
    eta = FIRST_STEP * radius
    x = pgd.project(start + eta * pgd.unit(g_start), x0, radius, bounds)
    f, wrong, g = evaluate(x)
    found, error = _recorded(found, error, x, wrong)
    better = f > f_start
    best = (_where(better, x, start), jnp.maximum(f, f_start), _where(better, g, g_start))
    return dict(previous=start, x=x, f=f, g=g, eta=eta, best=best,
                count=better.astype(jnp.int32), reference=best[1],
                halved=jnp.zeros_like(better), found=found, error=error,
                clean_margin=clean_margin)  # fmt: skip


def _steps(model, x0, labels, epsilon, state, first, *, count, steps, loss, clip, unroll):
    """Iterations first … first + count − 1 (of 1 … steps − 1) from `state`."""
    radius = _column(epsilon, x0)
    bounds = model.input_range if clip else None
    evaluate = _evaluator(model, labels, state["clean_margin"], loss)
    is_check, length = (jnp.asarray(a) for a in _schedule(steps))

    def halving(k, c, best_f):
        """Whether iteration k is a checkpoint w_j at which η halves: condition 1, fewer
        than ρ of the steps w_{j−1} … w_j − 1 raised f; or condition 2, η was kept at
        w_{j−1} and the best loss has not risen since."""
        too_few = c["count"] < RHO * length[k]
        stalled = ~c["halved"] & (best_f <= c["reference"])
        return is_check[k] & (too_few | stalled)

    def iteration(i, c):
        k = first + i
        z = pgd.project(c["x"] + c["eta"] * pgd.unit(c["g"]), x0, radius, bounds)
        moved = c["x"] + MOMENTUM * (z - c["x"]) + (1 - MOMENTUM) * (c["x"] - c["previous"])
        x = pgd.project(moved, x0, radius, bounds)
        f, wrong, g = evaluate(x)
        found, error = _recorded(c["found"], c["error"], x, wrong)
        best_x, best_f, best_g = c["best"]
        better = f > best_f
        best = (_where(better, x, best_x), jnp.maximum(f, best_f), _where(better, g, best_g))
        halve = halving(k, c, best[1])
        x, f, g = _where(halve, best[0], x), jnp.where(halve, best[1], f), _where(halve, best[2], g)
        check = is_check[k]
        return dict(
            previous=c["x"], x=x, f=f, g=g, eta=_where(halve, c["eta"] / 2, c["eta"]),
            best=best, count=jnp.where(check, 0, c["count"]) + (f > c["f"]),
            reference=jnp.where(check, best[1], c["reference"]),
            halved=jnp.where(check, halve, c["halved"]), found=found, error=error,
            clean_margin=c["clean_margin"],
        )  # fmt: skip

    return jax.lax.fori_loop(0, count, iteration, state, unroll=unroll)


def _result(state):
    """The best point, its loss, whether an error was found, the first error (x0 where
    none) and the final step size of each example."""
    best_x, best_f, _ = state["best"]
    return best_x, best_f, state["found"], state["error"], state["eta"].reshape(-1)


_apgd_start = jax.jit(_start, static_argnames=("loss", "clip"))
_apgd_steps = jax.jit(_steps, static_argnames=("count", "steps", "loss", "clip", "unroll"))


@functools.partial(jax.jit, static_argnames=("steps", "loss", "clip"))
def _apgd_run(model, x0, labels, epsilon, key, *, steps, loss, clip):
    """One run of APGD, all of it one program: the first step, then steps − 1
    iterations in a fori_loop; returns `_result`."""
    state = _start(model, x0, labels, epsilon, key, loss=loss, clip=clip)
    state = _steps(model, x0, labels, epsilon, state, 1, count=steps - 1, steps=steps,
                   loss=loss, clip=clip, unroll=1)  # fmt: skip
    return _result(state)


def _apgd_blocks(model, x0, labels, epsilon, key, *, steps, loss, clip, block):
    """The same run as `_apgd_run`, as a program for the first step and then programs of
    `block` unrolled iterations, one after the other without host synchronisation:
    XLA:CPU runs an iteration inside a loop body about 1.5× slower than as a plain
    program (benchmarks/bench_cost.py)."""
    options = dict(loss=loss, clip=clip)
    state = _apgd_start(model, x0, labels, epsilon, key, **options)
    for first in range(1, steps, block):
        state = _apgd_steps(model, x0, labels, epsilon, state, jnp.int32(first),
                            count=min(block, steps - first), steps=steps, unroll=True,
                            **options)  # fmt: skip
    return _result(state)


def apgd(
    model: pgd.Model, x0, labels, epsilon, *, loss: str = "ce", steps: int = 100,
    restarts: int = 1, key: jax.Array | None = None, clip: bool = True, block: int = 0,
) -> pgd.Attacked:  # fmt: skip
    """ℓ2 APGD on the images x0 (N, R, R) with true `labels` within ε (a scalar or one per
    image), maximising `loss` ("ce" or "margin") for `steps` iterations, clipped to the
    model's input range when `clip`. Without a key it starts at x0; with one, each of the
    `restarts` runs starts at a random point of the ball (key folded with the run's
    number), and a later run only matters for the examples not yet fooled.

    block=0 runs each run as one jitted program (a fori_loop); block=k as jitted
    programs of k unrolled iterations one after the other, without host
    synchronisation: the same attack, faster on XLA:CPU
    (docs/attacks.md#cost-and-settings-of-apgd-square-and-the-ensemble).

    Returns `pgd.Attacked`: `point` (N, R, R), the first misclassified iterate of each
    example where one was found (x0 itself for a clean error), else the point of highest
    loss over all runs; `found` (N,) bool, whether the point is misclassified."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    steps = checks.check_integer(steps, "steps", 1)
    restarts = checks.check_integer(restarts, "restarts", 1)
    block = checks.check_integer(block, "block", 0, note="(0: one program)")
    if key is None and restarts > 1:
        raise ValueError(f"restarts={restarts} needs a key: without one every run starts "
                         f"at x0 and repeats the first")  # fmt: skip
    if not isinstance(clip, bool):
        raise ValueError(f"clip must be True or False, got {clip!r}")
    x0, labels = ford.check_inputs(x0, labels)
    model, labels = ford.check_model(model, x0, labels)
    epsilon = ford.check_sigmas(epsilon, len(x0), "epsilon")
    found = None
    for run in range(restarts):
        run_key = None if key is None else jax.random.fold_in(key, run)
        options = dict(steps=steps, loss=loss, clip=clip)
        if block:
            outputs = _apgd_blocks(model, x0, labels, epsilon, run_key, block=block, **options)
        else:
            outputs = _apgd_run(model, x0, labels, epsilon, run_key, **options)
        point, value, reached, error, _ = outputs
        if found is None:
            best, best_value, found, first = point, value, reached, error
        else:
            better = value > best_value
            best, best_value = _where(better, point, best), jnp.maximum(value, best_value)
            first, found = _where(~found & reached, error, first), found | reached
        if bool(jnp.all(found)):
            break
    return pgd.Attacked(np.asarray(_where(found, first, best)), np.asarray(found))
