"""A picture of random examples of each class, like Figure 1 of the paper.

    python -m squiggles.preview --family sine_net --out grid.png
    python -m squiggles.preview --corruptions --out c.png   # Squiggles-C

Images are drawn with origin="lower", so curves appear as they would be plotted:
row r of an image is y = r/(R-1), increasing upwards.
"""

from __future__ import annotations

import argparse
import math
import pathlib
import textwrap
from collections.abc import Sequence

import numpy as np

from squiggles.examples import generate_examples
from squiggles.families import FAMILIES, Family, family_from_settings
from squiggles.labels import CLASS_NAMES
from squiggles.rendering import RESOLUTION
from squiggles.splits import TEST_STREAM


def examples_per_class(
    family: Family,
    per_class: int,
    *,
    seed: int = 0,
    stream: int = 0,
    resolution: int = RESOLUTION,
    max_examples: int = 1_000_000,
) -> dict[str, np.ndarray]:
    """The first `per_class` images of each class in a stream: {"simple": (n, R, R), ...}."""
    found: dict[str, list[np.ndarray]] = {name: [] for name in CLASS_NAMES}
    start, batch = 0, max(64, 8 * per_class)
    while any(len(found[name]) < per_class for name in CLASS_NAMES):
        if start >= max_examples:
            raise RuntimeError(
                f"fewer than {per_class} examples of each class in the first "
                f"{max_examples} examples of {family}"
            )
        examples = generate_examples(
            family, batch, seed=seed, stream=stream, start=start, resolution=resolution
        )
        images = np.asarray(examples.image)
        for label, name in enumerate(CLASS_NAMES):
            found[name].extend(images[examples.label == bool(label)])
        start += batch
    return {name: np.stack(found[name][:per_class]) for name in CLASS_NAMES}


PANEL_WIDTH = 4.2  # inches per class
TITLE_SIZE = 12.0  # points, matplotlib's "large"


def wrap_to_width(text: str, width_inches: float, fontsize: float = TITLE_SIZE) -> str:
    """`text` broken into lines that fit `width_inches` (long paths are split too), so
    a title is never cut off at the figure's edges."""
    characters = max(int(width_inches * 72 / (0.62 * fontsize)), 8)
    lines = []
    for paragraph in text.splitlines() or [""]:
        lines += textwrap.wrap(paragraph, characters, break_on_hyphens=False) or [""]
    return "\n".join(lines)


def draw_class_grids(
    images_by_class: dict[str, np.ndarray],
    title: str = "",
    totals: dict[str, int] | None = None,
):
    """A matplotlib Figure with one square grid of images per class, side by side.

    Each panel is titled with its class and the number of images shown, and with
    `totals` (by class) "n shown of N", for a grid that shows only some of them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = max(len(images) for images in images_by_class.values())
    width = PANEL_WIDTH * len(images_by_class)
    titled = {
        _panel_title(name, len(images), None if totals is None else totals[name]): images
        for name, images in images_by_class.items()
    }
    title = wrap_to_width(title, width) if title else ""
    extra = 0.25 * (title.count("\n") + max(t.count("\n") for t in titled))
    figure = plt.figure(figsize=(width, 4.6 + extra), layout="constrained")
    fill_class_grids(figure, titled, math.ceil(math.sqrt(count)))
    if title:
        figure.suptitle(title, fontsize=TITLE_SIZE)
    return figure


def _panel_title(name: str, shown: int, total: int | None) -> str:
    text = f"{name} ({shown})" if total is None else f"{name}: {shown} shown of {total}"
    return wrap_to_width(text, PANEL_WIDTH)


def fill_class_grids(parent, images_by_title: dict[str, np.ndarray], side: int) -> None:
    """Side by side in a matplotlib (sub)figure: for each title, a side×side grid of
    its images, drawn with origin="lower" like every squiggles picture."""
    panels = parent.subfigures(1, len(images_by_title))
    for panel, (title, images) in zip(np.atleast_1d(panels), images_by_title.items(), strict=True):
        panel.suptitle(title, fontsize=TITLE_SIZE)
        for i, ax in enumerate(panel.subplots(side, side, squeeze=False).flat):
            ax.set_axis_off()
            if i < len(images):
                ax.imshow(images[i], cmap="gray_r", origin="lower", vmin=0.0, vmax=1.0)


def write_preview(
    family: Family,
    out: str | pathlib.Path,
    *,
    per_class: int = 25,
    seed: int = 0,
    stream: int = 0,
    resolution: int = RESOLUTION,
) -> pathlib.Path:
    """Writes a PNG of `per_class` examples of each class and returns its path."""
    out = pathlib.Path(out)
    if not out.parent.is_dir():
        raise ValueError(f"cannot write {out}: directory {out.parent} does not exist")
    images = examples_per_class(family, per_class, seed=seed, stream=stream, resolution=resolution)
    figure = draw_class_grids(images, title=f"{family}, seed {seed}, stream {stream}")
    figure.savefig(out, dpi=100)
    return out


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m squiggles.preview", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--family", choices=sorted(FAMILIES), default="taylor")
    parser.add_argument("--order", type=int, default=7, help="Taylor order")
    parser.add_argument("--width", type=int, default=300, help="SineNet width")
    parser.add_argument("--out", default="preview.png", help="PNG file to write")
    parser.add_argument("--per-class", type=int, default=25, help="examples of each class")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--stream", type=int, default=None,
        help="stream to draw from (default: 0, train; with --corruptions 2, test)",
    )  # fmt: skip
    parser.add_argument("--resolution", type=int, default=RESOLUTION)
    parser.add_argument(
        "--corruptions",
        action="store_true",
        help="one test curve under every Squiggles-C corruption and severity instead",
    )
    parser.add_argument(
        "--index", type=int, default=None,
        help="with --corruptions: the test example to show (default: the first intersecting)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.per_class < 1:
        parser.error(f"--per-class must be >= 1, got {args.per_class}")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse_args(argv)
    try:
        family = family_from_settings(args.family, order=args.order, width=args.width)
        if args.corruptions:
            from squiggles.corruptions.picture import write_corruption_preview

            stream = TEST_STREAM if args.stream is None else args.stream
            path = write_corruption_preview(
                family, args.out, index=args.index, seed=args.seed, stream=stream,
                resolution=args.resolution,
            )  # fmt: skip
            print(f"wrote {path}")
            return
        path = write_preview(
            family,
            args.out,
            per_class=args.per_class,
            seed=args.seed,
            stream=args.stream or 0,
            resolution=args.resolution,
        )
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
