r"""Attacks a trained model on the first N test examples: pixel-space PGD, Gaussian
noise of the same norm, and latent-space PGD with the true label recomputed.

    python -m experiments.attack --workdir models/cpu_taylor --out runs/attack_cpu_taylor
    python -m experiments.attack --workdir models/cpu_taylor --out runs/attack_latent \
        --attacks latent --latent_epsilons 0.15,0.6,2.4 --examples 2000

Chunks are saved as they finish: run the same command again to resume, with a
larger --examples to extend (a short last chunk is redone), or with a smaller one to
summarise the first examples. Writes summary.json and one CSV per attack in --out.
--out is refused if it holds results of another model (settings.json records a
fingerprint of the weights) or other settings, or while another run uses it.
"""

import json
import sys

from absl import app, flags

from experiments import attack_lib, attacks, console

_WORKDIR = flags.DEFINE_string("workdir", None, "Training run whose latest checkpoint to attack.")
_OUT = flags.DEFINE_string("out", None, "Directory for chunks, summary.json and CSVs.")
_ATTACKS = flags.DEFINE_list("attacks", list(attack_lib.ATTACKS), "Which of pixel,noise,latent.")
_EPSILONS = flags.DEFINE_list(
    "epsilons", [str(e) for e in attacks.DEFAULT_EPSILONS], "ℓ2 radii of pixel PGD and noise."
)
_LATENT_EPSILONS = flags.DEFINE_list(
    "latent_epsilons", [str(e) for e in attacks.DEFAULT_EPSILONS], "ℓ2 radii of latent PGD."
)
_EXAMPLES = flags.DEFINE_integer("examples", 2000, "Test examples to attack (from index 0).")
_CHUNK_SIZE = flags.DEFINE_integer("chunk_size", 250, "Examples per saved chunk and batch.")
_STEPS = flags.DEFINE_integer("steps", attacks.STEPS, "PGD iterations.")
_STEP_FRACTION = flags.DEFINE_float("step_fraction", attacks.STEP_FRACTION, "Step size / ε.")
_RANDOM_START = flags.DEFINE_bool("random_start", False, "Start PGD at a random point of the ball.")
_PIXEL_RANGE = flags.DEFINE_string(
    "pixel_range", "0,1", "LOW,HIGH to clip attacked pixels to, or 'none' for no clipping."
)
_CARRY = flags.DEFINE_bool(
    "carry_successes", True,
    "Keep an example's pixel adversarial image for larger ε instead of attacking it again.",
)  # fmt: skip
_BLOCK = flags.DEFINE_integer(
    "block", 10, "PGD iterations per compiled block of unrolled steps; 0: one fori_loop."
)
_SEED = flags.DEFINE_integer("seed", 0, "Seed of random starts and noise.")
flags.mark_flags_as_required(["workdir", "out"])


def _pixel_range(text: str) -> tuple[float, float] | None:
    if text.lower() == "none":
        return None
    values = attack_lib.parse_floats("pixel_range", text.split(","))
    if len(values) != 2:
        raise ValueError(f"--pixel_range must be LOW,HIGH or 'none', got {text!r}")
    return values


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    console.setup()
    try:
        settings = attack_lib.AttackSettings(
            attacks=tuple(_ATTACKS.value),
            epsilons=attack_lib.parse_floats("epsilons", _EPSILONS.value),
            latent_epsilons=attack_lib.parse_floats("latent_epsilons", _LATENT_EPSILONS.value),
            examples=_EXAMPLES.value,
            chunk_size=_CHUNK_SIZE.value,
            steps=_STEPS.value,
            step_fraction=_STEP_FRACTION.value,
            random_start=_RANDOM_START.value,
            pixel_range=_pixel_range(_PIXEL_RANGE.value),
            carry_successes=_CARRY.value,
            block=_BLOCK.value,
            seed=_SEED.value,
        )
        run = attack_lib.AttackRun(_OUT.value, _WORKDIR.value, settings)
        summary = run.run()
    except (ValueError, FileNotFoundError, PermissionError) as error:
        sys.exit(f"error: {error}")
    print(json.dumps({k: v for k, v in summary.items() if k != "model"}, indent=2))


if __name__ == "__main__":
    app.run(main)
