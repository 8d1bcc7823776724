"""`corrupt`: one corruption at one severity applied to a batch of images of any
leading shape, with the checks that turn bad input into a clear error."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from squiggles.corruptions import blur, digital, noise, strokes
from squiggles.corruptions.severities import (
    TABLE,
    check_corruption,
    check_severity,
    scale_factor,
    value,
)

NEEDS_POINTS = ("thin_stroke", "thick_stroke")  # re-rendered from the curve
ON_HOST = ("jpeg_compression",)  # an encoder library: concrete arrays only
MIN_RESOLUTION = 4


def _is_traced(*values: object) -> bool:
    return any(isinstance(v, jax.core.Tracer) for v in values)


def check_images(images: object) -> jax.Array:
    """Float images (..., R, R) with R >= 4; when concrete, finite and in [0, 1]."""
    shape = np.shape(images)
    if len(shape) < 2 or shape[-1] != shape[-2] or shape[-1] < MIN_RESOLUTION:
        raise ValueError(
            f"images must have shape (..., R, R) with R >= {MIN_RESOLUTION}, got {tuple(shape)}"
        )
    images = jnp.asarray(images)
    if not jnp.issubdtype(images.dtype, jnp.floating):
        raise ValueError(
            f"images must be floats in [0, 1], got dtype {images.dtype} (dequantize uint8 first)"
        )
    if not _is_traced(images) and images.size:
        if not bool(jnp.isfinite(images).all()):
            raise ValueError("images must be in [0, 1], got NaN or infinite values")
        low, high = float(jnp.min(images)), float(jnp.max(images))
        if not (0.0 <= low and high <= 1.0):
            raise ValueError(f"images must be in [0, 1], got values from {low} to {high}")
    return images


def per_image_keys(key: object, leading: tuple[int, ...]) -> jax.Array:
    """One typed key per image (flattened): `key` split when it is a single key, or
    taken as is when it holds one key per image (shape `leading`)."""
    key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
    if not jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.dtype != jnp.uint32 or key.shape[-1:] != (2,):
            raise ValueError(
                f"key must be a JAX PRNG key (jax.random.key or PRNGKey), or one per image; "
                f"got dtype {key.dtype} and shape {key.shape}"
            )
        key = jax.random.wrap_key_data(key, impl="threefry2x32")
    count = math.prod(leading)
    if key.shape == ():
        return jax.random.split(key, count)
    if key.shape != leading:
        raise ValueError(
            f"key must be a single key or one per image (shape {leading}), got shape {key.shape}"
        )
    return key.reshape(count)


def _check_points(points: object, leading: tuple[int, ...], name: str) -> jax.Array:
    if points is None:
        raise ValueError(
            f"{name} re-renders the stroke from the curve: pass points=(..., P, 2), the "
            f"rescaled points of each image (squiggles.points(z) or Examples.points)"
        )
    points = jnp.asarray(points, jnp.float32)
    if points.ndim != len(leading) + 2 or points.shape[:-2] != leading or points.shape[-1] != 2:
        raise ValueError(
            f"points must have shape {(*leading, 'P', 2)} (one curve per image), got "
            f"{tuple(points.shape)}"
        )
    return points.reshape(-1, *points.shape[-2:])


def corrupt(
    images: jax.Array,
    corruption: str,
    severity: int,
    key: jax.Array,
    *,
    points: jax.Array | None = None,
) -> jax.Array:
    """`images` (..., R, R) in [0, 1] under `corruption` at `severity` (1-5; 0 returns
    them unchanged), in [0, 1] with the same shape and dtype.

    `key` is one key for the batch (split per image) or one per image (shape `...`),
    which makes each image's corruption independent of the batch it is in.
    `thin_stroke` and `thick_stroke` need the curves' `points` (..., P, 2).
    Every corruption but `jpeg_compression` (an encoder on the host) can be traced.
    """
    corruption, severity = check_corruption(corruption), check_severity(severity)
    images = check_images(images)
    leading, resolution = images.shape[:-2], images.shape[-1]
    keys = per_image_keys(key, leading)
    stroke_points = (
        _check_points(points, leading, corruption) if corruption in NEEDS_POINTS else None
    )
    if severity == 0:
        return images
    if corruption in ON_HOST and _is_traced(images):
        raise TypeError(
            f"{corruption} runs an encoder on the host and cannot be traced (inside jit, grad "
            f"or vmap): call it on concrete images"
        )
    flat = images.reshape(-1, resolution, resolution)
    parameter = value(corruption, severity, resolution)
    out = _apply(corruption, flat, keys, parameter, resolution, stroke_points)
    return jnp.asarray(out, images.dtype).reshape(images.shape)


def _apply(name, images, keys, parameter, resolution, points):
    scale = scale_factor(name, resolution)
    if name in ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise"):
        return getattr(noise, name)(images, keys, jnp.float32(parameter))
    if name == "defocus_blur":
        size = blur.kernel_size(TABLE[name].values[-1] * scale + 1)
        return blur.defocus_blur(images, jnp.float32(parameter), size)
    if name == "gaussian_blur":
        radius = math.ceil(3 * TABLE[name].values[-1] * scale)
        return blur.gaussian_blur(images, jnp.float32(parameter), radius)
    if name == "motion_blur":
        size = blur.kernel_size(TABLE[name].values[-1] * scale / 2 + 1)
        return blur.motion_blur(images, keys, jnp.float32(parameter), size)
    if name == "zoom_blur":
        return blur.zoom_blur(images, jnp.float32(parameter))
    if name == "glass_blur":
        sigma, move, passes = parameter
        radius = math.ceil(3 * max(v[0] for v in TABLE[name].values) * scale)
        reach = max(value(name, s, resolution)[1] for s in range(1, 6))
        return blur.glass_blur(
            images, keys, jnp.float32(sigma), jnp.int32(move), jnp.int32(passes), radius, reach
        )
    if name in ("contrast", "brightness", "pixelate"):
        return getattr(digital, name)(images, jnp.float32(parameter))
    if name == "jpeg_compression":
        return digital.jpeg_compression(np.asarray(images), parameter)
    if name == "elastic_transform":
        sigma = digital.ELASTIC_SIGMA * scale
        return digital.elastic_transform(images, keys, jnp.float32(parameter), sigma)
    if name in NEEDS_POINTS:
        return strokes.stroke_width(points, jnp.float32(parameter), resolution)
    if name == "occlusion":
        return strokes.occlusion(images, keys, jnp.int32(parameter))
    raise AssertionError(f"no implementation for {name}")  # every TABLE entry has one
