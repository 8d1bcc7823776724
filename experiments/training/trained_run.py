"""A training run of `experiments.train` as the rest of the library sees it: its newest
checkpoint and config, and the family its test examples come from."""

from __future__ import annotations

import jax
import ml_collections

import squiggles
from experiments.classifier import Classifier
from experiments.training import data, metrics, restore, trainer


def load_run(workdir: str) -> tuple[trainer.TrainState, ml_collections.ConfigDict]:
    """The newest restorable checkpoint of a run, with a clear error if it does not fit
    its config. Read-only: writes nothing into `workdir`. The state is replicated on
    every device (`trainer.restore_state`), so evaluations and attacks split their
    batches over them."""
    try:
        return trainer.restore_state(workdir)
    except (FileNotFoundError, restore.CheckpointError, trainer.ConfigFileError):
        raise
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(
            f"the checkpoint in {workdir} does not match its config.json (another model "
            f"or resolution?): {error}"
        ) from error


def family_for(config: ml_collections.ConfigDict, name: str | None) -> squiggles.Family:
    """The family to test on: the run's own, or `name` with the paper's parameters."""
    if name is None or name == config.family:
        return data.family_of(config)
    if name not in squiggles.FAMILIES:
        raise ValueError(f"unknown family {name!r}; expected one of {sorted(squiggles.FAMILIES)}")
    return squiggles.family_from_name(name)


def classifier(state: trainer.TrainState) -> Classifier:
    """A trained state as the library's model: its logits in inference mode (running
    BatchNorm statistics, the batch split over every device), images in [0, 1]."""
    return Classifier(jax.tree_util.Partial(metrics.logits, state))


def load_classifier(workdir: str) -> Classifier:
    """The newest checkpoint of a training run as a Classifier: the adapter from a
    workdir to the one model convention."""
    state, _ = load_run(workdir)
    return classifier(state)
