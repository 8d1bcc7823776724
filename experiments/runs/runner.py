"""One resumable run of analyses on a trained model: the only chunk loop.

A run directory holds:
  settings.json               the analysed model (path, step, fingerprint of its weights)
                              and the settings of each analysis run in it;
  chunks/{name}_{start}.npz   one analysis on test examples start.., with their indices;
  {name}.csv, summary.json    once every chunk of an analysis is there.

Each chunk is written under a temporary name and renamed, so an interrupted run resumes
with the chunks it has not done; a chunk holding fewer examples than the run now needs (the
short last chunk of a smaller run) is redone, and so is a damaged one (said on the console).
Results are joined by their stored test indices, never by position. A directory never mixes
two models (fingerprints) or two settings of one analysis: settings.json records them, and
every chunk file carries the digest of the model and settings that computed it, so a chunk
of another run is refused whatever settings.json says. A run holds an exclusive lock on the
directory while it works, checks everything before it writes anything, and a run refused
or stopped before its first chunk leaves the directory as it found it.

The analyses themselves are the modules of `experiments.analyses.registry`, each an
`experiments.analyses.contract.Analysis`; the chunk files are `experiments.runs.chunk_files`'s,
the identity checks `experiments.runs.identity`'s. settings.json also records each analysis's
results type, so that reading results (`experiments.runs.store`) needs no analysis.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any

import jax
import ml_collections
import numpy as np
from etils import epath

import squiggles
from experiments import checks
from experiments.analyses import registry
from experiments.analyses.contract import Analysis
from experiments.classifier import Classifier
from experiments.console import Progress
from experiments.locking import LOCK_FILE, lock_if_free, locked_directory
from experiments.results import layout
from experiments.runs import strict_json
from experiments.runs.chunk_examples import TestExamples
from experiments.runs.chunk_files import (
    check_rows,
    join_chunks,
    load_chunks,
    save_npz,
    stored_chunk,
    write_atomically,
    write_table,
)
from experiments.runs.fingerprint import model_fingerprint
from experiments.runs.identity import check_identity, chunk_identity, write_identity
from experiments.runs.store import read_summary
from experiments.training import data, trained_run
from squiggles.examples import chunk_starts
from squiggles.storage import ensure_writable_dir

log_line = functools.partial(print, flush=True)  # progress shows up at once in a log file
Log = Callable[[str], None]


# ---------------------------------------------------------------- models


@dataclasses.dataclass(frozen=True, eq=False)
class Model:
    """A trained model as an analysis sees it: its state, config and fingerprint."""

    workdir: str  # absolute
    state: Any
    config: ml_collections.ConfigDict
    fingerprint: str
    test_family: squiggles.Family | None = None  # when tested on another family's examples

    @property
    def family(self) -> squiggles.Family:
        """The family of the test examples: the model's own unless another was asked for."""
        return data.family_of(self.config) if self.test_family is None else self.test_family

    @property
    def resolution(self) -> int:
        return self.config.resolution

    @property
    def classifier(self) -> Classifier:
        """The model as every attack and analysis takes it (`experiments.classifier`)."""
        return trained_run.classifier(self.state)

    @property
    def source(self) -> str:
        """Where the model comes from, as error messages name it."""
        return self.workdir

    def identity(self) -> dict:
        return {
            "workdir": self.workdir,
            "step": int(self.state.step),
            "fingerprint": self.fingerprint,
            "family": str(self.family),
            "resolution": self.resolution,
            "noise": self.config.noise.to_dict(),
        }


@dataclasses.dataclass(frozen=True, eq=False)
class GivenModel:
    """Any model as an analysis sees it, made some other way than `experiments.train`
    (a user's JAX function or PyTorch module, `experiments.adapters`): the Classifier
    itself, the family and resolution of its test examples, and a fingerprint of its
    weights, which a run directory records so it never mixes two models' results."""

    source: str  # how the user named it (a model spec)
    classifier: Classifier
    fingerprint: str
    family: squiggles.Family
    resolution: int

    def identity(self) -> dict:
        return {
            "source": self.source,
            "fingerprint": self.fingerprint,
            "family": str(self.family),
            "resolution": self.resolution,
        }


