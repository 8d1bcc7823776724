r"""The attacks of the paper: an alias of `experiments.analyse` whose --config defaults
to experiments/configs/analyses/paper.py (pixel PGD, noise and latent PGD).

    python -m experiments.attack --workdir models/cpu_taylor --out runs/attack_cpu_taylor \
        --config.examples=2000 --config.latent.epsilons='(0.15, 0.6, 2.4)'

Settings are --config.* overrides (docs/attacks.md maps the flags of earlier versions).
"""

import pathlib

from experiments import analyse

CONFIG = pathlib.Path(__file__).parent / "configs" / "analyses" / "paper.py"

if __name__ == "__main__":
    analyse.run_with_default_config(str(CONFIG))
