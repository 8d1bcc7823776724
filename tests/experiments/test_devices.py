"""The JAX path in a fresh process: training on online data, evaluation, the
corruptions and the attack and analysis modules never import `tensorflow` or
`tensorflow_datasets` (TFDS stays the way to store and share datasets, and its source
still works when installed: tests/experiments/training/test_trainer.py); and the same
run split over two devices (XLA's forced host devices) gives the one-device results."""

import json
import os
import pathlib
import socket
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

SCRIPT = """
import importlib, json, pathlib, sys
import jax
from experiments.training import data
from experiments.training import metrics
from experiments import parallel
from experiments.training import trainer
from experiments.configs import tiny
from squiggles import corruptions

config = tiny.get_config()  # as the session's tiny run, whose programs are cached
state = trainer.train_and_evaluate(config, sys.argv[1])
family = data.family_of(config)
scores = metrics.evaluate(state, data.evaluation_batches(family, config.resolution, 8))
made = corruptions.corrupted_examples(family, "occlusion", 3, 7, resolution=config.resolution)
mesh = parallel.mesh()
probabilities = metrics.sharded_probabilities(state, made.image, mesh)  # 7: padded to 8
# Every library module of every part, and one binary (each binary defines absl flags, so
# only one can be imported per process).
modules = ["experiments.figures"]
for folder in ("analyses", "attacks", "drawing", "evaluation", "runs", "training"):
    modules += [f"experiments.{folder}.{path.stem}"
                for path in pathlib.Path("experiments", folder).glob("[a-z]*.py")]
for module in modules:
    importlib.import_module(module)
# The attacks and the noise analyses of one model (argv[2]), batches split over the devices.
from experiments.attacks import pgd
from experiments.runs import runner
from experiments.runs import store
from experiments.configs.analyses import tiny as tiny_analyses
analysed = tiny_analyses.get_config("pixel,noise,boundary,ford_rates,ford_distance")
analysed.examples = 6  # 3 per device
summary = runner.ChunkedRun(sys.argv[1] + "_analyses", sys.argv[2], analysed).run(lambda _: None)
model = runner.load_model(sys.argv[2])
attacked = pgd.run_pgd(model.classifier, made.image[:4], made.label[:4].astype("int32"), 0.3,
                       steps=2, step_fraction=0.1, block=1).point
# The boundary search's targeted latent PGD through the renderer, split over the devices
# (split in two, it once showed the batch-size dependence of points' gradient).
towards = pgd.run_pgd(model.classifier, made.latent[:4], 1 - made.label[:4].astype("int32"),
                      0.6, steps=3, step_fraction=0.1, block=0, family=family,
                      resolution=config.resolution, targeted=True).point
loaded = sorted(name for name in ("tensorflow", "tensorflow_datasets") if name in sys.modules)
params = jax.tree.leaves(jax.device_get(state.params))
print(json.dumps({"loaded": loaded, "step": int(state.step), "examples": scores["examples"],
                  "devices": jax.device_count(), "accuracy": scores["accuracy"],
                  "probabilities": probabilities.tolist(), "summary": summary,
                  "attack_devices": len(attacked.sharding.device_set),
                  "attacked": attacked.tolist(), "towards": towards.tolist(),
                  "params": [float(abs(p).sum()) for p in params]}))
"""


def run_on(devices: int, workdir: pathlib.Path, analysed: pathlib.Path) -> dict:
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={devices}"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(workdir), str(analysed)], cwd=ROOT,
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "XLA_FLAGS": flags.strip()},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[int, dict]:
    tmp = tmp_path_factory.mktemp("devices")
    # Both analyse the model trained on one device, so only the devices differ.
    return {devices: run_on(devices, tmp / str(devices), tmp / "1") for devices in (1, 2)}


def test_training_evaluation_and_corruptions_never_import_tensorflow(runs):
    for devices, report in runs.items():
        assert report["loaded"] == [] and report["devices"] == devices
        assert report["step"] == 6 and report["examples"] == 8


