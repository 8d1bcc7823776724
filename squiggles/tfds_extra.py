"""Whether the `tfds` extra is installed.

The core install (`pip install -e .`) leaves TensorFlow and TensorFlow Datasets out:
the generator, the corruptions and the experiments on generated data never need
them. What reads or builds the TFDS datasets checks for them first and names the
extra to install, instead of failing with "No module named ..." deep in an import.
Checking imports nothing.
"""

import importlib.util

INSTALL = 'pip install -e ".[tfds]"'
MODULES = ("tensorflow", "tensorflow_datasets")


def missing_modules() -> list[str]:
    """The modules of the `tfds` extra that this Python cannot find (none are loaded)."""
    return [name for name in MODULES if importlib.util.find_spec(name) is None]


def require(what: str, error: type[Exception] = ModuleNotFoundError) -> None:
    """Raises `error` naming the extra when `what` cannot run for lack of it."""
    missing = missing_modules()
    if missing:
        raise error(
            f"{what} needs TensorFlow Datasets, which is not installed (no module "
            f"{', '.join(missing)}): install the extra with {INSTALL}"
        )
