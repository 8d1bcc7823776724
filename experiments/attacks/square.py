"""The ℓ2 Square attack of Andriushchenko, Croce, Flammarion & Hein (ECCV 2020), "Square
Attack: a query-efficient black-box adversarial attack via random search", for a
`Classifier` (or a plain logits function) of single-channel images (N, R, R).

It uses the model's logits only, never its gradient, so a model whose gradient is
useless (masked: zero, noisy or flat almost everywhere) cannot hide from it the way it
hides from PGD or APGD. It is a random search that stays on the sphere ‖x − x₀‖₂ = ε
(before clipping to the input range) and accepts a proposal only when it lowers the
margin of the true class (`losses.margin`); an example stops changing once it is
misclassified, and the loop ends when every example is.

What is taken from the paper (its ℓ2 algorithm):

- the window shape: a square of side h split into two halves of opposite sign, each
  half a rectangle whose cells at Chebyshev distance d from its centre weigh
  Σ_{j=d+1}^{n+1} 1/j² (n = ⌊h/2⌋: concentric squares, heaviest in the middle), each half
  scaled to unit norm, the whole transposed with probability ½ (`window_shape`);
- the initialisation: a 5 × 5 grid of tiles of side ⌊R/5⌋, centred, each holding the
  window shape with a random sign, rescaled to norm ε;
- the side h: √(p·R²) rounded, at least 3, made odd (a centre pixel), where the
  fraction p of the image starts at `p_init` (0.1, the paper's value for ℓ2) and is
  halved after iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000 and 8000 of 10,000,
  rescaled to the `queries` given;
- each proposal: two windows W₁, W₂ at uniformly random positions (per example
  here); the perturbation in W₂ is set to 0, and W₁ gets its old content (scaled to
  unit norm) plus the window shape with a random sign, rescaled so that W₁ holds all
  the mass W₁ ∪ W₂ had plus whatever of the budget ε² the current point leaves unused
  (clipping can shrink it); the whole perturbation is then rescaled to norm ε.

Every query is one forward pass of the whole batch inside one jitted while_loop; the
windows are masks made from iotas, cheap at R = 60.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from experiments import checks
from experiments.attacks import ford, losses, pgd

P_INIT = 0.1  # the paper's initial fraction of the image for ℓ2
HALVINGS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)  # of 10,000 iterations
PAPER_QUERIES = 10_000
TILES = 5  # the initial grid is TILES × TILES


def window_shape(h: jax.Array, size: int) -> jax.Array:
    """A (size, size) table whose top-left h × h block is the ℓ2 update shape (unit
    norm: the top half positive, the bottom half negative), zero elsewhere. h may be
    traced; 1 ≤ h ≤ size."""
    rows, cols = jnp.arange(size)[:, None], jnp.arange(size)[None, :]
    top = h // 2  # rows in the top half
    in_top = rows < top
    row = jnp.where(in_top, rows, rows - top)  # within its half
    height = jnp.where(in_top, top, h - top)
    distance = jnp.maximum(jnp.abs(row - height // 2), jnp.abs(cols - h // 2))
    squares = jnp.concatenate([jnp.zeros(1), jnp.cumsum(1.0 / jnp.arange(1, size + 2) ** 2)])
    weight = squares[h // 2 + 1] - squares[jnp.minimum(distance, h // 2 + 1)]
    inside = (rows < h) & (cols < h)
    halves = [inside & in_top, inside & ~in_top]
    norms = [jnp.sqrt(jnp.sum(jnp.where(half, weight**2, 0.0))) for half in halves]
    shape = sum(
        jnp.where(half, sign * weight / jnp.maximum(norm, jnp.finfo(jnp.float32).tiny), 0.0)
        for half, norm, sign in zip(halves, norms, (1.0, -1.0), strict=True)
    )
    return shape / jnp.maximum(jnp.sqrt(jnp.sum(shape**2)), jnp.finfo(jnp.float32).tiny)


def _offsets(h, row, col, size):
    """Each pixel's offset (a, b) from the corner (row, col) of an example's window, and
    whether it lies in the h × h window (row, col: (N,))."""
    a = jnp.arange(size)[None, :, None] - row[:, None, None]
    b = jnp.arange(size)[None, None, :] - col[:, None, None]
    return a, b, (a >= 0) & (a < h) & (b >= 0) & (b < h)


def _placed(table, h, row, col, flip, size):
    """The h × h block of `table` at (row, col) of a (size, size) image, one per example
    (row, col, flip: (N,)), transposed where `flip`; and the mask of the window."""
    a, b, inside = _offsets(h, row, col, size)
    flip = flip[:, None, None]
    u, v = jnp.where(flip, b, a), jnp.where(flip, a, b)
    u, v = jnp.clip(u, 0, size - 1), jnp.clip(v, 0, size - 1)
    return jnp.where(inside, table[u, v], 0.0), inside


def side(query: jax.Array, queries: int, p_init: float, size: int) -> jax.Array:
    """The window side h at iteration `query` of `queries`: the paper's schedule of p
    rescaled to the budget, then √(p·R²) rounded, at least 3, odd, at most R."""
    rescaled = query * PAPER_QUERIES // queries
    halvings = sum((rescaled > point).astype(jnp.int32) for point in HALVINGS)
    p = p_init / 2.0**halvings
    h = jnp.maximum(jnp.round(jnp.sqrt(p * size * size)).astype(jnp.int32), 3)
    return jnp.minimum(h + 1 - h % 2, size)


def _initial(key, x0, epsilon, bounds):
    """The paper's start: a centred TILES × TILES grid of windows of side ⌊R/5⌋, each
    with a random sign (and, here, a random transposition), rescaled to norm ε."""
    count, size = x0.shape[0], x0.shape[1]
    tile = size // TILES
    offset = (size - TILES * tile) // 2
    table = window_shape(jnp.asarray(tile), tile)
    index = jnp.arange(size) - offset
    within = (index >= 0) & (index < TILES * tile)
    which = jnp.clip(index // tile, 0, TILES - 1)
    local = jnp.where(within, index % tile, 0)
    draws = jax.random.uniform(key, (2, count, TILES, TILES))
    signs, flips = jnp.where(draws[0] < 0.5, -1.0, 1.0), draws[1] < 0.5
    i, j = which[:, None], which[None, :]
    u, v = local[:, None], local[None, :]
    flip = flips[:, i, j]
    value = table[jnp.where(flip, v, u), jnp.where(flip, u, v)]
    delta = jnp.where(within[:, None] & within[None, :], signs[:, i, j] * value, 0.0)
    return pgd.project(x0 + epsilon * pgd.unit(delta), x0, epsilon, bounds)


def _norm(x: jax.Array) -> jax.Array:
    return jnp.sqrt(jnp.sum(jnp.square(x), axis=(1, 2), keepdims=True))


@functools.partial(jax.jit, static_argnames=("queries", "p_init", "clip"))
def _square_run(model, x0, labels, epsilon, key, *, queries, p_init, clip):
    count, size = x0.shape[0], x0.shape[1]
    radius = epsilon.reshape(-1, 1, 1)
    bounds = model.input_range if clip else None
    tiny = jnp.finfo(x0.dtype).tiny

    def margin_and_error(x):
        logits = model(x)
        return losses.margin(logits, labels), jnp.argmax(logits, -1) != labels

    clean_margin, fooled = margin_and_error(x0)
    init_key, loop_key = jax.random.split(key)
    start = _initial(init_key, x0, radius, bounds)
    start_margin, start_fooled = margin_and_error(start)
    best = jnp.where(fooled[:, None, None], x0, start)
    best_margin = jnp.where(fooled, clean_margin, start_margin)
    fooled = fooled | start_fooled

    def proposal(query, best, query_key):
        h = side(query, queries, p_init, size)
        # One draw per query (each random function is a program of its own to compile):
        # the corners of the two windows, the transposition and the sign.
        draws = jax.random.uniform(query_key, (6, count))
        place = jnp.minimum((draws[:4] * (size - h + 1)).astype(jnp.int32), size - h)
        flip = draws[4] < 0.5
        sign = jnp.where(draws[5] < 0.5, -1.0, 1.0)[:, None, None]
        shape, first = _placed(window_shape(h, size), h, place[0], place[1], flip, size)
        *_, second = _offsets(h, place[2], place[3], size)
        delta = best - x0
        old = jnp.where(first, delta, 0.0)
        mass = _norm(jnp.where(first | second, delta, 0.0)) ** 2
        budget = jnp.maximum(radius**2 - _norm(delta) ** 2, 0.0) + mass
        new = sign * shape + old / jnp.maximum(_norm(old), tiny)
        new = new / jnp.maximum(_norm(new), tiny) * jnp.sqrt(budget)
        delta = jnp.where(first, new, jnp.where(second, 0.0, delta))
        return pgd.project(x0 + radius * pgd.unit(delta), x0, radius, bounds)

    def unfinished(carry):
        query, *_, fooled = carry
        return (query < queries) & ~jnp.all(fooled)

    def step(carry):
        query, best, best_margin, fooled = carry
        x = proposal(query, best, jax.random.fold_in(loop_key, query))
        margin, wrong = margin_and_error(x)
        accept = (margin < best_margin) & ~fooled
        best = jnp.where(accept[:, None, None], x, best)
        return (query + 1, best, jnp.where(accept, margin, best_margin),
                fooled | (accept & wrong))  # fmt: skip

    _, best, _, fooled = jax.lax.while_loop(unfinished, step, (0, best, best_margin, fooled))
    return best, fooled


def square(
    model: pgd.Model, x0, labels, epsilon, *, queries: int = 1000, p_init: float = P_INIT,
    key: jax.Array, clip: bool = True,
) -> pgd.Attacked:  # fmt: skip
    """The ℓ2 Square attack on the images x0 (N, R, R) with true `labels`, ε a scalar or
    one per image, for at most `queries` iterations of the random search (one forward
    pass of the batch each, after one for the clean images and one for the start),
    windows covering a fraction `p_init` of the image at first; iterates clipped to the
    model's input range when `clip`.

    Returns `pgd.Attacked`: `point` (N, R, R), the first misclassified point found (x0
    for a clean error), else the point of lowest margin; `found` (N,) bool, whether the
    point is misclassified."""
    queries = checks.check_integer(queries, "queries", 1)
    p_init = checks.check_number(p_init, "p_init", "in (0, 1]", lambda p: 0 < p <= 1)
    if not isinstance(clip, bool):
        raise ValueError(f"clip must be True or False, got {clip!r}")
    if key is None:
        raise ValueError("square needs a key: its windows and signs are random")
    x0, labels = ford.check_inputs(x0, labels)
    if x0.shape[1] < TILES:
        raise ValueError(f"images must be at least {TILES}x{TILES} for the initial grid of "
                         f"{TILES}x{TILES} windows, got {x0.shape[1]}x{x0.shape[2]}")  # fmt: skip
    model, labels = ford.check_model(model, x0, labels)
    epsilon = ford.check_sigmas(epsilon, len(x0), "epsilon")
    point, found = _square_run(model, x0, labels, epsilon, key, queries=queries,
                               p_init=p_init, clip=clip)  # fmt: skip
    return pgd.Attacked(np.asarray(point), np.asarray(found))
