"""Lets `tfds build squiggles` find the dataset from the repository root.

TFDS's command loads `squiggles/squiggles_dataset_builder.py` when a folder named
like the dataset is in the working directory, and that folder is this package. The
class must be defined here (TFDS looks builders up by defining module) and must
not register the name a second time. `import squiggles` never imports this file,
so the core package stays free of TensorFlow.
"""

from squiggles_tfds.squiggles_dataset_builder import Builder as _Builder


class Builder(_Builder, skip_registration=True):
    """The `squiggles` dataset builder of `squiggles_tfds`, as found by `tfds build`."""
