"""Bring your own model: a ground-truth robustness report for any classifier of Squiggles
images (a training run of `experiments.train`, a JAX function, a PyTorch module).

    from experiments import bench
    report = bench.run("torch:examples.torch_cnn:model", "runs/bench/torch_cnn", preset="quick")
    print(report.summary_line())

`python -m experiments.bench --model SPEC --out DIR` does the same; docs/bench.md says
what the report holds and how it is measured.
"""

from experiments.bench.pipeline import run
from experiments.bench.presets import PRESETS
from experiments.bench.report import Interval, LatentRow, PixelRow, Report, load

__all__ = ["PRESETS", "Interval", "LatentRow", "PixelRow", "Report", "load", "run"]
