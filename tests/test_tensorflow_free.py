"""The JAX path needs no TensorFlow: training on online data, evaluation, the
corruptions and the attack and analysis modules never import `tensorflow` or
`tensorflow_datasets` (a subprocess, whose sys.modules starts empty). TFDS stays the
way to store and share datasets, and its source still works when installed
(tests/test_train_lib.py)."""

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]

SCRIPT = """
import importlib, json, pathlib, sys
from experiments import data, metrics, train_lib
from experiments.configs import tiny
from squiggles import corruptions

config = tiny.get_config()
config.num_steps = 2
state = train_lib.train_and_evaluate(config, sys.argv[1])
family = data.family_of(config)
scores = metrics.evaluate(state, data.evaluation_batches(family, config.resolution, 8))
made = corruptions.corrupted_examples(family, "occlusion", 3, 4, resolution=config.resolution)
metrics.predict_probabilities(state, made.image)
# The attack and analysis libraries, every analysis and figure module, and one binary
# (each binary defines absl flags, so only one can be imported per process).
modules = ["experiments.attacks", "experiments.noise", "experiments.latent_noise",
           "experiments.manifold", "experiments.ford_stages", "experiments.runs",
           "experiments.figures"]
for folder in ("analyses", "drawing"):
    modules += [f"experiments.{folder}.{path.stem}"
                for path in pathlib.Path("experiments", folder).glob("[a-z]*.py")]
for module in modules:
    importlib.import_module(module)
loaded = sorted(name for name in ("tensorflow", "tensorflow_datasets") if name in sys.modules)
print(json.dumps({"loaded": loaded, "step": int(state.step), "examples": scores["examples"]}))
"""


def test_training_evaluation_and_corruptions_never_import_tensorflow(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "run")], cwd=ROOT, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"loaded": [], "step": 2, "examples": 8}


def test_tensorboard_events_are_written_without_tensorflow(tmp_path):
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    from experiments.metrics_io import MetricsWriter

    writer = MetricsWriter(tmp_path)
    writer.write(3, {"loss": 0.5, "roc_auc": None})
    writer.close()
    (events,) = (tmp_path / "tensorboard").iterdir()
    scalars = [
        (event.step, value.tag, value.tensor.float_val[0])  # the loader stores it as a tensor
        for event in EventFileLoader(str(events)).Load()
        for value in event.summary.value
    ]
    assert scalars == [(3, "loss", 0.5)]
    assert json.loads((tmp_path / "metrics.jsonl").read_text()) == {
        "step": 3,
        "loss": 0.5,
        "roc_auc": None,
    }
