"""Curve families: the latent spaces and the curves Θ_z(t) they define.

A family is an immutable, hashable spec, so it can be a static argument of
`jax.jit` and a key of a config. Each family knows its latent shape, how to draw
one latent from a PRNG key, and how to evaluate its curve at given values of t.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np


def _check_positive_int(owner: str, name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be an integer >= 1, got {value!r}")


def _check_t_range(owner: str, t_min: float, t_max: float) -> None:
    if not (math.isfinite(t_min) and math.isfinite(t_max) and t_min < t_max):
        raise ValueError(
            f"{owner}: expected finite t_min < t_max, got t_min={t_min!r}, t_max={t_max!r}"
        )


@dataclasses.dataclass(frozen=True)
class Taylor:
    """Truncated Taylor series Θ(t) = (Σ a_i tⁱ/i!, Σ b_i tⁱ/i!), i = 1..order.

    Latents have shape (2, order): row 0 holds a (x), row 1 holds b (y), drawn
    uniformly from [-1, 1]. There is no constant term: rescaling removes it anyway.
    """

    order: int = 7
    t_min: float = -3.0
    t_max: float = 3.0

    name: ClassVar[str] = "taylor"

    def __post_init__(self) -> None:
        _check_positive_int("Taylor", "order", self.order)
        _check_t_range("Taylor", self.t_min, self.t_max)

    @property
    def latent_shape(self) -> tuple[int, int]:
        return (2, self.order)

    def sample(self, key: jax.Array) -> jax.Array:
        """One latent, uniform on [-1, 1]^(2×order)."""
        return jax.random.uniform(key, self.latent_shape, jnp.float32, -1.0, 1.0)

    def curve(self, z: jax.Array, t: np.ndarray) -> jax.Array:
        """Θ_z(t) for latents z (..., 2, order) at the values t (T,): (..., T, 2)."""
        powers = np.arange(1, self.order + 1)
        factorials = np.array([math.factorial(int(i)) for i in powers], dtype=np.float64)
        # The basis is built in float64 on the host so t^i/i! is exact to float32.
        basis = (np.asarray(t, np.float64)[:, None] ** powers / factorials).astype(z.dtype)
        # Products, then a fixed chain of sums, not a matmul: matmul kernels block
        # by shape, so a point's value would depend on the batch size (and GPUs
        # would round through TF32).
        terms = z[..., None, :, :] * basis[:, None, :]  # (..., T, 2, order)
        curve = terms[..., 0]
        for i in range(1, self.order):
            curve = curve + terms[..., i]
        return curve


@dataclasses.dataclass(frozen=True)
class SineNet:
    """A one-hidden-layer sine network Θ(t) = Σ_i (a_i, b_i) sin(ω_i t + φ_i).

    Latents have shape (width, 4): columns a, b, ω, φ with a, b, ω ~ N(0, 1) and
    φ ~ U[0, 2π). The paper uses width 300.
    """

    width: int = 300
    t_min: float = -2.0
    t_max: float = 2.0

    name: ClassVar[str] = "sine_net"

    def __post_init__(self) -> None:
        _check_positive_int("SineNet", "width", self.width)
        _check_t_range("SineNet", self.t_min, self.t_max)

    @property
    def latent_shape(self) -> tuple[int, int]:
        return (self.width, 4)

    def sample(self, key: jax.Array) -> jax.Array:
        """One latent: a, b, ω standard normal, φ uniform on [0, 2π)."""
        normal_key, phase_key = jax.random.split(key)
        abw = jax.random.normal(normal_key, (self.width, 3), jnp.float32)
        phase = jax.random.uniform(phase_key, (self.width, 1), jnp.float32, 0.0, 2 * np.pi)
        return jnp.concatenate([abw, phase], axis=-1)

    def curve(self, z: jax.Array, t: np.ndarray) -> jax.Array:
        """Θ_z(t) for latents z (..., width, 4) at the values t (T,): (..., T, 2)."""
        t = jnp.asarray(t, z.dtype)
        amplitude = z[..., None, :, 0:2]  # (..., 1, width, 2)
        omega, phase = z[..., None, :, 2], z[..., None, :, 3]  # (..., 1, width)
        waves = jnp.sin(omega * t[:, None] + phase)  # (..., T, width)
        return _pairwise_sum(waves[..., None] * amplitude)  # (..., T, 2)


def _pairwise_sum(terms: jax.Array) -> jax.Array:
    """Sum over axis -2 of (..., n, k) in a fixed pairwise order: adds of strided
    slices, halving n each round (an odd last term waits for a later round).

    Neither a matmul (shape-dependent blocking, TF32 on GPUs) nor `jnp.sum`: XLA:CPU
    hands reductions to YNNPACK, whose kernel, and so its order of additions,
    depends on the shape and on the CPU (a batch of one curve summed differently
    from larger batches on AVX2 machines). Elementwise adds round the same way
    whatever the batch size.
    """
    while terms.shape[-2] > 1:
        even = terms.shape[-2] // 2 * 2
        pairs = terms[..., 0:even:2, :] + terms[..., 1:even:2, :]
        terms = jnp.concatenate([pairs, terms[..., even:, :]], axis=-2)
    return terms[..., 0, :]


Family = Taylor | SineNet

FAMILIES: dict[str, type] = {Taylor.name: Taylor, SineNet.name: SineNet}


def family_from_name(name: str, **params: object) -> Family:
    """Builds a family from its name ("taylor" or "sine_net") and parameters."""
    try:
        family_class = FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown family {name!r}; expected one of {sorted(FAMILIES)}") from None
    return family_class(**params)


def family_from_settings(name: str, *, order: int = 7, width: int = 300) -> Family:
    """The family `name` with its size parameter taken from settings that carry both
    (a config file): `order` for Taylor, `width` for SineNet; the other is ignored."""
    sizes = {Taylor.name: {"order": order}, SineNet.name: {"width": width}}
    if name not in sizes:
        raise ValueError(f"unknown family {name!r}; expected one of {sorted(FAMILIES)}")
    return family_from_name(name, **sizes[name])


def check_family(family: object) -> Family:
    """Returns `family` if it is a family spec, else raises a clear TypeError."""
    if not isinstance(family, (Taylor, SineNet)):
        raise TypeError(
            f"expected a family such as squiggles.Taylor() or squiggles.SineNet(), got {family!r}"
        )
    return family
