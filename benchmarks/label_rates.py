"""Fraction of self-intersecting curves in 100,000 samples of each family, beside the
paper's figures (about 21.6 % for Taylor and 34.8 % for SineNet with width 300).

    python benchmarks/label_rates.py --count 100000
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import squiggles

PAPER_RATES = {"taylor": 0.216, "sine_net": 0.348}


def intersecting_fraction(family: squiggles.Family, count: int, chunk: int = 10_000) -> float:
    labels = []
    for start in range(0, count, chunk):
        latents = squiggles.sample_latents(family, min(chunk, count - start), start=start)
        labels.append(squiggles.is_self_intersecting(squiggles.points(latents, family)))
    return float(np.concatenate(labels).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    args = parser.parse_args()
    for name, paper in PAPER_RATES.items():
        family = squiggles.family_from_name(name)
        start = time.perf_counter()
        fraction = intersecting_fraction(family, args.count)
        error = math.sqrt(fraction * (1 - fraction) / args.count)
        print(
            f"{str(family):45s} intersecting {100 * fraction:5.2f} % ± {100 * error:.2f} "
            f"(paper {100 * paper:.1f} %), {args.count:,} samples "
            f"in {time.perf_counter() - start:.1f} s"
        )


if __name__ == "__main__":
    main()
