"""Predictions of a trained state and the classification metrics computed from them."""

from __future__ import annotations

from collections.abc import Iterator

import jax
import numpy as np
from sklearn.metrics import confusion_matrix, roc_auc_score

from experiments import parallel
from experiments.classifier import Classifier, probabilities_on_device
from experiments.classifier import sharded_probabilities as classifier_probabilities
from experiments.results import predicted
from experiments.training.data import Batch
from squiggles.labels import CLASS_NAMES


def logits(state, images: jax.Array) -> jax.Array:
    """The model's logits in inference mode, with the running BatchNorm statistics,
    the batch split over every device (the state must be replicated, as
    `trainer.restore_state` returns it)."""
    return state.apply_fn(
        {"params": state.params, "batch_stats": state.batch_stats},
        parallel.along_data(images),
        train=False,
    )


def predict_probabilities(state, images: jax.Array) -> jax.Array:
    """P(self-intersecting) for each image."""
    return probabilities_on_device(_classifier(state), images)


def sharded_probabilities(state, images, data_mesh) -> np.ndarray:
    """P(self-intersecting) of `images`, the batch split over every device (padded to
    a multiple of the device count, the padding dropped again)."""
    return classifier_probabilities(_classifier(state), images, data_mesh)


def _classifier(state) -> Classifier:
    return Classifier(jax.tree_util.Partial(logits, state))


def evaluate(state, batches: Iterator[Batch], keep_images: int = 0) -> dict:
    """Accuracy, ROC-AUC and confusion counts over all batches, and up to
    `keep_images` misclassified images of each true class."""
    probabilities, labels = [], []
    wrong: dict[str, list] = {name: [] for name in CLASS_NAMES}
    data_mesh = parallel.mesh()
    state = jax.device_put(state, parallel.replicated(data_mesh))
    for batch in batches:
        probability = sharded_probabilities(state, batch.images, data_mesh)
        label = np.asarray(batch.labels)
        if keep_images:
            images = np.asarray(jax.device_get(batch.images))
            for cls, name in enumerate(CLASS_NAMES):
                missed = images[(label == cls) & (predicted(probability) != cls)]
                wrong[name].extend(missed[: keep_images - len(wrong[name])])
        probabilities.append(probability)
        labels.append(label)
    probability, label = np.concatenate(probabilities), np.concatenate(labels)
    prediction = predicted(probability).astype(int)
    (tn, fp), (fn, tp) = confusion_matrix(label, prediction, labels=[0, 1])
    return {
        "examples": int(len(label)),
        "accuracy": float(np.mean(prediction == label)),
        "roc_auc": float(roc_auc_score(label, probability)) if len(set(label)) == 2 else None,
        "confusion": {
            "true_simple_predicted_simple": int(tn),
            "true_simple_predicted_intersecting": int(fp),
            "true_intersecting_predicted_simple": int(fn),
            "true_intersecting_predicted_intersecting": int(tp),
        },
        "misclassified_images": {name: np.array(images) for name, images in wrong.items()},
    }
