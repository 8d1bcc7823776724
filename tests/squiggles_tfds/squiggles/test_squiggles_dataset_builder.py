"""The TFDS builder: TFDS's own checks, properties of built data, bad input."""

import json
import pathlib
import subprocess

import numpy as np
import pytest
import tensorflow_datasets as tfds
from tensorflow_datasets.scripts.cli import build as tfds_build

import squiggles
import squiggles_tfds
from squiggles_tfds import SquigglesConfig, interrupted_builds, verify

ROOT = pathlib.Path(__file__).resolve().parents[3]
TINY = SquigglesConfig(
    family="sine_net", width=12, resolution=20, train_size=40, validation_size=10,
    test_size=20, seed=3, chunk_size=16,
)  # fmt: skip


class SquigglesBuilderTest(tfds.testing.DatasetBuilderTestCase):
    """TFDS's standard checks on a tiny config."""

    DATASET_CLASS = squiggles_tfds.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = [
        SquigglesConfig(family="taylor", resolution=12, train_size=6, validation_size=2,
                        test_size=3, chunk_size=4),
    ]  # fmt: skip
    SPLITS = {"train": 6, "validation": 2, "test": 3}
    SKIP_CHECKSUMS = True


def _load_split(data_dir, config, split):
    builder = tfds.builder("squiggles", config=config, data_dir=data_dir)
    return list(tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False)))


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> pathlib.Path:
    data_dir = tmp_path_factory.mktemp("tfds")
    tfds.builder("squiggles", config=TINY, data_dir=data_dir).download_and_prepare()
    return data_dir


def test_every_split_holds_its_stream_and_regenerates(tiny_dir):
    family = TINY.make_family()
    for split, stream in squiggles_tfds.SPLIT_STREAMS.items():
        examples = _load_split(tiny_dir, TINY, split)
        assert sorted(int(e["index"]) for e in examples) == list(range(TINY.split_sizes()[split]))
        for e in examples:
            latent = squiggles.sample_latents(
                family, 1, seed=TINY.seed, stream=stream, start=int(e["index"])
            )[0]
            np.testing.assert_array_equal(e["latent"], latent)


