r"""Distance to the true decision boundary (the paper's Fig. 8): an alias of
`experiments.analyse` whose --config defaults to
experiments/configs/analyses/paper.py:boundary.

    python -m experiments.boundary_distance --workdir models/cpu_taylor \
        --out runs/boundary_cpu_taylor --config.boundary.attack_results=runs/attack_cpu_taylor
    # SineNet analysed with a Taylor-trained navigator, as in the paper:
    python -m experiments.boundary_distance --workdir runs/sine_net \
        --config.boundary.navigator=runs/taylor --out runs/boundary_sine_net
"""

import pathlib

from experiments import analyse

CONFIG = pathlib.Path(__file__).parent / "configs" / "analyses" / "paper.py:boundary"

if __name__ == "__main__":
    analyse.run_with_default_config(str(CONFIG))
