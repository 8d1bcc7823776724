"""The Squiggles-C evaluation of a trained run as a chunked run of the analysis
`squiggles_c` (`experiments.runs.runner`): locked, resumable chunk by chunk, refused on
a directory of another model or settings. Its rows go to `corruption_report`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ml_collections
from etils import epath

from experiments.evaluation.corruption_report import rows_of
from experiments.results import CorruptionResults
from experiments.runs import runner
from experiments.training import trained_run
from squiggles import corruptions
from squiggles.splits import DATA_SEED

ANALYSIS = "squiggles_c"  # the analysis module that computes the chunks
CHUNK_SIZE = 250  # test examples per saved chunk (each corrupted every way), and the batch


def run_config(
    names: Sequence[str], severities: Sequence[int], examples: int, chunk_size: int = CHUNK_SIZE
) -> ml_collections.ConfigDict:
    """The chunked-run config of an evaluation: the analysis `squiggles_c` alone."""
    config = ml_collections.ConfigDict()
    config.analyses = (ANALYSIS,)
    config.examples = examples
    config.chunk_size = chunk_size
    config[ANALYSIS] = ml_collections.ConfigDict(
        {"corruptions": tuple(names), "severities": tuple(severities)}
    )
    return config


def evaluation_data(config: ml_collections.ConfigDict, family: str | None, examples: int) -> dict:
    """What a run's evaluation is measured on: the family of the test examples (its own,
    or `family`), the resolution, the data seed and the number of examples."""
    tested = trained_run.family_for(config, family)
    return {"family": str(tested), "resolution": config.resolution, "seed": DATA_SEED,
            "examples": examples}  # fmt: skip


def corruption_run(
    out: str | epath.PathLike,
    workdir: str,
    examples: int,
    names: Sequence[str],
    severities: Sequence[int] = corruptions.SEVERITIES,
    *,
    family: str | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> runner.ChunkedRun:
    """The resumable run of the evaluation in `out` (checked against the directory,
    nothing written yet): the model in `workdir` on its own family's test examples, or
    on `family`'s."""
    config = run_config(names, severities, examples, chunk_size)
    return runner.ChunkedRun(out, workdir, config, family=family)


def evaluate_corruptions(
    run: runner.ChunkedRun, log: Callable[[str], None] = runner.log_line
) -> list[dict]:
    """Rows (corruption, category, severity, examples, accuracy, error) of the run's
    first `examples` test examples, severity 0 being the clean images: the chunks it
    lacks are computed (a chunk already there is kept), under the directory's lock."""
    run.run(log)
    return rows_of(CorruptionResults.from_arrays(run.results(ANALYSIS)))


def run_data(run: runner.ChunkedRun) -> dict:
    """`evaluation_data` of a run as it was loaded."""
    return evaluation_data(run.model.config, run.test_family, run.config.examples)
