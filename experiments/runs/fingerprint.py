"""A fingerprint of a trained model's weights, so results are never mixed across models.

An attack or boundary run directory resumes from its saved chunks. The workdir path and the
checkpoint step do not identify the model: a workdir retrained with another seed has the same
path and step. The fingerprint is a SHA-256 of the restored arrays themselves.
"""

import hashlib
import json

import jax
import numpy as np


def tree_fingerprint(tree) -> str:
    """SHA-256 (hex) of every leaf's path, dtype, shape and bytes, in the tree's fixed order
    (jax flattens dicts by sorted key), so equal arrays give equal fingerprints on any host."""
    digest = hashlib.sha256()
    for path, leaf in jax.tree_util.tree_flatten_with_path(jax.device_get(tree))[0]:
        array = np.ascontiguousarray(leaf)
        header = [jax.tree_util.keystr(path), array.dtype.str, list(array.shape), array.nbytes]
        digest.update(json.dumps(header).encode() + b"\n")
        digest.update(array.tobytes())
    return digest.hexdigest()


def model_fingerprint(state) -> str:
    """The fingerprint of a train state's model: its params and batch statistics (not the
    optimizer state or step, which do not change what the model computes)."""
    return tree_fingerprint({"params": state.params, "batch_stats": state.batch_stats})
