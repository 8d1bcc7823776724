"""The TFDS builder of `squiggles_c`: TFDS's own checks, stored examples against
`corrupted_examples`, determinism, configs and bad input."""

import json
import pathlib

import numpy as np
import pytest
import tensorflow_datasets as tfds
from tensorflow_datasets.scripts.cli import build as tfds_build

import squiggles
from squiggles import corruptions
from squiggles_tfds import SquigglesConfig, squiggles_c, verify
from squiggles_tfds.squiggles_c import SquigglesCConfig

ROOT = pathlib.Path(__file__).resolve().parents[3]
# A small base: 6 test examples at 16x16, made 4 at a time (chunks of 4 and 2).
BASE = SquigglesConfig(resolution=16, train_size=0, validation_size=0, test_size=6, chunk_size=4)
TINY = SquigglesCConfig(base=BASE, corruption="gaussian_noise", severity=3)


class SquigglesCBuilderTest(tfds.testing.DatasetBuilderTestCase):
    """TFDS's standard checks on a tiny config."""

    DATASET_CLASS = squiggles_c.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = [
        SquigglesCConfig(base=BASE, corruption="jpeg_compression", severity=2, test_size=3)
    ]
    SPLITS = {"test": 3}
    SKIP_CHECKSUMS = True


def _examples(data_dir, config) -> list[dict[str, np.ndarray]]:
    """The test split in index order (TFDS stores examples in an order of its keys' hashes)."""
    builder = tfds.builder("squiggles_c", config=config, data_dir=data_dir)
    examples = tfds.as_numpy(builder.as_dataset(split="test", shuffle_files=False))
    return sorted(examples, key=lambda e: int(e["index"]))


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> pathlib.Path:
    data_dir = tmp_path_factory.mktemp("tfds")
    tfds.builder("squiggles_c", config=TINY, data_dir=data_dir).download_and_prepare()
    return data_dir


def _in_pairs(make, **kwargs) -> dict[str, np.ndarray]:
    """Fields of `make(family, ..., count, start=...)` for indices 0-5, made two at a time
    (other chunks than the build's 4 and 2; shapes the build has compiled already)."""
    parts = [make(BASE.make_family(), count=2, start=start, **kwargs) for start in (0, 2, 4)]
    return {field: np.concatenate([getattr(p, field) for p in parts]) for field in parts[0]._fields}


def test_stored_examples_are_those_of_corrupted_examples(tiny_dir):
    stored = _examples(tiny_dir, TINY)
    assert [int(e["index"]) for e in stored] == list(range(6))
    expected = _in_pairs(
        corruptions.corrupted_examples, corruption="gaussian_noise", severity=3, seed=0,
        stream=squiggles.TEST_STREAM, resolution=16,
    )  # fmt: skip
    images = np.stack([e["image"] for e in stored])
    assert images.shape == (6, 16, 16, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, squiggles.quantize(expected["image"]))
    np.testing.assert_array_equal([e["label"] for e in stored], expected["label"].astype(int))
    np.testing.assert_array_equal(np.stack([e["latent"] for e in stored]), expected["latent"])
    # The corruption changed the pixels; the labels are those of the clean test split.
    clean = _in_pairs(squiggles.generate_examples, stream=squiggles.TEST_STREAM, resolution=16)
    assert not np.array_equal(images, squiggles.quantize(clean["image"]))
    np.testing.assert_array_equal(expected["label"], clean["label"])


def test_building_again_in_other_chunks_and_with_beam_gives_the_same_examples(tiny_dir, tmp_path):
    base = SquigglesConfig(**{**BASE.__dict__, "chunk_size": 2})  # three chunks of 2
    again = SquigglesCConfig(base=base, corruption="gaussian_noise", severity=3)
    assert again.name == TINY.name and again.settings() == TINY.settings()
    rebuilt = tfds.builder("squiggles_c", config=again, data_dir=tmp_path)
    from tensorflow_datasets.core.utils.lazy_imports_utils import apache_beam as beam

    rebuilt.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            beam_options=beam.options.pipeline_options.PipelineOptions()
        )
    )
    original = tfds.builder("squiggles_c", config=TINY, data_dir=tiny_dir)
    assert verify.first_difference(original, rebuilt) is None


def test_settings_are_stored_and_a_built_name_with_other_settings_is_refused(tiny_dir):
    builder = tfds.builder("squiggles_c", config=TINY, data_dir=tiny_dir)
    stored = json.loads(pathlib.Path(builder.data_dir, "metadata.json").read_text())
    assert stored == {
        "base": BASE.name, "family": "taylor", "order": 7, "resolution": 16, "seed": 0,
        "test_size": 6, "corruption": "gaussian_noise", "severity": 3,
        "parameter": corruptions.TABLE["gaussian_noise"].parameter,
        "parameter_value": corruptions.TABLE["gaussian_noise"].values[2], "stream": 2,
    }  # fmt: skip
    other = SquigglesCConfig(name=TINY.name, base=BASE, corruption="gaussian_noise", severity=4)
    sigma = corruptions.TABLE["gaussian_noise"].values
    with pytest.raises(
        ValueError,
        match=rf"squiggles_c config '{TINY.name}' is already built in .* with other settings "
        rf"\(severity: stored 3, new 4; parameter_value: stored {sigma[2]}, new {sigma[3]}\)",
    ):
        tfds.builder("squiggles_c", config=other, data_dir=tiny_dir)


