"""The files of a run directory: chunk files written atomically, and joined by the
test indices they hold, never by position."""

from __future__ import annotations

import csv
import io

import numpy as np
from etils import epath


def chunk_start(path: epath.Path) -> int:
    """The first index of a chunk file, from its name `{name}_{start:09d}.npz`."""
    return int(path.stem.rsplit("_", 1)[1])


SHARED = ("epsilon",)  # arrays of a chunk that do not hold examples, unless an analysis says


def chunk_files(chunks: epath.Path, name: str, examples: int) -> list[epath.Path]:
    """The chunk files of one analysis that start within the first `examples`."""
    paths = chunks.glob(f"{name}_*.npz")
    return sorted((p for p in paths if chunk_start(p) < examples), key=chunk_start)


def load_chunks(paths: list[epath.Path]) -> list[dict[str, np.ndarray]]:
    parts = []
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run the analysis first")
        with path.open("rb") as f, np.load(f) as stored:
            parts.append({name: stored[name] for name in stored.files})
    return parts


def join_chunks(
    parts: list[dict], examples: int, per_epsilon: tuple[str, ...] = (),
    shared: tuple[str, ...] = SHARED,
) -> dict[str, np.ndarray]:  # fmt: skip
    """The chunks' results for exactly the examples 0..examples-1, selected and ordered
    by their stored `index` (never by position). Arrays named in `per_epsilon` hold
    examples on axis 1, those in `shared` (the grid, by default `epsilon`) are the same in
    every chunk and taken from the first, every other array holds examples on axis 0."""
    if not parts:
        raise FileNotFoundError("no chunk files: run the analysis first")
    rows = rows_of_examples(np.concatenate([part["index"] for part in parts]), examples)
    joined = {name: np.asarray(parts[0][name]) for name in shared if name in parts[0]}
    for name in parts[0]:
        if name not in shared:
            axis = 1 if name in per_epsilon else 0
            joined[name] = np.concatenate([part[name] for part in parts], axis).take(rows, axis)
    return joined


def rows_of_examples(index: np.ndarray, examples: int) -> np.ndarray:
    """Where each of the examples 0..examples-1 first appears in `index`, or an error
    naming the missing ones."""
    values, first = np.unique(index, return_index=True)
    wanted = values < examples
    if wanted.sum() != examples:
        missing = np.setdiff1d(np.arange(examples), values)
        raise ValueError(
            f"the chunk files lack examples {missing[:5].tolist()} (of {len(missing)} missing) "
            f"among the first {examples}: run again to compute them"
        )
    return first[wanted]


def check_rows(index: np.ndarray, examples: int, what: str) -> None:
    """Before a summary is written: its rows are exactly the examples 0..examples-1."""
    if not np.array_equal(index, np.arange(examples)):
        raise ValueError(
            f"the {what} results hold examples {index[:5].tolist()}... instead of exactly "
            f"0..{examples - 1}; not writing a summary of them"
        )


def stored_count(path: epath.Path, start: int) -> int:
    """How many examples from `start` on the chunk file holds (0 if there is none). The
    short last chunk of a smaller run holds fewer than a larger run needs: it is redone."""
    if not path.exists():
        return 0
    with path.open("rb") as f, np.load(f) as stored:
        index = stored["index"]
    return len(index) if np.array_equal(index, np.arange(start, start + len(index))) else 0


def save_npz(path: epath.Path, arrays: dict[str, np.ndarray]) -> None:
    """Written under a temporary name and renamed (replacing a short chunk being redone):
    a chunk file is complete or absent."""
    partial = path.parent / f".{path.name}.partial"
    with partial.open("wb") as f:
        np.savez(f, **arrays)
    partial.replace(path)


def write_atomically(path: epath.Path, text: str) -> None:
    partial = path.parent / f".{path.name}.partial"
    partial.write_text(text)
    partial.replace(path)


def write_table(path: epath.Path, rows: list[dict]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]) if rows else [])
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(path, text.getvalue())
