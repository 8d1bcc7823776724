"""The one model convention: what every attack and analysis takes as "the model".

A `Classifier` is a batched logits function, images (N, R, R) → logits (N, C) with class
1 = self-intersecting, together with the range its inputs live in. It is a JAX pytree:
jitted attacks take it as an argument, so the weights inside its function (a
`jax.tree_util.Partial` over them) are arguments of the compiled program rather than
constants baked into it, and two classifiers with weights of the same shapes share one
compilation. Whatever made the model (a training run of `experiments.train`, a linear
model in a test, a user's own network) reaches the library through this type only;
`experiments.training.trained_run.classifier` is the adapter for a training run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from experiments import parallel

LogitsFn = Callable[[jax.Array], jax.Array]
UNIT_RANGE = (0.0, 1.0)  # the images of the Squiggles datasets


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Classifier:
    """A model as the library sees it: `logits_fn` (images → logits, batched) and the
    `input_range` (low, high) of the images it was made for, which attacks that clip
    keep their iterates in."""

    logits_fn: jax.tree_util.Partial
    input_range: tuple[float, float] = dataclasses.field(
        default=UNIT_RANGE, metadata={"static": True}
    )

    def __call__(self, images: jax.Array) -> jax.Array:
        return self.logits_fn(images)


def as_classifier(model: Classifier | LogitsFn) -> Classifier:
    """`model` as a Classifier: one as it is, or a logits function (a plain callable or a
    `jax.tree_util.Partial`) with images in [0, 1]."""
    if isinstance(model, Classifier):
        return model
    if isinstance(model, jax.tree_util.Partial):
        return Classifier(model)
    if not callable(model):
        raise ValueError(
            f"a model must be a Classifier or a callable images -> logits, got {model!r}"
        )
    return Classifier(jax.tree_util.Partial(model))


@jax.jit
def probabilities_on_device(model: Classifier, images: jax.Array) -> jax.Array:
    """P(intersecting) of each image, as a JAX array where the images are."""
    return jax.nn.softmax(model(images))[:, 1]


def probabilities(model: Classifier | LogitsFn, images) -> np.ndarray:
    """P(intersecting) of each image, as a NumPy array."""
    return np.array(probabilities_on_device(as_classifier(model), jnp.asarray(images)))


def sharded_probabilities(model: Classifier | LogitsFn, images, data_mesh) -> np.ndarray:
    """P(intersecting) of `images` with the batch split over every device of the mesh
    (padded to a multiple of the device count, the padding dropped again), on every
    process: what a multi-host evaluation needs."""
    padded_images, count = parallel.padded(images)
    split = parallel.global_copy(padded_images, data_mesh)
    return parallel.gathered(probabilities_on_device(as_classifier(model), split))[:count]
