"""The five severities of every corruption: one table, read by the code, the
tests and the docs, so the documented parameters are the ones applied.

Parameters are given in pixels at the reference resolution R = 60 and scale as
(R / 60) ** exponent, the exponent chosen by what the corruption acts on:

- 0, per pixel (noise amplitudes, contrast, brightness, stroke-width factors):
  the generator's stroke has the same profile in pixels at every R (exp(-R² d²)
  has a standard deviation of 1/(√2 R), about 0.7 pixel), so a pixel-wise
  corruption hides a stroke equally at every resolution. JPEG works on fixed 8×8
  blocks, and pixelation, zoom and occlusion on fractions of the image.
- 1, geometry (elastic displacements): fixed fractions of the unit square, so the
  curve is bent by the same amount at R = 60 and at R = 120.
- 1/2, blurs (defocus, Gaussian, motion, glass): a blur both spreads the stroke,
  which is fixed in pixels, and merges nearby strands, which are R/60 times
  farther apart in pixels at higher R. Scaling with R would leave a 0.7-pixel
  stroke at R = 120 too faint to see at severity 5; not scaling would leave the
  strands untouched; the square root is the compromise in between.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

REFERENCE_RESOLUTION = 60
SEVERITIES = (1, 2, 3, 4, 5)


class Severities(NamedTuple):
    """What a corruption's parameter means and its value at severities 1-5."""

    parameter: str
    values: tuple
    exponent: float = 0.0  # the parameter scales as (R / 60) ** exponent


# In ImageNet-C's order, then the two corruptions specific to curves.
TABLE: dict[str, Severities] = {
    # noise: ImageNet-C's amplitudes; per pixel, so unscaled
    "gaussian_noise": Severities("standard deviation σ of additive N(0, σ²)",
                                 (0.08, 0.12, 0.18, 0.26, 0.38)),
    "shot_noise": Severities("photons λ at intensity 1: Poisson(λx)/λ", (60, 25, 12, 5, 3)),
    "impulse_noise": Severities("fraction of pixels set to 0 or 1", (0.03, 0.06, 0.09, 0.17, 0.27)),
    "speckle_noise": Severities("standard deviation σ of multiplicative x(1 + N(0, σ²))",
                                (0.15, 0.2, 0.35, 0.45, 0.6)),
    # blur: pixels at R = 60
    "defocus_blur": Severities("radius of the disk kernel (pixels)",
                               (1.0, 1.5, 2.0, 2.5, 3.0), 0.5),
    "gaussian_blur": Severities("standard deviation of the Gaussian kernel (pixels)",
                                (0.5, 0.75, 1.0, 1.25, 1.5), 0.5),
    "motion_blur": Severities("length of the line kernel at a random angle (pixels)",
                              (2.0, 3.0, 4.0, 5.0, 6.0), 0.5),
    "zoom_blur": Severities("largest zoom about the centre, averaged from 1 in 12 steps",
                            (1.06, 1.10, 1.14, 1.18, 1.22)),
    "glass_blur": Severities("(blur σ, largest move, passes): blur, random local moves, blur",
                             ((0.6, 1, 1), (0.6, 1, 2), (0.6, 1, 3), (0.6, 1, 5), (0.6, 1, 8)),
                             0.5),
    # digital
    "contrast": Severities("factor c: (x - mean) c + mean", (0.6, 0.5, 0.4, 0.3, 0.2)),
    "brightness": Severities("offset δ: x + δ, clipped", (0.1, 0.2, 0.3, 0.4, 0.5)),
    "pixelate": Severities("fraction of the resolution kept: box-averaged blocks of 1/f pixels",
                           (0.8, 0.7, 0.6, 0.5, 0.4)),
    "jpeg_compression": Severities("JPEG quality (Pillow, 8-bit grayscale)", (30, 20, 15, 10, 7)),
    "elastic_transform": Severities("strength α of a displacement field smoothed at σ = 3 pixels",
                                    (4.0, 8.0, 12.0, 16.0, 20.0), 1.0),
    # curves: the stroke re-rendered from the points, and erased patches
    "thin_stroke": Severities("stroke width factor w: exp(-R² d² / w²)",
                              (0.85, 0.7, 0.6, 0.5, 0.4)),
    "thick_stroke": Severities("stroke width factor w: exp(-R² d² / w²)",
                               (1.4, 1.8, 2.2, 2.6, 3.0)),
    "occlusion": Severities("erased square patches, each 0.1 of the image's side",
                            (1, 2, 3, 4, 5)),
}  # fmt: skip

CATEGORIES: dict[str, tuple[str, ...]] = {
    "noise": ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise"),
    "blur": ("defocus_blur", "gaussian_blur", "motion_blur", "zoom_blur", "glass_blur"),
    "digital": ("contrast", "brightness", "pixelate", "jpeg_compression", "elastic_transform"),
    "curve": ("thin_stroke", "thick_stroke", "occlusion"),
}
CORRUPTIONS: tuple[str, ...] = tuple(name for names in CATEGORIES.values() for name in names)

# ImageNet-C families left out: textures and weather that mean nothing on a line drawing.
LEFT_OUT = ("snow", "frost", "fog", "spatter", "saturate")


def check_corruption(name: object) -> str:
    if not isinstance(name, str) or name not in TABLE:
        raise ValueError(f"unknown corruption {name!r}; expected one of {', '.join(CORRUPTIONS)}")
    return name


def check_severity(severity: object) -> int:
    """An integer 0-5 (0 is the clean image)."""
    integer = isinstance(severity, (int, np.integer)) and not isinstance(severity, bool)
    if not integer or not 0 <= severity <= 5:
        raise ValueError(
            f"severity must be an integer from 1 to 5 (or 0 for the clean image), got {severity!r}"
        )
    return int(severity)


def scale_factor(name: str, resolution: int) -> float:
    """(R / 60) ** exponent: how much `name`'s pixel sizes grow at `resolution`."""
    return (resolution / REFERENCE_RESOLUTION) ** TABLE[name].exponent


def value(name: str, severity: int, resolution: int = REFERENCE_RESOLUTION):
    """The parameter of `name` at `severity` (1-5) and `resolution`, scaled if spatial."""
    entry = TABLE[check_corruption(name)]
    raw = entry.values[check_severity(severity) - 1]
    if not entry.exponent:
        return raw
    scale = scale_factor(name, resolution)
    if isinstance(raw, tuple):  # glass blur: (σ, move, passes); the move is whole pixels
        sigma, move, passes = raw
        return (sigma * scale, max(1, round(move * scale)), passes)
    return raw * scale
