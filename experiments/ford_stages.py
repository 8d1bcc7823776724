"""The Ford et al. analyses as one run of three stages into one directory, for
`experiments.noise_analysis` (the binary) and for tests: each stage is a
`runs.ChunkedRun` of `experiments.analyse`, with its own number of examples."""

from __future__ import annotations

import ml_collections

from experiments import runs

# (analyses, the flag giving their number of examples), in the order they run: the
# summaries of later ones compare with the results of earlier ones.
STAGES = (
    (("ford_rates",), "examples"),
    (("ford_distance", "ford_latent"), "distance_examples"),
    (("ford_church",), "church_examples"),
)


def apply_flags(
    config: ml_collections.ConfigDict, sigmas: list[str] | None, samples: int | None,
    steps: int | None, noisy_points: int | None,
) -> None:  # fmt: skip
    """The common flags, written into every analysis that has the field."""
    if sigmas is not None:
        try:
            config.ford_rates.sigmas = tuple(float(s) for s in sigmas)
        except ValueError as error:
            raise ValueError(f"--sigmas must be numbers, got {sigmas}") from error
    if samples is not None:
        for name, field in (
            ("ford_rates", "samples"),
            ("ford_rates", "sigma_samples"),
            ("ford_latent", "samples"),
            ("ford_latent", "sigma_samples"),
        ):
            config[name][field] = samples  # fmt: skip
    if steps is not None:
        for name in ("ford_distance", "ford_latent", "ford_church"):
            config[name].steps = steps
    if noisy_points is not None:
        config.ford_distance.noisy_points = noisy_points


def stage_config(
    config: ml_collections.ConfigDict, names: tuple[str, ...], examples: int
) -> ml_collections.ConfigDict:
    """The run config of one stage: its analyses and their settings, `examples` images."""
    stage = ml_collections.ConfigDict()
    stage.analyses = names
    stage.examples = examples
    stage.chunk_size = config.chunk_size
    for name in names:
        stage[name] = config[name]
    return stage


def run_all(out: str, workdir: str, config: ml_collections.ConfigDict,
            examples: dict[str, int], log: runs.Log = runs.log_line) -> dict:  # fmt: skip
    """Every stage in order (each checked before any runs); the merged summary."""
    stages = [
        runs.ChunkedRun(out, workdir, stage_config(config, names, examples[flag]))
        for names, flag in STAGES
        if all(name in config.analyses for name in names) and examples[flag] > 0
    ]
    if not stages:
        raise ValueError(f"nothing to run: analyses {tuple(config.analyses)}, examples {examples}")
    summary = {}
    for stage in stages:
        summary = stage.run(log)
    return summary
