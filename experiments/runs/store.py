"""Reading the results of finished analysis runs: summary.json, settings.json and the
per-example results joined from their chunk files.

It imports no analysis and nothing of training (flax, optax, orbax): settings.json
records the results type of each analysis (`experiments.results.TYPES`), which says how
its chunk files join; runs written before it did use `experiments.results.OF_ANALYSIS`."""

from __future__ import annotations

import json

from etils import epath

from experiments import results
from experiments.runs import strict_json
from experiments.runs.chunk_files import chunk_files, join_chunks, load_chunks
from experiments.runs.identity import chunk_identity


def read_summary(out: str | epath.PathLike) -> dict | None:
    """summary.json of a run directory (None if it has none), its "inf" and "nan" strings
    as floats."""
    path = epath.Path(out) / "summary.json"
    return strict_json.loads(path.read_text()) if path.exists() else None


def read_settings(out: str | epath.PathLike) -> dict:
    path = epath.Path(out) / "settings.json"
    if not path.exists():
        raise FileNotFoundError(f"{out} is not an analysis run: no settings.json")
    return json.loads(path.read_text())


def results_type(settings: dict, name: str) -> type:
    """The results class of analysis `name` in a run of these settings.json contents."""
    return results.results_type(name, settings.get("results", {}).get(name))


def read_results(out: str | epath.PathLike, name: str):
    """The typed per-example results of one finished analysis of a run directory:
    exactly the examples its summary describes, by their stored indices."""
    out = epath.Path(out)
    summary = read_summary(out)
    if summary is None:
        raise FileNotFoundError(f"{out} holds no finished analysis run (no summary.json)")
    if name not in summary:
        finished = sorted(set(summary) - {"model"})
        raise ValueError(f"{out} has no {name} results; it has {finished}")
    settings, examples = read_settings(out), summary[name]["examples"]
    cls = results_type(settings, name)
    identity = chunk_identity(settings["model"], name, settings["analyses"][name])
    parts = load_chunks(chunk_files(out / "chunks", name, examples), identity)
    return cls.from_arrays(join_chunks(parts, examples, *results.layout(cls)))