AnyModel = Model | GivenModel
_LOADED = weakref.WeakValueDictionary()  # (fingerprint, step) -> a state in use


def load_model(workdir: str | epath.PathLike, family: str | None = None) -> Model:
    """The latest checkpoint of a training run. A state with the same weights and step
    that is still in use is returned instead of the new one, so that runs on one model in
    one process reuse its compiled attacks (a new state has new apply functions, which
    jax would compile everything for again). `family` names another family to test it on
    (with the paper's parameters; None: its own)."""
    state, config = trained_run.load_run(str(workdir))
    fingerprint = model_fingerprint(state)
    state = _LOADED.setdefault((fingerprint, int(state.step)), state)
    test_family = None if family is None else trained_run.family_for(config, family)
    workdir = str(epath.Path(workdir).expanduser().absolute())
    return Model(workdir, state, config, fingerprint, test_family)


# ---------------------------------------------------------------- what an analysis sees


@dataclasses.dataclass(frozen=True)
class Context:
    """Everything an analysis needs besides its test examples."""

    name: str
    model: AnyModel  # the analysed model
    settings: ml_collections.ConfigDict  # this analysis's, validated
    batch: int  # the largest batch to run: the run's chunk size
    out: epath.Path
    models: Mapping[str, AnyModel]  # other models the analysis names (e.g. a navigator)
    run_config: ml_collections.ConfigDict  # the whole run's: the analyses run with this one
    log: Log = log_line

    @property
    def family(self) -> squiggles.Family:
        return self.model.family

    @property
    def resolution(self) -> int:
        return self.model.resolution

    def key(self, examples: TestExamples, epsilon_number: int) -> jax.Array:
        """A key per (analysis, ε, chunk): results do not depend on which chunks ran before."""
        module = registry.load(self.name)
        key = jax.random.fold_in(jax.random.key(self.settings.seed), module.KEY_STREAM)
        return jax.random.fold_in(jax.random.fold_in(key, epsilon_number), examples.start)


# ---------------------------------------------------------------- a run


def check_config(config: ml_collections.ConfigDict) -> dict[str, Analysis]:
    """The analyses a run config names, each with its settings checked, or a clear error."""
    names = tuple(config.analyses)
    if not names or len(set(names)) != len(names):
        raise ValueError(f"analyses must name each analysis once, got {names}")
    for field in ("examples", "chunk_size"):
        checks.check_integer(config[field], field, 1)
    modules = {name: registry.load(name) for name in names}
    for name, module in modules.items():
        if name not in config:
            raise ValueError(f"the config has no settings for the analysis {name!r}")
        module.check(config[name])
    return modules


