import subprocess
import sys

import squiggles
from squiggles import labels, quantization, splits


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_import_squiggles_does_not_import_tensorflow():
    code = (
        "import sys, squiggles\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))"
    )
    assert _run(code) == "[]"


def test_the_jax_path_of_the_experiments_does_not_import_tensorflow_or_tfds():
    # Data, metrics, checkpoint restoring and fingerprints take their constants and
    # stderr filters from `squiggles`, never from `squiggles_tfds` (which loads TFDS).
    code = (
        "import sys, squiggles, experiments.training.data, experiments.training.restore, "
        "experiments.training.metrics, experiments.runs.fingerprint, experiments.console, "
        "experiments.runs.runner, experiments.analyse, experiments.analyses.pixel, "
        "experiments.analyses.latent, experiments.analyses.boundary\n"
        "print(sorted({'tensorflow', 'tensorflow_datasets', 'squiggles_tfds'} & set(sys.modules)))"
    )
    assert _run(code) == "[]"


def test_import_squiggles_leaves_numba_to_the_first_host_render():
    code = (
        "import sys, numpy as np, squiggles\n"
        "before = 'numba' in sys.modules\n"
        "squiggles.render_points_on_host(np.full((1, 3, 2), 0.5, np.float32), 4)\n"
        "print(before, 'numba' in sys.modules)"
    )
    assert _run(code) == "False True"


def test_the_shared_constants_have_one_home():
    assert squiggles.SPLIT_STREAMS == {"train": 0, "validation": 1, "test": 2}
    assert squiggles.SPLIT_STREAMS is splits.SPLIT_STREAMS
    assert (squiggles.TRAIN_STREAM, squiggles.VALIDATION_STREAM, squiggles.TEST_STREAM) == (
        0,
        1,
        2,
    )
    assert squiggles.CLASS_NAMES == ("simple", "intersecting") and (
        squiggles.CLASS_NAMES is labels.CLASS_NAMES
    )
    assert squiggles.quantize is quantization.quantize
    assert squiggles.dequantize is quantization.dequantize
