r"""Distance of test latents to the true decision boundary (the paper's Fig. 8).

    python -m experiments.boundary_distance --workdir models/cpu_taylor \
        --out runs/boundary_cpu_taylor --examples 500 --attack_results runs/attack_cpu_taylor
    # SineNet analysed with a Taylor-trained navigator, as in the paper:
    python -m experiments.boundary_distance --workdir runs/sine_net --navigator runs/taylor ...

Writes distances.csv (grid and bisection-refined distance of each example), the
cumulative fractions for all, misclassified and successfully attacked examples in
summary.json, and resumes from its saved chunks like experiments.attack, with the same
refusals: another analysed model or navigator (by fingerprint), other settings, or a
--out in use by another run.
"""

import json
import sys

from absl import app, flags

from experiments import attack_lib, attacks, boundary, console

_WORKDIR = flags.DEFINE_string("workdir", None, "Training run to analyse.")
_NAVIGATOR = flags.DEFINE_string(
    "navigator", None, "Training run whose gradients guide the search (default: --workdir)."
)
_OUT = flags.DEFINE_string("out", None, "Directory for chunks, distances.csv and summary.json.")
_EPSILONS = flags.DEFINE_list(
    "epsilons", [str(e) for e in attacks.DEFAULT_EPSILONS], "ℓ2 radii in latent space."
)
_EXAMPLES = flags.DEFINE_integer("examples", 500, "Test examples (from index 0).")
_CHUNK_SIZE = flags.DEFINE_integer("chunk_size", 250, "Examples per saved chunk and batch.")
_STEPS = flags.DEFINE_integer("steps", attacks.STEPS, "PGD iterations per ε.")
_STEP_FRACTION = flags.DEFINE_float("step_fraction", attacks.STEP_FRACTION, "Step size / ε.")
_BLOCK = flags.DEFINE_integer(
    "block", 10, "PGD iterations per compiled block of unrolled steps; 0: one fori_loop."
)
_BISECTION_STEPS = flags.DEFINE_integer("bisection_steps", 20, "Halvings of the path.")
_ATTACK_RESULTS = flags.DEFINE_string(
    "attack_results", None, "An experiments.attack --out of the analysed model, for the "
    "'attack succeeded' curve.",
)  # fmt: skip
_ATTACK_EPSILON = flags.DEFINE_float("attack_epsilon", 0.15, "Pixel ε of that curve.")
flags.mark_flags_as_required(["workdir", "out"])


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    console.setup()
    try:
        settings = boundary.BoundarySettings(
            epsilons=attack_lib.parse_floats("epsilons", _EPSILONS.value),
            examples=_EXAMPLES.value,
            chunk_size=_CHUNK_SIZE.value,
            steps=_STEPS.value,
            step_fraction=_STEP_FRACTION.value,
            bisection_steps=_BISECTION_STEPS.value,
            block=_BLOCK.value,
        )
        run = boundary.BoundaryRun(_OUT.value, _WORKDIR.value, settings, _NAVIGATOR.value)
        summary = run.run(_ATTACK_RESULTS.value, _ATTACK_EPSILON.value)
    except (ValueError, FileNotFoundError, PermissionError) as error:
        sys.exit(f"error: {error}")
    print(json.dumps({k: v for k, v in summary.items() if k != "model"}, indent=2))


if __name__ == "__main__":
    app.run(main)
