"""The files of a run directory: chunk files written atomically, each carrying the
identity of what computed it, and joined by the test indices they hold, never by position."""

from __future__ import annotations

import csv
import dataclasses
import io
import zipfile
from collections.abc import Sequence

import numpy as np
from etils import epath

IDENTITY = "identity"  # the array of a chunk file holding its identity digest (a string)


def chunk_start(path: epath.Path) -> int:
    """The first index of a chunk file, from its name `{name}_{start:09d}.npz`."""
    return int(path.stem.rsplit("_", 1)[1])


SHARED = ("epsilon",)  # arrays of a chunk that do not hold examples, unless an analysis says


def chunk_files(chunks: epath.Path, name: str, examples: int) -> list[epath.Path]:
    """The chunk files of one analysis that start within the first `examples`."""
    paths = chunks.glob(f"{name}_*.npz")
    return sorted((p for p in paths if chunk_start(p) < examples), key=chunk_start)


class DamagedChunkError(ValueError):
    """A chunk file that cannot be read: chunk files are written atomically, so a damaged
    one was damaged or written by something else."""


class ForeignChunkError(ValueError):
    """A chunk file computed by another model or with other settings."""


def read_chunk(path: epath.Path) -> dict[str, np.ndarray]:
    """Every array of a chunk file, or a DamagedChunkError naming it."""
    try:
        with path.open("rb") as f, np.load(f) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except (zipfile.BadZipFile, EOFError, ValueError, KeyError, OSError) as error:
        if not path.exists():
            raise
        raise DamagedChunkError(
            f"{path} is damaged ({type(error).__name__}: {error}); chunk files are written "
            "atomically, so something else damaged or wrote it"
        ) from error
    if "index" not in arrays:
        raise DamagedChunkError(f"{path} holds no 'index' array: it is not a chunk file")
    return arrays


def check_chunk_identity(path: epath.Path, stored: str | None, identity: str | None) -> None:
    """Refuses a chunk whose recorded identity is not `identity` (None: not checked). A
    chunk written before chunks recorded one is accepted as the run directory's own."""
    if identity is not None and stored is not None and stored != identity:
        raise ForeignChunkError(
            f"{path} holds results of another model or other settings (computed as "
            f"{stored[:12]}, this run is {identity[:12]}); use a new --out, or remove that "
            "run's chunk files"
        )


def load_chunks(
    paths: list[epath.Path], identity: str | None = None
) -> list[dict[str, np.ndarray]]:
    """The arrays of each chunk file (without their identity), each checked to have been
    computed as `identity` when it is given."""
    parts = []
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run the analysis first")
        arrays = read_chunk(path)
        check_chunk_identity(path, _identity_of(arrays), identity)
        arrays.pop(IDENTITY, None)
        parts.append(arrays)
    return parts


def _identity_of(arrays: dict[str, np.ndarray]) -> str | None:
    return str(arrays[IDENTITY]) if IDENTITY in arrays else None


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


@dataclasses.dataclass(frozen=True)
class StoredChunk:
    """What a chunk file holds for a run: how many examples from its start (0: none, or
    not a run of consecutive indices from it), why it cannot be used, if it cannot, and
    the identity it records (None in a chunk written before chunks recorded one)."""

    held: int
    damage: str | None = None
    identity: str | None = None


def stored_chunk(path: epath.Path, start: int, identity: str | None = None) -> StoredChunk:
    """The chunk file at `path` as this run finds it. The short last chunk of a smaller run
    holds fewer examples than a larger run needs, and a damaged file none: both are redone.
    A chunk of another model or other settings is refused (ForeignChunkError), never
    redone over: it holds another run's results."""
    if not path.exists():
        return StoredChunk(0)
    try:
        arrays = read_chunk(path)
    except DamagedChunkError as error:
        return StoredChunk(0, str(error))
    recorded = _identity_of(arrays)
    check_chunk_identity(path, recorded, identity)
    index = arrays["index"]
    consecutive = np.array_equal(index, np.arange(start, start + len(index)))
    return StoredChunk(len(index) if consecutive else 0, identity=recorded)


def save_npz(path: epath.Path, arrays: dict[str, np.ndarray], identity: str | None = None) -> None:
    """Written under a temporary name and renamed (replacing a short chunk being redone):
    a chunk file is complete or absent. `identity` is stored beside the arrays."""
    if identity is not None:
        arrays = {**arrays, IDENTITY: np.asarray(identity)}
    partial = path.parent / f".{path.name}.partial"
    with partial.open("wb") as f:
        np.savez(f, **arrays)
    partial.replace(path)


def write_atomically(path: epath.Path, text: str) -> None:
    partial = path.parent / f".{path.name}.partial"
    partial.write_text(text)
    partial.replace(path)


def table_text(rows: list[dict], fields: Sequence[str] | None = None) -> str:
    """CSV text of `rows` with the columns `fields` (by default the first row's)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(fields or (rows[0] if rows else [])))
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def write_table(path: epath.Path, rows: list[dict]) -> None:
    write_atomically(path, table_text(rows))