def test_stored_labels_and_images_are_recomputable(tiny_dir):
    examples = _load_split(tiny_dir, TINY, "train")
    points = np.stack([e["points"] for e in examples])
    np.testing.assert_array_equal(
        [e["label"] for e in examples], squiggles.is_self_intersecting(points).astype(int)
    )
    images = np.stack([e["image"] for e in examples])
    assert images.shape == (40, 20, 20, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(
        images, squiggles_tfds.quantize(squiggles.render_points(points, TINY.resolution))
    )
    np.testing.assert_array_equal(
        points, squiggles.points(np.stack([e["latent"] for e in examples]), TINY.make_family())
    )


def test_no_latent_is_in_two_splits(tiny_dir):
    seen = {}
    for split in squiggles_tfds.SPLIT_STREAMS:
        for e in _load_split(tiny_dir, TINY, split):
            key = e["latent"].tobytes()
            assert key not in seen, f"latent of {split} {e['index']} is also in {seen.get(key)}"
            seen[key] = split


def test_building_twice_gives_the_same_examples_in_the_same_order(tiny_dir, tmp_path):
    again = SquigglesConfig(**{**TINY.__dict__, "chunk_size": 7})  # other chunking
    rebuilt = tfds.builder("squiggles", config=again, data_dir=tmp_path)
    rebuilt.download_and_prepare()
    original = tfds.builder("squiggles", config=TINY, data_dir=tiny_dir)
    assert verify.first_difference(original, rebuilt) is None


def test_verify_finds_differences_and_regenerates(tiny_dir, tmp_path):
    original = tfds.builder("squiggles", config=TINY, data_dir=tiny_dir)
    for split in squiggles_tfds.SPLIT_STREAMS:
        assert verify.regeneration_mismatches(original, split, batch_size=7) == []
    # Data made with another seed under TINY's name, whose stored settings were
    # then edited to TINY's: what a tampered directory looks like.
    other_seed = SquigglesConfig(**{**TINY.__dict__, "seed": 4})
    tampered = tfds.builder("squiggles", config=other_seed, data_dir=tmp_path)
    tampered.download_and_prepare()
    metadata = pathlib.Path(tampered.data_dir, "metadata.json")
    metadata.write_text(metadata.read_text().replace('"seed": 4', '"seed": 3'))
    stale = tfds.builder("squiggles", config=TINY, data_dir=tmp_path)
    assert verify.first_difference(original, stale).startswith("train, example 0")
    assert len(verify.regeneration_mismatches(stale, "test")) == TINY.test_size


def test_settings_are_stored_with_the_build(tiny_dir):
    build = pathlib.Path(tfds.builder("squiggles", config=TINY, data_dir=tiny_dir).data_dir)
    stored = json.loads((build / "metadata.json").read_text())
    assert {k: stored[k] for k in TINY.settings()} == TINY.settings()
    assert TINY.settings() == {
        "family": "sine_net", "width": 12, "resolution": 20, "seed": 3, "train_size": 40,
        "validation_size": 10, "test_size": 20,
    }  # fmt: skip
    assert not (build / interrupted_builds.OWNER_FILE).exists()


def test_a_built_name_with_other_settings_is_refused(tiny_dir):
    other = SquigglesConfig(**{**TINY.__dict__, "seed": 4, "resolution": 24, "chunk_size": 5})
    message = r"'.*' is already built in .* with other settings \(resolution: stored 20, new 24; "
    with pytest.raises(ValueError, match=message + r"seed: stored 3, new 4\)"):
        tfds.builder("squiggles", config=other, data_dir=tiny_dir)
    with pytest.raises(ValueError, match="seed: stored 3, new 4"):
        tfds.load("squiggles", split="train", data_dir=tiny_dir, builder_kwargs={"config": other})
    # Only the chunking differs: the same data, reused.
    rechunked = SquigglesConfig(**{**TINY.__dict__, "chunk_size": 5})
    builder = tfds.builder("squiggles", config=rechunked, data_dir=tiny_dir)
    assert builder.is_prepared()
    builder.download_and_prepare()


def _leftover(config_dir: pathlib.Path, name: str, pid: int | None) -> pathlib.Path:
    """An incomplete.* directory as a killed (or running) build leaves it."""
    path = config_dir / name
    path.mkdir(parents=True)
    (path / "squiggles-train.tfrecord-00000-of-00001").write_bytes(b"partial")
    if pid is not None:
        owner = {**interrupted_builds._this_process(), "pid": pid}
        (path / interrupted_builds.OWNER_FILE).write_text(json.dumps(owner))
    return path


def test_a_successful_build_removes_leftovers_of_killed_builds_only(tmp_path):
    config = SquigglesConfig(resolution=16, train_size=4, validation_size=0, test_size=0)
    config_dir = tmp_path / "squiggles" / config.name
    dead = subprocess.Popen(["true"])
    dead.wait()
    with subprocess.Popen(["sleep", "600"]) as alive:
        try:
            killed = _leftover(config_dir, "incomplete.AAAAAA_1.1.0", dead.pid)
            kept = [
                _leftover(config_dir, "incomplete.BBBBBB_1.1.0", alive.pid),  # running
                _leftover(config_dir, "incomplete.CCCCCC_1.1.0", None),  # owner unknown
                _leftover(config_dir, "incomplete.DDDDDD_0.9.0", dead.pid),  # other version
                _leftover(tmp_path / "squiggles" / "other", "incomplete.EEEEEE_1.1.0", dead.pid),
            ]
            builder = tfds.builder("squiggles", config=config, data_dir=tmp_path)
            builder.download_and_prepare()
        finally:
            alive.kill()
    assert builder.info.splits["train"].num_examples == 4
    assert not killed.exists()
    assert all(path.exists() for path in kept)


def test_info_describes_the_dataset(tiny_dir):
    builder = tfds.builder("squiggles", config=TINY, data_dir=tiny_dir)
    info = builder.info
    assert info.supervised_keys == ("image", "label")
    assert info.features["label"].names == ["simple", "intersecting"]
    assert info.features["latent"].shape == (12, 4)
    assert "stream" in info.description and "Shapely" not in info.citation
    assert "Kindermans" in info.citation
    assert info.metadata["split_streams"] == {"train": 0, "validation": 1, "test": 2}


def test_predefined_configs():
    configs = squiggles_tfds.CONFIGS
    assert {"taylor", "sine_net", "taylor_120", "sine_net_120"} <= set(configs)
    assert configs["sine_net"].width == 300 and configs["taylor"].order == 7
    assert configs["taylor_120"].resolution == 120
    for name in ("taylor_paper", "sine_net_paper"):
        assert configs[name].train_size == 66_355_200 and configs[name].test_size == 98_304
    assert squiggles_tfds.Builder(config=None).builder_config.name == "taylor"


def test_unknown_config_lists_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match=r"unknown squiggles config 'nope'; expected one of \["):
        tfds.builder("squiggles/nope", data_dir=tmp_path)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(family="sine_net", width=0), "width must be an integer >= 1, got 0"),
        (dict(resolution=1), "resolution must be >= 2"),
        (dict(test_size=-5), "test_size must be an integer >= 0, got -5"),
        (dict(family="fourier"), "unknown family 'fourier'"),
        (dict(chunk_size=0), "chunk_size must be an integer >= 1"),
    ],
)
def test_invalid_custom_config_fails_before_any_file(kwargs, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        tfds.builder("squiggles", config=SquigglesConfig(**kwargs), data_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_data_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    builder = tfds.builder("squiggles", config=TINY, data_dir=blocker / "data")
    with pytest.raises(
        PermissionError, match=r"cannot write the squiggles dataset .* to .*a_file/data"
    ):
        builder.download_and_prepare()


def test_the_shared_constants_are_those_of_squiggles():
    # One home each, in `squiggles` (tests/squiggles/test_quantization.py checks the values).
    assert squiggles_tfds.quantize is squiggles.quantize
    assert squiggles_tfds.dequantize is squiggles.dequantize
    assert squiggles_tfds.SPLIT_STREAMS is squiggles.SPLIT_STREAMS
    assert squiggles_tfds.CLASS_NAMES is squiggles.CLASS_NAMES
    assert squiggles_tfds.Builder(config=None).info.features["label"].names == list(
        squiggles.CLASS_NAMES
    )


def test_tfds_build_needs_imports_in_the_repository_root(monkeypatch):
    # What `tfds build squiggles` resolves the name to there (test_tfds_command.py runs it):
    # without --imports TFDS looks for a dataset folder `squiggles/`, which is the generator.
    monkeypatch.chdir(ROOT)
    with pytest.raises(
        FileNotFoundError,
        match=f"^Could not find dataset generation script: {ROOT}/squiggles/squiggles.py",
    ):
        tfds_build._get_builder_cls_and_kwargs("squiggles", has_imports=False)
    builder_cls, kwargs = tfds_build._get_builder_cls_and_kwargs("squiggles", has_imports=True)
    assert builder_cls is squiggles_tfds.Builder and kwargs == {}
