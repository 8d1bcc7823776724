"""`tfds build squiggles --imports squiggles_tfds` run for real, in subprocesses, as users
run it: from the repository root and from any other directory."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

import squiggles
import squiggles_tfds
from squiggles_tfds import verify

pytestmark = pytest.mark.e2e  # every test here runs `tfds` in a subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
TFDS = [sys.executable, "-m", "tensorflow_datasets.scripts.cli.main"]
CUSTOM = {
    "family": "sine_net", "width": 10, "resolution": 16, "train_size": 30,
    "validation_size": 8, "test_size": 12, "chunk_size": 8,
}  # fmt: skip


def run_tfds(args, cwd, timeout=300):
    result = subprocess.run(TFDS + args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def built(config: dict, data_dir) -> tfds.core.DatasetBuilder:
    return tfds.builder(
        "squiggles", config=squiggles_tfds.SquigglesConfig(**config), data_dir=data_dir
    )


def test_build_from_the_repository_root_makes_the_default_configs(tmp_path):
    # The README's command, with squiggles_c beside it in the same run.
    run_tfds(
        ["build", "squiggles", "squiggles_c", "--imports", "squiggles_tfds",
         "--data_dir", str(tmp_path), "--max_examples_per_split", "5"],
        ROOT,
    )  # fmt: skip
    for dataset, default in (("squiggles", "taylor"), ("squiggles_c", "gaussian_noise_1")):
        built = [p.name for p in (tmp_path / dataset).iterdir() if not p.name.startswith(".")]
        assert built == [default]
    train = tfds.load("squiggles", split="train", data_dir=tmp_path)
    assert len(list(train)) == 5
    test_c = tfds.load("squiggles_c", split="test", data_dir=tmp_path)
    assert sorted(int(e["index"]) for e in tfds.as_numpy(test_c)) == list(range(5))


@pytest.fixture(scope="module")
def custom_build_run(tmp_path_factory):
    """A custom JSON config built with --imports from a directory outside the repo: its
    data_dir, and the command's result."""
    data_dir = tmp_path_factory.mktemp("custom")
    elsewhere = tmp_path_factory.mktemp("cwd")
    result = run_tfds(
        ["build", "squiggles", "--imports", "squiggles_tfds", "--config", json.dumps(CUSTOM),
         "--data_dir", str(data_dir)],
        elsewhere,
    )  # fmt: skip
    return data_dir, result


@pytest.fixture(scope="module")
def custom_build(custom_build_run):
    return custom_build_run[0]


def test_the_build_warns_nothing_about_a_json_config_or_a_build_not_made_yet(
    custom_build_run,
):
    output = custom_build_run[1].stdout + custom_build_run[1].stderr
    assert "Done writing" in output  # TFDS's own progress still shows
    assert "Using custom data configuration" not in output
    assert "has no dataset_info.json" not in output


def test_build_with_imports_and_json_config_from_anywhere(custom_build):
    name = "squiggles/" + squiggles_tfds.SquigglesConfig(**CUSTOM).name
    splits = tfds.load(name, data_dir=custom_build)
    assert {split: len(list(ds)) for split, ds in splits.items()} == {
        "train": 30, "validation": 8, "test": 12,
    }  # fmt: skip
    first = next(iter(tfds.as_numpy(splits["train"])))
    assert first["image"].shape == (16, 16, 1) and first["latent"].shape == (10, 4)


def test_the_tensorflow_free_data_source_holds_the_built_split(custom_build):
    name = "squiggles/" + squiggles_tfds.SquigglesConfig(**CUSTOM).name
    family = squiggles.SineNet(width=CUSTOM["width"])
    for split in ("validation", "test"):
        stored = {
            int(e["index"]): e
            for e in tfds.as_numpy(tfds.load(name, split=split, data_dir=custom_build))
        }
        source = squiggles.data_source(family, split, CUSTOM[f"{split}_size"], CUSTOM["resolution"])
        assert sorted(stored) == list(range(len(source)))
        for item in source.__getitems__(range(len(source))):
            expected = stored[int(item["index"])]
            for feature in ("image", "points", "latent", "label", "index"):
                np.testing.assert_array_equal(item[feature], expected[feature])


