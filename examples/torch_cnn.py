"""A small PyTorch CNN for the Taylor family, as an example of bringing your own model.

The network is a few 3×3 convolutions, a global max pool (a crossing anywhere in the
image is what makes a curve self-intersecting) and a linear layer to 2 logits (class 1 =
self-intersecting). It takes float32 images (N, 1, R, R) in [0, 1], white curves on black,
as the Squiggles datasets store them.

Use the committed weights through the model spec `torch:examples.torch_cnn:model` (from
the repository root), e.g. `experiments.adapters.load("torch:examples.torch_cnn:model")`.
Retrain them with

    python examples/torch_cnn.py --out examples/torch_cnn

which trains on the online generator (the training split's stream of the Taylor family,
the examples the TFDS dataset stores, made on demand without TensorFlow) and then reports
the accuracy on the first examples of the test split. PyTorch is the `torch` extra:
pip install -e ".[torch]".
"""

from __future__ import annotations

import argparse
import math
import pathlib
import queue
import threading
import time

import numpy as np
import torch
from torch import nn

import squiggles

WEIGHTS = pathlib.Path(__file__).resolve().with_name("torch_cnn") / "weights.pt"
WIDTHS = (16, 32, 32, 64, 64)
STRIDES = (1, 2, 1, 2, 1)


class SquigglesCNN(nn.Module):
    """Images (N, 1, R, R) → logits (N, 2); any R (the pooling is global)."""

    def __init__(self, widths: tuple[int, ...] = WIDTHS, strides: tuple[int, ...] = STRIDES):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for width, stride in zip(widths, strides, strict=True):
            layers += [
                nn.Conv2d(channels, width, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(),
            ]
            channels = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels, 2)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images).amax(dim=(2, 3)))


def model(weights: str | pathlib.Path = WEIGHTS) -> nn.Module:
    """The example network with its committed weights, in eval mode on the CPU."""
    network = SquigglesCNN()
    network.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return network.eval()


def training_batches(
    family: squiggles.Family, batch_size: int, steps: int, resolution: int
) -> queue.Queue:
    """Batches 0 .. steps-1 of the training stream (batch i is examples i·B .. (i+1)·B-1),
    made by a background thread while the network trains on the previous one."""
    made: queue.Queue = queue.Queue(maxsize=4)

    def make() -> None:
        for step in range(steps):
            examples = squiggles.generate_examples(
                family, batch_size, seed=squiggles.DATA_SEED, stream=squiggles.TRAIN_STREAM,
                start=step * batch_size, resolution=resolution,
            )  # fmt: skip
            images = squiggles.dequantize(squiggles.quantize(examples.image))  # as stored
            made.put((np.asarray(images), examples.label.astype(np.int64)))

    threading.Thread(target=make, daemon=True).start()
    return made


def test_accuracy(network: nn.Module, family: squiggles.Family, count: int, resolution: int):
    """Accuracy on the first `count` examples of the stored test split."""
    examples = squiggles.stored_examples(family, count, resolution=resolution)
    images = torch.from_numpy(np.array(examples.image))[:, None]
    network.eval()
    with torch.no_grad():
        predicted = torch.cat([network(part).argmax(1) for part in images.split(500)])
    return float((predicted.numpy() == examples.label).mean())


def train(args: argparse.Namespace) -> nn.Module:
    """AdamW with a linear warm-up and cosine decay, cross-entropy on fresh examples."""
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    network = SquigglesCNN()
    optimizer = torch.optim.AdamW(network.parameters(), lr=args.learning_rate, weight_decay=1e-4)
    warmup = max(1, args.steps // 20)

    def rate(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, args.steps - warmup)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, rate)
    batches = training_batches(squiggles.Taylor(), args.batch_size, args.steps, args.resolution)
    network.train()
    start, losses, correct = time.monotonic(), [], []
    for step in range(args.steps):
        images, labels = batches.get()
        logits = network(torch.from_numpy(images)[:, None])
        loss = nn.functional.cross_entropy(logits, torch.from_numpy(labels))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        correct.append(float((logits.detach().argmax(1).numpy() == labels).mean()))
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            seconds = time.monotonic() - start
            print(
                f"step {step + 1}/{args.steps}: loss {np.mean(losses):.4f}, training accuracy "
                f"{np.mean(correct):.4f}, {seconds:.0f} s",
                flush=True,
            )
            losses, correct = [], []
    return network.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for weights.pt")
    parser.add_argument("--steps", type=int, default=600, help="training steps")
    parser.add_argument("--batch-size", type=int, default=64, help="fresh examples per step")
    parser.add_argument("--learning-rate", type=float, default=3e-3, help="peak (AdamW)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights")
    parser.add_argument("--resolution", type=int, default=squiggles.RESOLUTION)
    parser.add_argument("--threads", type=int, default=2, help="PyTorch CPU threads")
    parser.add_argument("--eval-examples", type=int, default=2000, help="test examples scored")
    parser.add_argument("--log-every", type=int, default=100)
    args = parser.parse_args()
    network = train(args)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(network.state_dict(), out / "weights.pt")
    accuracy = test_accuracy(network, squiggles.Taylor(), args.eval_examples, args.resolution)
    print(f"wrote {out / 'weights.pt'}; test accuracy {accuracy:.4f} on {args.eval_examples:,} "
          "stored Taylor test examples")  # fmt: skip


if __name__ == "__main__":
    main()