class ChunkedRun:
    """An output directory of analyses on one model. Constructing one loads the models
    and checks the directory against them and the settings without writing; `run`
    computes the missing chunks and the summaries under the directory's lock."""

    def __init__(
        self, out: str | epath.PathLike, workdir: str | GivenModel,
        config: ml_collections.ConfigDict, family: str | None = None, *,
        as_found: tuple[bool, set] | None = None,
    ):  # fmt: skip
        """`workdir`: a training run of `experiments.train`, or a `GivenModel`.
        `family`: test a training run on another family's examples (None: its own).
        `as_found`: `found(out)` before this run's part of a larger job began (the state
        a failure before the first result returns `out` to), if not now."""
        if isinstance(workdir, GivenModel) and family is not None:
            raise ValueError("a GivenModel carries its test family; do not give family too")
        self.modules = check_config(config)
        self.config = config
        self.test_family = family
        out = epath.Path(out).expanduser().absolute()
        self._found = as_found or found(out)
        with left_as_found_on_error(out, self._found):
            self.out = ensure_writable_dir(out, "the analysis results")
            with self.locked():  # refuse at once, before loading, while another run writes
                self._load_and_check(workdir)

    def _load_and_check(self, workdir: str | GivenModel) -> None:
        """Loads the models and checks the directory, the settings, the memory one chunk
        needs and the chunk files already there, all before anything is written."""
        config = self.config
        given = isinstance(workdir, GivenModel)
        self.model = workdir if given else load_model(workdir, self.test_family)
        self.models = {
            name: {
                role: load_model(path) if path else (workdir if given else load_model(workdir))
                for role, path in getattr(module, "models", lambda s: {})(config[name]).items()
            }
            for name, module in self.modules.items()
        }
        self.identity = {
            "model": self.model.identity(),
            "chunk_size": config.chunk_size,
            "analyses": {name: self._analysis_identity(name) for name in self.modules},
            "results": {name: module.RESULTS.__name__ for name, module in self.modules.items()},
        }
        self.chunk_ids = {
            name: chunk_identity(self.identity["model"], name, settings)
            for name, settings in self.identity["analyses"].items()
        }
        check_identity(self.out / "settings.json", self.identity, self.holds_results)
        for name, module in self.modules.items():
            if hasattr(module, "check_inputs"):
                module.check_inputs(self.context(name))
        TestExamples.check_fits(
            self.model.family, self.model.resolution, min(config.chunk_size, config.examples)
        )
        self._check_stored_chunks()

    def holds_results(self, name: str | None) -> bool:
        """Whether the directory holds chunks or a summary of analysis `name` (of any
        analysis when None)."""
        summary = read_summary(self.out) or {}
        pattern = f"{name}_*.npz" if name else "*.npz"
        held = any((self.out / "chunks").glob(pattern)) if (self.out / "chunks").exists() else False
        return held or (name in summary if name else bool(summary))

    def _check_stored_chunks(self) -> None:
        """Refuses chunk files of another model or other settings (each records the digest
        of what computed it), and chunks from before chunks recorded one when no
        settings.json vouches for them."""
        vouched = (self.out / "settings.json").exists()
        for name in self.modules:
            for start, _ in self._ranges():
                path = self.chunk_path(name, start)
                stored = stored_chunk(path, start, self.chunk_ids[name])
                if stored.held and stored.identity is None and not vouched:
                    raise ValueError(
                        f"{path} records no identity and {self.out} has no settings.json: "
                        "nothing says which model or settings computed it; use a new --out"
                    )

    def _analysis_identity(self, name: str) -> dict:
        module, settings = self.modules[name], self.config[name]
        added = getattr(module, "ADDED_SETTINGS", {})  # at these values, as before they were
        identity = {
            key: value
            for key, value in settings.to_dict().items()
            if key not in getattr(module, "SUMMARY_SETTINGS", ())
            and not (key in added and value == added[key])
        }
        for role, model in self.models[name].items():
            identity[role] = model.source
            identity[f"{role}_fingerprint"] = model.fingerprint
        return json.loads(json.dumps(identity))  # tuples as lists, like the stored file

    def locked(self):
        return locked_directory(self.out, "analysis run")

    def context(self, name: str, log: Log = log_line) -> Context:
        return Context(name, self.model, self.config[name], self.config.chunk_size, self.out,
                       self.models[name], self.config, log)  # fmt: skip

    def chunk_path(self, name: str, start: int) -> epath.Path:
        return self.out / "chunks" / f"{name}_{start:09d}.npz"

    def run(self, log: Log = log_line) -> dict:
        """Computes the missing chunks, then writes and returns the summary, all under
        the directory's lock."""
        with left_as_found_on_error(self.out, self._found), self.locked():
            write_identity(self.out / "settings.json", self.identity, self.holds_results)
            (self.out / "chunks").mkdir(exist_ok=True)
            self._compute(log)
            summary = self.summarise(log)
        log(f"wrote {self.out / 'summary.json'}")
        return summary

    def _compute(self, log: Log) -> None:
        ranges = self._ranges()
        work = [
            (start, count, name, stored)
            for start, count in ranges
            for name in self.modules
            if (stored := self._stored(name, start)).held < count
        ]
        done_before = len(ranges) * len(self.modules) - len(work)
        if done_before:
            log(f"resuming: {done_before} chunks already in {self.out / 'chunks'}")
        progress = Progress(sum(count for _, count, _, _ in work), unit="examples")
        examples = None
        for start, count, name, stored in work:
            if examples is None or examples.start != start:
                examples = TestExamples.load(self.model.family, self.model.resolution, start, count)
            log(f"{name}: examples {start}..{start + count - 1}{redo_note(stored)}")
            if stored.held or stored.damage:
                forget_summary(self.out, name, log)
            began = time.perf_counter()
            results = self.modules[name].compute(self.context(name, log), examples)
            save_npz(self.chunk_path(name, start), results, self.chunk_ids[name])
            log(f"{name}: {count} examples in {time.perf_counter() - began:.1f} s")
            progress.advance(count)
            log(f"progress: {progress.done}/{progress.total} examples of this session's chunks, "
                f"{progress.rate_and_eta()}")  # fmt: skip

    def _stored(self, name: str, start: int):
        return stored_chunk(self.chunk_path(name, start), start, self.chunk_ids[name])

    def results(self, name: str) -> dict[str, np.ndarray]:
        """The results of an analysis on exactly the first `examples`, joined by index."""
        paths = [self.chunk_path(name, start) for start, _ in self._ranges()]
        parts = load_chunks(paths, self.chunk_ids[name])
        return join_chunks(parts, self.config.examples, *layout(self.modules[name].RESULTS))

    def _ranges(self) -> list[tuple[int, int]]:
        return chunk_starts(self.config.examples, self.config.chunk_size)

    def summarise(self, log: Log = log_line) -> dict:
        """Each analysis's summary and table from its joined chunks, merged into
        summary.json with those of analyses run before in this directory. Written after
        each analysis, so a later one can read an earlier one's results."""
        summary = read_summary(self.out) or {"model": self.identity["model"]}
        for name, module in self.modules.items():
            results = self.results(name)
            check_rows(results["index"], self.config.examples, name)
            typed = module.RESULTS.from_arrays(results)
            summary[name] = {
                "examples": self.config.examples,
                **module.summarise(typed, self.context(name, log)),
            }
            write_table(self.out / f"{name}.csv", module.table(typed, self.context(name, log)))
            write_atomically(self.out / "summary.json", strict_json.dumps(summary, indent=2))
        return summary


