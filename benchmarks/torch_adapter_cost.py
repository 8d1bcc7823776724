"""What the PyTorch adapter costs: the example CNN's logits and input gradient for a batch
of test images, by PyTorch alone and through the adapter under jax.jit.

    python benchmarks/torch_adapter_cost.py --batch 128 --repeats 5

The model is `examples/torch_cnn.py`'s `model()` (its committed weights); the images are
the first `--batch` Taylor test examples as the dataset stores them
(`squiggles.stored_examples`, 60 × 60). The gradient is that of the summed cross-entropy
with respect to the images: PyTorch's forward and backward pass against the adapter's
`jax.grad`, whose two callbacks run the same passes. The calls take turns: in each of
`--repeats` rounds every call is timed once, right after an untimed call of it
(benchmarks/timing.py; the first compiles). A time is the best round's; a ratio (the
adapter's time over PyTorch's) is the median over the rounds of the two times of one
round, which a load that changes from round to round moves less.
`measure` returns the figures, for other scripts.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
import torch

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # timing.py, and the repository's packages
from timing import best_seconds  # noqa: E402  (benchmarks/timing.py)

import squiggles  # noqa: E402
from examples.torch_cnn import model  # noqa: E402
from experiments.adapters.torch_model import torch_classifier  # noqa: E402

RESOLUTION = 60  # the stored test images'


def measure(batch: int, repeats: int) -> dict[str, float]:
    """Milliseconds per call of the example CNN on `batch` Taylor test images (best of
    `repeats` rounds), logits and input gradient, by PyTorch alone and through the adapter
    (`torch_forward_ms`, `adapter_forward_ms`, `torch_gradient_ms`, `adapter_gradient_ms`),
    and the adapter's time as a multiple of PyTorch's (`forward_ratio`, `gradient_ratio`:
    medians over the rounds)."""
    for name, value in (("batch", batch), ("repeats", repeats)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    examples = squiggles.stored_examples(squiggles.Taylor(), batch, resolution=RESOLUTION)
    images, labels = np.asarray(examples.image), np.asarray(examples.label, np.int64)
    network = model()
    classifier = torch_classifier(network)

    def torch_forward():
        with torch.no_grad():
            return network(torch.tensor(images)[:, None]).numpy()

    def torch_gradient():
        pixels = torch.tensor(images, requires_grad=True)
        loss = torch.nn.functional.cross_entropy(
            network(pixels[:, None]), torch.tensor(labels), reduction="sum"
        )
        return torch.autograd.grad(loss, pixels)[0].numpy()

    def loss(model, x):
        log_p = jax.nn.log_softmax(model(x))
        return -jnp.sum(jnp.take_along_axis(log_p, jnp.asarray(labels)[:, None], axis=1))

    logits = jax.jit(lambda model, x: model(x))
    gradient = jax.jit(jax.grad(loss, argnums=1))
    x = jnp.asarray(images)
    calls = {
        "torch_forward_ms": torch_forward,
        "adapter_forward_ms": lambda: logits(classifier, x),
        "torch_gradient_ms": torch_gradient,
        "adapter_gradient_ms": lambda: gradient(classifier, x),
    }
    # In rounds, each call timed once a round (after an untimed one), so that PyTorch and
    # the adapter run under the same load of the machine.
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            seconds[name].append(best_seconds(call, 1))
    figures = {name: 1e3 * min(times) for name, times in seconds.items()}
    for key in ("forward", "gradient"):
        ratios = np.divide(seconds[f"adapter_{key}_ms"], seconds[f"torch_{key}_ms"])
        figures[f"{key}_ratio"] = float(np.median(ratios))
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128, help="images per call")
    parser.add_argument("--repeats", type=int, default=5, help="rounds of timed calls")
    args = parser.parse_args(argv)
    for flag in ("batch", "repeats"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} must be >= 1, got {getattr(args, flag)}")
    figures = measure(args.batch, args.repeats)
    print(
        f"example CNN, batch of {args.batch} Taylor test images {RESOLUTION}×{RESOLUTION}, "
        f"{jax.devices()[0].device_kind}, PyTorch {torch.__version__} "
        f"({torch.get_num_threads()} threads), best of {args.repeats}"
    )
    print(f"{'':16s} {'PyTorch alone':>14s} {'adapter (jit)':>14s} {'ratio':>6s} (median)")
    for row, key in (("logits", "forward"), ("input gradient", "gradient")):
        alone, adapted = figures[f"torch_{key}_ms"], figures[f"adapter_{key}_ms"]
        ratio = figures[f"{key}_ratio"]
        print(f"{row:16s} {alone:11.1f} ms {adapted:11.1f} ms {ratio:5.2f}×")


if __name__ == "__main__":
    main()