def test_info_describes_the_dataset(tiny_dir):
    info = tfds.builder("squiggles_c", config=TINY, data_dir=tiny_dir).info
    assert info.supervised_keys == ("image", "label")
    assert set(info.features) == {"image", "label", "index", "latent"}
    assert info.features["label"].names == list(squiggles.CLASS_NAMES)
    assert info.features["latent"].shape == (2, 7)
    assert list(info.splits) == ["test"]
    assert all(name in info.citation for name in ("Hendrycks", "Kindermans", "Ford"))
    assert "gaussian_noise at severity 3" in info.config_description


def test_predefined_configs_are_one_per_corruption_and_severity():
    configs = squiggles_c.CONFIGS
    assert len(configs) == 85 == len(corruptions.CORRUPTIONS) * 5
    assert list(configs)[:2] == ["gaussian_noise_1", "gaussian_noise_2"]
    assert list(configs)[-1] == "occlusion_5"
    assert {"jpeg_compression_4", "thin_stroke_1"} <= set(configs)
    assert all(
        (c.base, c.test_size, c.name) == ("taylor", 10_000, f"{c.corruption}_{c.severity}")
        for c in configs.values()
    )
    # `tfds build squiggles_c` with no config makes the default only; names resolve to all.
    assert squiggles_c.Builder.BUILDER_CONFIGS == [configs["gaussian_noise_1"]]
    assert squiggles_c.Builder.builder_configs == configs
    assert squiggles_c.Builder(config=None).builder_config.name == "gaussian_noise_1"
    builder = tfds.builder("squiggles_c/occlusion_5")
    assert builder.builder_config is configs["occlusion_5"]
    # A custom config with a predefined one's settings is that config.
    same = SquigglesCConfig(corruption="contrast", severity=2)
    assert tfds.builder("squiggles_c", config=same).builder_config is configs["contrast_2"]


def test_custom_configs_get_derived_names():
    assert SquigglesCConfig(base="sine_net", severity=3).name == "sine_net_gaussian_noise_3"
    assert SquigglesCConfig(corruption="occlusion", test_size=50).name == "occlusion_1_50"
    assert TINY.name == f"{BASE.name}_gaussian_noise_3"  # the base's size is TINY's
    from_json = SquigglesCConfig(base={"resolution": 16, "train_size": 0, "validation_size": 0,
                                       "test_size": 6, "chunk_size": 4})  # fmt: skip
    assert from_json.base_config.settings() == BASE.settings()
    registered = SquigglesConfig(name="sine_net", family="sine_net")
    assert SquigglesCConfig(base=registered).base == "sine_net"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(corruption="frost"), r"unknown corruption 'frost'; expected one of gaussian_noise,"),
        (dict(severity=0), r"severity must be an integer from 1 to 5, got 0 \(severity 0, the"),
        (dict(severity=6), r"severity must be an integer from 1 to 5, got 6$"),
        (dict(severity="3"), r"severity must be an integer from 1 to 5, got '3'$"),
        (dict(base="nope"), r"unknown squiggles config 'nope' for base; expected one of \["),
        (dict(base=3), r"base must be the name of a squiggles config or a SquigglesConfig"),
        (dict(test_size=0), r"test_size must be an integer >= 1, got 0"),
        (dict(test_size=10_001), r"test_size must be at most the base's test_size \(10,000\)"),
        (dict(base=SquigglesConfig(name="taylor", resolution=16)), r"must not be named like"),
        (dict(base=SquigglesConfig(resolution=3)), r"needs a base resolution >= 4, got 3"),
    ],
)
def test_invalid_config_is_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SquigglesCConfig(**kwargs)


def test_unknown_config_name_lists_some_expected(tmp_path):
    message = (
        r"unknown squiggles_c config 'gausian_noise_1'; expected one of 85 names such as "
        r"\['gaussian_noise_1', .*\], or a custom SquigglesCConfig"
    )
    with pytest.raises(ValueError, match=message):
        tfds.builder("squiggles_c/gausian_noise_1", data_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_tfds_build_with_imports_finds_the_registered_builder(monkeypatch):
    # What `tfds build squiggles_c/occlusion_5 --imports squiggles_tfds` resolves the name to
    # in the repository root (tests/squiggles_tfds/test_tfds_command.py runs the command).
    monkeypatch.chdir(ROOT)
    builder_cls, kwargs = tfds_build._get_builder_cls_and_kwargs(
        "squiggles_c/occlusion_5", has_imports=True
    )
    assert builder_cls is squiggles_c.Builder and kwargs == {"config": "occlusion_5"}