def redo_note(stored) -> str:
    if stored.damage:
        return f" (redoing it: {stored.damage})"
    return f" (redoing a chunk that held only {stored.held})" if stored.held else ""


def forget_summary(out: epath.Path, name: str, log: Log) -> None:
    """Removes an analysis's summary and table before one of its chunks is replaced, so
    that no summary ever describes other rows than the chunks hold."""
    removed = []
    summary = read_summary(out)
    if summary is not None and name in summary:
        del summary[name]
        write_atomically(out / "summary.json", strict_json.dumps(summary, indent=2))
        removed.append(f"the {name} summary")
    if (out / f"{name}.csv").exists():
        (out / f"{name}.csv").unlink()
        removed.append(f"{name}.csv")
    if removed:
        log(f"removed {' and '.join(removed)}: they described the replaced chunk")


def found(out: epath.Path) -> tuple[bool, set[epath.Path]]:
    """Whether `out` exists, and what it holds."""
    return (True, set(out.iterdir())) if out.exists() else (False, set())


@contextlib.contextmanager
def left_as_found_on_error(out: epath.Path, as_found: tuple[bool, set] | None = None):
    """On an error, removes what a run wrote into `out` before its first result (its
    settings.json, an empty chunks/, its lock file, and `out` itself when the run made
    it), so a refused run neither leaves a stray directory nor blocks the next run. A
    directory holding any result is never touched. `as_found`: `found(out)` when the
    run began, if before this block."""
    existed, before = as_found or found(out)
    try:
        yield
    except BaseException:
        _remove_unfinished(out, existed, before)
        raise


def _remove_unfinished(out: epath.Path, existed: bool, before: set) -> None:
    """Under the directory's lock, and only if no other run holds it (a run refused
    because another one works there leaves that run's files alone)."""
    if not out.exists():
        return
    with lock_if_free(out) as free:
        chunks = out / "chunks"
        held = (chunks.exists() and any(chunks.iterdir())) or (out / "summary.json").exists()
        if held or ((out / LOCK_FILE).exists() and not free):
            return  # results, or another run's directory: keep everything
        for path in (chunks, out / "settings.json", out / LOCK_FILE):
            if path not in before and path.exists():
                path.rmdir() if path.is_dir() else path.unlink()  # the lock file: still held
    if not existed and not any(out.iterdir()):
        out.rmdir()
