"""The paper's ResNet-34 on SineNet curves (width 300).

python -m experiments.train --config experiments/configs/sine_net_paper.py --workdir runs/sine_net
"""

from experiments.configs import base


def get_config():
    config = base.get_config()
    config.family = "sine_net"
    config.data.tfds_name = "squiggles/sine_net"
    return config