def test_two_devices_train_and_evaluate_as_one(runs):
    one, two = runs[1], runs[2]
    np.testing.assert_allclose(two["params"], one["params"], rtol=1e-4)
    np.testing.assert_allclose(two["probabilities"], one["probabilities"], atol=1e-4)
    assert len(one["probabilities"]) == 7 and two["accuracy"] == one["accuracy"]


PROCESS_SCRIPT = """
import json, sys
import jax
from experiments import parallel
from experiments.training import trainer
from experiments.configs import tiny

parallel.initialize()
state = trainer.train_and_evaluate(tiny.get_config(), sys.argv[1])
params = jax.tree.leaves(jax.device_get(state.params))
print(json.dumps({"process": jax.process_index(), "processes": jax.process_count(),
                  "devices": jax.device_count(), "step": int(state.step),
                  "params": [float(abs(p).sum()) for p in params]}))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def test_two_processes_train_as_one_process_on_two_devices(runs, tmp_path):
    # jax.distributed on the CPU (gloo collectives): one device per process, as on
    # two hosts, writing one shared run directory.
    address = f"localhost:{free_port()}"
    launched = [
        subprocess.Popen(
            [sys.executable, "-c", PROCESS_SCRIPT, str(tmp_path / "run")],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={
                **os.environ,
                "SQUIGGLES_DISTRIBUTED": "1",
                "JAX_COORDINATOR_ADDRESS": address,
                "JAX_NUM_PROCESSES": "2",
                "JAX_PROCESS_ID": str(index),
            },
        )  # fmt: skip
        for index in range(2)
    ]
    reports = []
    for process in launched:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))
    for index, report in enumerate(reports):
        assert (report["process"], report["processes"], report["devices"]) == (index, 2, 2)
        assert report["step"] == 6
        np.testing.assert_allclose(report["params"], runs[2]["params"], rtol=1e-5)
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert steps == [2, 3, 4, 6, 6]  # as one process writes them (training, validation): once
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["3", "6"]


def numbers_of(tree, path=""):
    """Every number of a JSON tree, by its path, so two summaries compare leaf by leaf."""
    if isinstance(tree, dict):
        return {
            k: v for key, sub in tree.items() for k, v in numbers_of(sub, f"{path}/{key}").items()
        }
    if isinstance(tree, list):
        return {
            k: v for i, sub in enumerate(tree) for k, v in numbers_of(sub, f"{path}/{i}").items()
        }
    return {path: tree} if isinstance(tree, (int, float)) and not isinstance(tree, bool) else {}


def test_two_devices_attack_and_analyse_as_one(runs):
    one, two = runs[1], runs[2]
    assert one["attack_devices"] == 1 and two["attack_devices"] == 2  # the PGD ran split
    assert set(two["summary"]) == {"model", "pixel", "noise", "boundary", "ford_rates",
                                   "ford_distance"}  # fmt: skip
    for attack in ("attacked", "towards"):
        np.testing.assert_allclose(two[attack], one[attack], atol=1e-4)
    first, second = numbers_of(one["summary"]), numbers_of(two["summary"])
    assert first.keys() == second.keys() and len(first) > 50
    for path, value in first.items():
        if "/model/" not in path:
            np.testing.assert_allclose(second[path], value, rtol=1e-3, atol=1e-4, err_msg=path)


def test_a_batch_that_does_not_split_over_the_devices_is_refused_at_start(tmp_path, monkeypatch):
    from experiments import parallel
    from experiments.configs import tiny
    from experiments.training import trainer

    monkeypatch.setattr(parallel.jax, "device_count", lambda: 2)
    config = tiny.get_config()
    config.batch_size = 7
    with pytest.raises(ValueError, match="batch_size 7 does not split evenly over 2 devices: "
                                         "use a multiple of 2"):  # fmt: skip
        trainer.train_and_evaluate(config, str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_tensorboard_events_are_written_without_tensorflow(tmp_path):
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    from experiments.training.metrics_log import MetricsWriter

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
