"""`python -m squiggles_tfds.verify`: what it checks, and how it fails."""

import logging
import pathlib
import shutil
import subprocess
import sys

import pytest
import tensorflow_datasets as tfds

from squiggles_tfds import SquigglesConfig, quiet, verify

ROOT = pathlib.Path(__file__).resolve().parents[2]
# No name: the derived one (taylor_o7_r16_s0_12_4_6), as `tfds build --config '{...}'` makes.
TINY = SquigglesConfig(
    resolution=16, train_size=12, validation_size=4, test_size=6, chunk_size=8
)  # fmt: skip


@pytest.fixture(scope="module")
def built_dir(tmp_path_factory) -> pathlib.Path:
    data_dir = tmp_path_factory.mktemp("built")
    tfds.builder("squiggles", config=TINY, data_dir=data_dir).download_and_prepare()
    return data_dir


def run_verify(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        verify.main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_an_empty_directory_has_nothing_to_verify(capsys, tmp_path):
    status, out, err = run_verify(capsys, "--config", "taylor", "--data_dir", tmp_path)
    assert status == 2 and out == ""
    assert err == (
        f"error: no complete build of squiggles/taylor 1.1.0 in {tmp_path} "
        f"(expected {tmp_path}/squiggles/taylor/1.1.0); build it with tfds build first\n"
    )


def test_against_names_each_directory_without_a_build(capsys, tmp_path):
    (tmp_path / "a").mkdir()
    status, out, err = run_verify(
        capsys, "--data_dir", tmp_path / "a", "--against", tmp_path / "b"
    )  # fmt: skip
    assert status == 2 and out == "" and "identical" not in err
    lines = err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(
        f"error: no complete build of squiggles/taylor 1.1.0 in {tmp_path}/a"
    )
    assert lines[1] == (
        f"error: no complete build of squiggles/taylor 1.1.0 in {tmp_path}/b: "
        "the directory does not exist"
    )


def test_a_killed_build_is_not_verified(capsys, tmp_path):
    leftover = tmp_path / "squiggles" / TINY.name / "incomplete.ABC123_1.1.0"
    leftover.mkdir(parents=True)
    (leftover / "squiggles-train.tfrecord-00000-of-00001").write_bytes(b"partial")
    status, out, err = run_verify(capsys, "--config", TINY.name, "--data_dir", tmp_path)
    assert status == 2 and out == ""
    assert err == (
        f"error: no complete build of squiggles/{TINY.name} 1.1.0 in {tmp_path}, only an "
        "interrupted one (incomplete.ABC123_1.1.0): build it again\n"
    )


def test_a_derived_custom_name_is_checked_against_the_generator(capsys, built_dir):
    assert TINY.name == "taylor_o7_r16_s0_12_4_6"
    status, out, err = run_verify(capsys, "--config", TINY.name, "--data_dir", built_dir)
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        f"checking squiggles/{TINY.name}/1.1.0 in {built_dir} against the generator: "
        "3 splits, 22 examples",
        "train: 12 examples, 0 differ from the generator",
        "validation: 4 examples, 0 differ from the generator",
        "test: 6 examples, 0 differ from the generator",
        "OK: 3 splits, 22 examples checked",
    ]


def test_against_a_copy_is_identical(capsys, built_dir, tmp_path):
    shutil.copytree(built_dir / "squiggles", tmp_path / "squiggles")
    args = ["--config", TINY.name, "--data_dir", built_dir, "--against", tmp_path]
    status, out, err = run_verify(capsys, *args)
    assert (status, err) == (0, "")
    assert out.splitlines()[1:] == [
        "train: 12 examples identical",
        "validation: 4 examples identical",
        "test: 6 examples identical",
        "identical: same examples, same order, every feature equal (22 examples)",
    ]


def test_a_flipped_byte_names_the_shard_and_split(capsys, built_dir, tmp_path):
    shutil.copytree(built_dir / "squiggles", tmp_path / "squiggles")
    shard = tmp_path / "squiggles" / TINY.name / "1.1.0" / "squiggles-train.tfrecord-00000-of-00001"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x10
    shard.write_bytes(bytes(data))
    expected = f"error: train split: unreadable shard {shard}: corrupted record at "
    status, out, err = run_verify(capsys, "--config", TINY.name, "--data_dir", tmp_path)
    assert status == 1 and "train:" not in out
    assert err.startswith(expected) and len(err.splitlines()) == 1
    args = ["--config", TINY.name, "--data_dir", built_dir, "--against", tmp_path]
    status, out, err = run_verify(capsys, *args)
    assert status == 1 and err.startswith(expected) and len(err.splitlines()) == 1


