"""The paper's ResNet-34 on Taylor curves.

python -m experiments.train --config experiments/configs/taylor_paper.py --workdir runs/taylor
"""

from experiments.configs import base


def get_config():
    return base.get_config()
