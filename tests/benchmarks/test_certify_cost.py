"""benchmarks/certify_cost.py: on the tiny model with a few draws it prints the forward
rate, certify's rate and its ratio to it, and the search's cost and distances; bad
settings are usage errors naming the flag, before any work."""

import re

import pytest

from tests.benchmarks.scripts import assert_usage_error, load_script

NUMBER = r"([0-9][0-9,]*\.?[0-9]*|inf)"
# Three images, five draws per pass (16 // 3): n₀ = n = 5 draws share one compiled pass.
TINY = ["--model", "tiny", "--images", "3", "--samples", "5", "--selection_samples", "5",
        "--batch", "16", "--repeats", "1", "--search_examples", "2", "--search_steps", "2",
        "--search_iterations", "1", "--search_epsilons", "4.8"]  # fmt: skip


@pytest.fixture(scope="module")
def benchmark():
    return load_script("certify_cost")


def figures(pattern: str, out: str) -> list[float]:
    """The numbers of the one line of `out` that matches `pattern`."""
    match = re.search(pattern, out, re.MULTILINE)
    assert match, f"no line matching {pattern!r} in:\n{out}"
    return [float(group.replace(",", "")) for group in match.groups()]


def test_tiny_run_prints_the_rates_their_ratio_and_the_search(benchmark, capsys):
    benchmark.main(TINY)
    out = capsys.readouterr().out
    assert re.search(r"^device: .+, model tiny, 3 images × \(5 \+ 5\) draws at σ=0\.25, "
                     r"15 images per forward pass, best of 1$", out, re.MULTILINE), out  # fmt: skip
    (forward,) = figures(rf"^plain forward: +{NUMBER} images/s$", out)
    certify, ratio = figures(
        rf"^certify: +{NUMBER} draws·images/s \({NUMBER}× the forward rate\)$", out
    )
    assert forward > 0 and certify > 0
    assert ratio == pytest.approx(certify / forward, rel=0.02, abs=0.01)
    right, abstained, _ = figures(
        rf"^certificates: +right and certified {NUMBER}, abstained {NUMBER}, "
        rf"median radius of the right {NUMBER}$", out
    )  # fmt: skip
    assert 0 <= right + abstained <= 1
    per_example, examples, seconds = figures(
        rf"^true-class search: +{NUMBER} s per example \({NUMBER} examples, {NUMBER} s, ", out
    )
    assert examples == 2 and per_example == pytest.approx(seconds / 2, abs=0.03)
    median, crossed, of = figures(
        rf"^true-class distance: median {NUMBER}, crossed {NUMBER} of {NUMBER}$", out
    )
    assert median > 0 and 0 <= crossed <= of == 2


def test_no_search_examples_skips_the_search(benchmark, capsys):
    benchmark.main([*TINY, "--search_examples", "0"])
    out = capsys.readouterr().out
    assert "certify:" in out and "true-class" not in out


@pytest.mark.parametrize(
    "args, message",
    [(["--images", "0"], "--images must be >= 1, got 0"),
     (["--samples", "-5"], "--samples must be >= 1, got -5"),
     (["--selection_samples", "0"], "--selection_samples must be >= 1, got 0"),
     (["--batch", "0"], "--batch must be >= 1, got 0"),
     (["--repeats", "0"], "--repeats must be >= 1, got 0"),
     (["--search_examples", "-1"], "--search_examples must be >= 0, got -1"),
     (["--sigma", "0"], "--sigma must be a finite number > 0, got 0.0"),
     (["--search_epsilons", "0.6,x"],
      "argument --search_epsilons: expected comma-separated numbers, got '0.6,x'"),
     (["--search_epsilons", "0.6,-1"],
      "argument --search_epsilons: every ε must be a finite number > 0, got '0.6,-1'"),
     (["--workdir", "no/such/run"], "--workdir no/such/run is not a training run")],
)  # fmt: skip
def test_bad_settings_are_usage_errors_naming_the_flag(benchmark, capsys, args, message):
    assert_usage_error(benchmark, capsys, args, message)