def test_a_build_whose_data_differs_fails(capsys, built_dir, tmp_path):
    # Another seed's data under TINY's name and settings: a tampered build.
    other = SquigglesConfig(**{**TINY.__dict__, "seed": 1})
    build = tfds.builder("squiggles", config=other, data_dir=tmp_path)
    build.download_and_prepare()
    metadata = pathlib.Path(build.data_dir, "metadata.json")
    metadata.write_text(metadata.read_text().replace('"seed": 1', '"seed": 0'))
    capsys.readouterr()  # the build's progress bars
    status, out, err = run_verify(capsys, "--config", TINY.name, "--data_dir", tmp_path)
    assert (status, err) == (1, "")
    assert "test: 6 examples, 6 differ from the generator, e.g. index [" in out
    assert out.splitlines()[-1] == "FAILED: 3 splits, 22 examples checked"
    args = ["--config", TINY.name, "--data_dir", built_dir, "--against", tmp_path]
    status, out, err = run_verify(capsys, *args)
    assert status == 1 and out.splitlines()[-1].startswith("differ: train, example 0 (index ")


def test_a_truncated_metadata_json_is_named_as_damaged(capsys, built_dir, tmp_path):
    shutil.copytree(built_dir / "squiggles", tmp_path / "squiggles")
    build = tmp_path / "squiggles" / TINY.name / "1.1.0"
    metadata = build / "metadata.json"
    metadata.write_text(metadata.read_text()[:30])
    status, out, err = run_verify(capsys, "--config", TINY.name, "--data_dir", tmp_path)
    assert (status, out) == (1, "")
    assert err == (
        f"error: {metadata} is not valid JSON (Expecting value: line 1 column 31 (char 30)): "
        f"the build is damaged; delete {build} and build it again\n"
    )


def test_harmless_startup_lines_are_dropped_and_others_kept():
    no_gpu = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1.2 5083 cudart_stub.cc:31] Could not find cuda drivers on your machine, "
        "GPU will not be used.\n"
        "E0000 00:00:1.3 5083 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
        "Failed call to cuInit: UNKNOWN ERROR (303)\n"
        "W0000 00:00:1.4 5083 some_op.cc:9] a real warning\n"
    )
    real = ["W0000 00:00:1.4 5083 some_op.cc:9] a real warning\n"]
    assert quiet.keep_lines(no_gpu) == real
    cu_init = no_gpu.splitlines(keepends=True)[2]
    assert quiet.keep_lines(cu_init + real[0], no_driver=True) == real
    # With a driver present, a failing cuInit is a real problem: kept.
    assert quiet.keep_lines(cu_init + real[0], no_driver=False) == [cu_init] + real
    # TensorFlow's note where the CPU has AVX-512 VNNI/BF16 (so CI machines differ).
    one_dnn = (
        "I0000 00:00:1796329301.732551   10265 port.cc:153] oneDNN custom operations are on. "
        "You may see slightly different numerical results due to floating-point round-off "
        "errors from different computation orders. To turn them off, set the environment "
        "variable `TF_ENABLE_ONEDNN_OPTS=0`.\n"
    )
    assert quiet.keep_lines(one_dnn + real[0], no_driver=True) == real


def test_known_harmless_log_records_are_dropped(caplog):
    quiet.quiet_tensorflow_start()
    with caplog.at_level(logging.INFO):
        logging.warning("apitools not found, and bigquery client libraries are not available")
        logging.warning("apitools is fine")
        logging.getLogger("jax._src.xla_bridge").info("Unable to initialize backend 'tpu': no")
        logging.getLogger("jax._src.xla_bridge").warning("Unable to initialize backend 'cuda'")
    assert [r.getMessage() for r in caplog.records] == [
        "apitools is fine",
        "Unable to initialize backend 'cuda'",
    ]


@pytest.mark.e2e
def test_the_command_prints_one_line_when_nothing_is_built(tmp_path):
    """As users run it, in a fresh interpreter: no start-up noise around the error."""
    result = subprocess.run(
        [sys.executable, "-m", "squiggles_tfds.verify", "--data_dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: no complete build of squiggles/taylor 1.1.0 in {tmp_path} "
        f"(expected {tmp_path}/squiggles/taylor/1.1.0); build it with tfds build first"
    ]


@pytest.mark.parametrize(
    "line",
    [
        "E0000 00:00:1.0  1 local_rendezvous.cc:405] Local rendezvous is aborting with status: "
        "DATA_LOSS: corrupted record at 7025",
        "W0000 00:00:1.0  1 cache_dataset_ops.cc:916] The calling iterator did not fully read",
        "W0000 00:00:1796557191.073585   17198 root_dataset.cc:364] Optimization loop failed: "
        "CANCELLED: Operation was cancelled",
    ],
)
def test_tensorflows_lines_restating_a_failed_read_give_way_to_ours(line):
    # Each would make the one-line error of an unreadable shard two lines (the last one
    # appears only sometimes: a race in tf.data when a failed read cancels the other).
    assert any(pattern.search(line) for pattern in verify.READ_FAILURE_LINES)
    assert not any(pattern.search("error: train split: unreadable shard")
                   for pattern in verify.READ_FAILURE_LINES)  # fmt: skip
