"""Lets `tfds build squiggles_c` find the dataset from the repository root.

TFDS's command loads `squiggles_c/squiggles_c_dataset_builder.py` when a folder
named like the dataset is in the working directory. The dataset itself lives in
`squiggles_tfds.squiggles_c`; this folder only points there, holds nothing else
and is not installed (it is no package of setup.cfg). The class must be defined
here (TFDS looks builders up by defining module) and must not register the name
a second time.
"""

from squiggles_tfds.squiggles_c import Builder as _Builder


class Builder(_Builder, skip_registration=True):
    """The `squiggles_c` dataset builder of `squiggles_tfds`, as found by `tfds build`."""
