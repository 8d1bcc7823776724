"""--config.<field> overrides naming no field: one line with the nearest names, no traceback."""

import pathlib
import subprocess
import sys

import pytest
from ml_collections.config_flags import config_flags

from experiments import config_overrides
from experiments.configs import tiny
from experiments.configs.analyses import ford, paper

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "config, path, message",
    [(paper, "pixel.stpes", "did you mean 'pixel.steps'?"),
     (paper, "pxiel.steps", "did you mean 'pixel.steps'?"),
     (paper, "stpes", "did you mean 'latent.steps' or 'pixel.steps'?"),
     (tiny, "learning_rat", "did you mean 'optimizer.learning_rate'?"),
     (tiny, "model.widht", "did you mean 'model.width'?"),
     (ford, "ford_rates.sigmaz", "did you mean 'ford_rates.sigmas'?"),
     (paper, "bogus", "the config has the fields analyses, chunk_size, examples, latent, "
                      "noise, pixel"),
     (tiny, "model.bogus", "'model' has the fields stage_sizes, stem, width")],
)  # fmt: skip
def test_an_unknown_field_is_named_with_the_nearest_fields(config, path, message):
    assert config_overrides.unknown_field_message(config.get_config(), path) == (
        f"the config has no field '{path}'; {message}"
    )


def test_known_fields_and_paths_it_cannot_follow_pass():
    config = tiny.get_config()
    for path in ("optimizer.learning_rate", "model", "data.data_dir", "model.stage_sizes[0]"):
        assert config_overrides.unknown_field_message(config, path) is None
    assert config_overrides.unknown_field_message(config, "seed.x") == (
        "the config has no field 'seed.x': 'seed' holds 0, not fields"
    )


def test_override_paths_are_read_as_ml_collections_reads_them():
    argv = ["prog", "--config", "c.py", "--config.a.b=1", "--noconfig.flag", "--configx=2",
            "-config.c", "3", "--other.d=4"]  # fmt: skip
    assert config_overrides.override_paths(argv) == ["a.b", "flag", "c"]


TRAIN = ["experiments.train", "--config", "experiments/configs/tiny.py"]


@pytest.mark.e2e
@pytest.mark.parametrize(
    "args, field, message",
    [(TRAIN + ["--config.learning_rat=3"], "learning_rat",
      "did you mean 'optimizer.learning_rate'?"),
     # A --config with a default (loaded while the flags are parsed, not at import).
     (["experiments.noise_analysis", "--config.ford_rates.sampels=9"], "ford_rates.sampels",
      "did you mean 'ford_rates.samples'?")],
)  # fmt: skip
def test_the_binaries_name_a_misspelled_override_in_one_line(args, field, message, tmp_path):
    out = [] if args[0] == "experiments.train" else [f"--out={tmp_path / 'out'}"]
    result = subprocess.run(
        [sys.executable, "-m", *args, f"--workdir={tmp_path / 'run'}", *out],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"error: the config has no field '{field}'; {message}\n"
    assert list(tmp_path.iterdir()) == []


# ml_collections loads config files with importlib's deprecated load_module (its own
# deprecation, not this project's).
@pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")
def test_the_parser_refuses_a_missing_file_and_unknown_overrides_before_applying_them():
    parser = config_overrides.CheckedConfigParser(config_flags.ConfigFileFlagParser("config"))
    missing = ROOT / "experiments" / "configs" / "nonexistent.py"
    with pytest.raises(config_overrides.ConfigFlagError) as error:
        parser.parse(str(missing))
    assert str(error.value) == f"cannot load the config file '{missing}': No such file or directory"

    class TinyConfigFile:  # what ml_collections' parser returns for experiments/configs/tiny.py
        def parse(self, argument):
            return tiny.get_config()

    parser = config_overrides.CheckedConfigParser(TinyConfigFile())
    parser.overrides = ["seed", "optimizer.learning_rate"]
    assert parser.parse("tiny.py").num_steps == 6
    parser.overrides = ["seed", "optimizer.learning_rat"]
    with pytest.raises(config_overrides.ConfigFlagError, match="no field 'optimizer.learning_rat'"):
        parser.parse("tiny.py")
