"""The Ford et al. analyses as one run of three stages into one directory, for
`experiments.noise_analysis` (the binary) and for tests: each stage is a
`runner.ChunkedRun` of `experiments.analyse`, with its own number of examples."""

from __future__ import annotations

import ml_collections
from etils import epath

from experiments.runs import runner

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
    """The common flags, written into every analysis of the config that has the field."""
    fields = {}
    if sigmas is not None:
        try:
            fields["sigmas"] = {"ford_rates": tuple(float(s) for s in sigmas)}
        except ValueError as error:
            raise ValueError(f"--sigmas must be numbers, got {sigmas}") from error
    if samples is not None:
        fields["samples"] = fields["sigma_samples"] = dict.fromkeys(
            ("ford_rates", "ford_latent"), samples
        )
    if steps is not None:
        fields["steps"] = dict.fromkeys(("ford_distance", "ford_latent", "ford_church"), steps)
    if noisy_points is not None:
        fields["noisy_points"] = {"ford_distance": noisy_points}
    for field, values in fields.items():
        for name, value in values.items():
            if name in config.analyses:
                config[name][field] = value


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


def stage_configs(
    config: ml_collections.ConfigDict, examples: dict[str, int]
) -> list[ml_collections.ConfigDict]:
    """The run config of each stage, in order, with the analyses of `config` it holds;
    stages with no analysis named or no examples are left out."""
    chosen = [
        (tuple(name for name in names if name in config.analyses), examples[flag])
        for names, flag in STAGES
    ]
    return [stage_config(config, names, count) for names, count in chosen if names and count > 0]


def nothing_to_run(config: ml_collections.ConfigDict, examples: dict[str, int]) -> str:
    """Why no stage runs: no Ford analysis in the config (one made for experiments.analyse,
    say), or no examples for those it has."""
    ford = [name for names, _ in STAGES for name in names]
    if not set(ford) & set(config.analyses):
        return (
            f"nothing to run: the config holds none of the Ford analyses {ford}, only "
            f"{list(config.analyses)}: give a config of them, such as "
            "--config experiments/configs/analyses/tiny.py:ford at tiny sizes (the default "
            "is experiments/configs/analyses/ford.py, the paper's)"
        )
    return f"nothing to run: analyses {tuple(config.analyses)}, examples {examples}"


def run_all(out: str, workdir: str, config: ml_collections.ConfigDict,
            examples: dict[str, int], log: runner.Log = runner.log_line) -> dict:  # fmt: skip
    """Every stage in order (each checked before any runs); the merged summary."""
    path = epath.Path(out).expanduser().absolute()
    as_found = runner.found(path)
    with runner.left_as_found_on_error(path, as_found):
        stages = [
            runner.ChunkedRun(out, workdir, stage, as_found=as_found)
            for stage in stage_configs(config, examples)
        ]
    if not stages:
        raise ValueError(nothing_to_run(config, examples))
    summary = {}
    for stage in stages:
        summary = stage.run(log)
    return summary
