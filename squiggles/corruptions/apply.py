"""`corrupt`: one corruption at one severity applied to a batch of images of any
leading shape, with the checks that turn bad input into a clear error.

Each image's result depends only on the image, its key and the severity, never on
the batch it is in: no step orders its additions by the batch's shape (`filters`).
So a long batch is corrupted in slices of at most SLICE_PIXELS pixels, and memory
stays proportional to the output, with the same bits as in one go."""

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
from squiggles.curves import check_finite_curves, check_real
from squiggles.rendering import check_points_shape
from squiggles.sampling import check_fits

NEEDS_POINTS = ("thin_stroke", "thick_stroke")  # re-rendered from the curve
ON_HOST = ("jpeg_compression",)  # an encoder library: concrete arrays only
MIN_RESOLUTION = 4

# Pixels corrupted per call on concrete images: 1,165 images at R = 60. A slice's
# program holds up to about 9 float32 copies of it (elastic deformation, the most:
# noise, its smoothing, the displacements, four sampled corners; 9.2x measured at
# R = 60), so it needs about WORKING_BYTES_PER_PIXEL bytes per pixel (170 MB)
# beside the output, however many images are asked for. Unsliced, 11,600 images
# peaked at 14x their size, and 100,000 met the out-of-memory killer.
SLICE_PIXELS = 2**22
WORKING_BYTES_PER_PIXEL = 4 * 10


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
    """One typed key per image (flattened): `key` taken as is when it holds one key
    per image (shape `leading`: a single key for one image (R, R)), or split into
    one per image when it is a single key for a batch."""
    key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
    if not jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.dtype != jnp.uint32 or key.shape[-1:] != (2,):
            raise ValueError(
                f"key must be a JAX PRNG key (jax.random.key or PRNGKey), or one per image; "
                f"got dtype {key.dtype} and shape {key.shape}"
            )
        key = jax.random.wrap_key_data(key, impl="threefry2x32")
    count = math.prod(leading)
    if key.shape == leading:
        return key.reshape(count)
    if key.shape == ():
        return jax.random.split(key, count)
    raise ValueError(
        f"key must be a single key or one per image (shape {leading}), got shape {key.shape}"
    )


def _check_points(points: object, leading: tuple[int, ...], name: str) -> jax.Array:
    """The curves' points (N, P, 2), float32; when concrete, finite and rescaled."""
    if points is None:
        raise ValueError(
            f"{name} re-renders the stroke from the curve: pass points=(..., P, 2), the "
            f"rescaled points of each image (squiggles.points(z) or Examples.points)"
        )
    check_real(points, "points")
    shape = tuple(np.shape(points))
    if len(shape) != len(leading) + 2 or shape[:-2] != leading or shape[-1] != 2:
        raise ValueError(
            f"points must have shape {(*leading, 'P', 2)} (one curve per image), got {shape}"
        )
    check_points_shape(shape)
    points = jnp.asarray(points, jnp.float32)
    if not _is_traced(points):
        check_finite_curves(points, "points")
        low, high = float(jnp.min(points)), float(jnp.max(points))
        if not (0.0 <= low and high <= 1.0):
            raise ValueError(
                f"points must be the rescaled points of each curve, in [0, 1]² "
                f"(squiggles.points(z) or Examples.points), got coordinates from {low} to {high}"
            )
    return points.reshape(-1, *shape[-2:])


def working_dtype(dtype) -> jnp.dtype:
    """float32 for half-precision images (computed in float32, returned in theirs),
    else their own."""
    return jnp.promote_types(dtype, jnp.float32)


def corrupt_bytes(count: int, resolution: int, dtype) -> int:
    """Peak bytes of corrupting `count` concrete images, estimated: the output,
    the slices made of it, and one slice's working arrays."""
    pixels = count * resolution**2
    sliced = min(pixels, max(SLICE_PIXELS, resolution**2))
    return 2 * pixels * jnp.dtype(dtype).itemsize + sliced * WORKING_BYTES_PER_PIXEL


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

    `key` holds one key per image (shape `...`; for one image (R, R), its key), or
    is a single key for a batch, split into one per image. An image's result depends
    only on it, its key and the severity, bitwise, so `corrupt(image, c, s, key)`
    equals `corrupt(image[None], c, s, key[None])[0]` and any slice of a batch with
    its keys gives the same images. Half-precision images are computed in float32.
    `thin_stroke` and `thick_stroke` need the curves' `points` (..., P, 2), rescaled
    into [0, 1]². Every corruption but `jpeg_compression` (an encoder on the host)
    can be traced.
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
    if _is_traced(images, keys, stroke_points):
        out = _apply(corruption, flat.astype(working_dtype(images.dtype)), keys, parameter,
                     resolution, stroke_points)  # fmt: skip
        return jnp.asarray(out, images.dtype).reshape(images.shape)
    if not len(flat):
        return images
    check_fits(
        corrupt_bytes(len(flat), resolution, images.dtype),
        f"{len(flat):,} images of {resolution}×{resolution} under {corruption}",
    )
    return _in_slices(corruption, flat, keys, parameter, stroke_points).reshape(images.shape)


def _in_slices(name, images, keys, parameter, points) -> jax.Array:
    """Concrete images (N, R, R) corrupted SLICE_PIXELS at a time, in their dtype."""
    resolution = images.shape[-1]
    size = max(1, SLICE_PIXELS // resolution**2)
    parts = []
    for start in range(0, len(images), size):
        part = slice(start, start + size)
        out = _apply(name, images[part].astype(working_dtype(images.dtype)), keys[part],
                     parameter, resolution, None if points is None else points[part])  # fmt: skip
        parts.append(jnp.asarray(out, images.dtype))
    return parts[0] if len(parts) == 1 else jnp.concatenate(parts)


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
    if name in ("contrast", "brightness"):
        return getattr(digital, name)(images, jnp.float32(parameter))
    if name == "pixelate":  # blocks of at most 1/f + 1 pixels, float rounding included
        reach = math.ceil(1 / min(TABLE[name].values))
        return digital.pixelate(images, jnp.float32(parameter), reach)
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
