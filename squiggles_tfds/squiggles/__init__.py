"""TFDS dataset `squiggles`. Importing `squiggles_tfds` registers it:

import squiggles_tfds, tensorflow_datasets as tfds
ds = tfds.load("squiggles/sine_net", split="test")

This folder is always `squiggles_tfds.squiggles`; inside it `import squiggles` is an
absolute import and means the generator package.
"""

if __name__ != "squiggles_tfds.squiggles":
    # Found as a top-level `squiggles` (squiggles_tfds/ first on sys.path: a module of it
    # run by its path), this folder would shadow the generator package. Refuse before
    # importing anything. (TFDS's command, run in squiggles_tfds/, tries this import
    # first and then loads squiggles_dataset_builder.py by itself.)
    raise ImportError(
        f"{__file__} was imported as {__name__!r}, which would hide the generator package "
        "`squiggles`: it is squiggles_tfds.squiggles; run modules of squiggles_tfds as "
        "python -m squiggles_tfds.<module>"
    )

from squiggles_tfds.squiggles.configs import CONFIGS, SquigglesConfig  # noqa: E402
from squiggles_tfds.squiggles.squiggles_dataset_builder import Builder  # noqa: E402

__all__ = ["Builder", "CONFIGS", "SquigglesConfig"]