def test_beam_build_gives_the_same_examples(custom_build, tmp_path):
    run_tfds(
        ["build", "squiggles", "--imports", "squiggles_tfds", "--config", json.dumps(CUSTOM),
         "--data_dir", str(tmp_path),
         "--beam_pipeline_options=direct_running_mode=multi_processing,direct_num_workers=2"],
        ROOT,
    )  # fmt: skip
    assert verify.first_difference(built(CUSTOM, custom_build), built(CUSTOM, tmp_path)) is None


def test_a_built_name_with_other_settings_is_refused(custom_build):
    name = squiggles_tfds.SquigglesConfig(**CUSTOM).name
    reused = json.dumps({**CUSTOM, "name": name, "seed": 5})
    result = subprocess.run(
        TFDS + ["build", "squiggles", "--imports", "squiggles_tfds", "--config", reused,
                "--data_dir", str(custom_build)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode != 0
    assert f"ValueError: squiggles config '{name}' is already built in" in result.stderr
    assert "with other settings (seed: stored 0, new 5)" in result.stderr
    assert "Reusing dataset" not in result.stdout + result.stderr


def test_invalid_json_config_fails_before_writing(tmp_path):
    bad = json.dumps({**CUSTOM, "width": 0})
    result = subprocess.run(
        TFDS + ["build", "squiggles", "--imports", "squiggles_tfds", "--config", bad,
                "--data_dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode != 0
    assert "width must be an integer >= 1, got 0" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_interrupted_build_is_not_loadable_and_the_next_build_succeeds(tmp_path, capsys):
    config = {"resolution": 16, "train_size": 30_000, "validation_size": 0, "test_size": 0}
    process = subprocess.Popen(
        TFDS + ["build", "squiggles", "--imports", "squiggles_tfds", "--config", json.dumps(config),
                "--data_dir", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob("squiggles/*/incomplete.*")):
            assert process.poll() is None, process.stderr.read()[-2000:]
            assert time.monotonic() < deadline, "the build never started writing"
            time.sleep(0.1)
        time.sleep(1)  # into the train split
        assert process.poll() is None, "the build finished before it could be interrupted"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    squiggles_config = squiggles_tfds.SquigglesConfig(**config)
    builder = tfds.builder("squiggles", config=squiggles_config, data_dir=tmp_path)
    assert not builder.is_prepared()
    with pytest.raises(SystemExit) as exit_info:
        verify.main(["--config", squiggles_config.name, "--data_dir", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "only an interrupted one (incomplete." in capsys.readouterr().err
    with pytest.raises(AssertionError, match="could not find data"):
        tfds.load(
            "squiggles", split="train", data_dir=tmp_path, download=False,
            builder_kwargs={"config": squiggles_config},
        )  # fmt: skip

    # The same build again, over what the killed one left behind.
    builder.download_and_prepare()
    assert builder.info.splits["train"].num_examples == 30_000
    # What the killed build left is removed once this one has succeeded.
    assert list(tmp_path.glob("squiggles/*/incomplete.*")) == []
    first = next(iter(tfds.as_numpy(builder.as_dataset(split="train", shuffle_files=False))))
    assert 0 <= first["index"] < 30_000


def test_an_array_record_build_gives_tfds_data_source_the_same_examples(tmp_path):
    # What docs/dataset.md documents for random access to stored data.
    config = {"family": "taylor", "resolution": 16, "train_size": 4, "validation_size": 2,
              "test_size": 10, "chunk_size": 4}  # fmt: skip
    run_tfds(
        ["build", "squiggles", "--imports", "squiggles_tfds", "--config", json.dumps(config),
         "--file_format=array_record", "--data_dir", str(tmp_path)],
        tmp_path,
    )  # fmt: skip
    name = "squiggles/" + squiggles_tfds.SquigglesConfig(**config).name
    stored = tfds.data_source(name, split="test", data_dir=tmp_path)
    source = squiggles.data_source(squiggles.Taylor(), "test", 10, resolution=16)
    assert len(stored) == len(source) == 10
    assert sorted(int(stored[i]["index"]) for i in range(10)) == list(range(10))
    for i in range(10):
        item = source[int(stored[i]["index"])]
        np.testing.assert_array_equal(stored[i]["image"], item["image"])
        assert stored[i]["label"] == item["label"]
