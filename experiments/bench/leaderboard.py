"""The leaderboard: one row per (model, preset, family, resolution), kept as
`leaderboard.json` (the reports' figures) and written out as `leaderboard.md`, one table
per preset, family and resolution, so that every row of a table was measured the same way.
A new report is added; a report of a model already there (same fingerprint, preset,
family and resolution) replaces its row. Both files are replaced atomically."""

from __future__ import annotations

import itertools

from etils import epath

from experiments.bench.report import Report, share
from experiments.results import percent
from experiments.runs import strict_json
from experiments.runs.chunk_files import write_atomically


def _key(report: Report) -> tuple:
    return (report.fingerprint, report.preset, report.family, report.resolution)


def read(path: str | epath.PathLike) -> list[Report]:
    """The reports of a leaderboard (its .json beside the .md), [] when there is none."""
    path = epath.Path(path).with_suffix(".json")
    if not path.exists():
        return []
    try:
        return [Report.from_dict(entry) for entry in strict_json.loads(path.read_text())]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is not a leaderboard of this version ({error}); move it "
                         "away or give another --leaderboard") from error  # fmt: skip


def add(report: Report, path: str | epath.PathLike) -> list[Report]:
    """Adds (or replaces) the report's row in the leaderboard at `path` (a .md file; the
    .json beside it holds the data) and returns every row."""
    path = epath.Path(path)
    reports = [entry for entry in read(path) if _key(entry) != _key(report)] + [report]
    data = strict_json.dumps([entry.to_dict() for entry in reports], indent=2)
    write_atomically(path.with_suffix(".json"), data + "\n")
    write_atomically(path, markdown(reports))
    return reports


def markdown(reports: list[Report]) -> str:
    """The leaderboard page: one table per (preset, family, resolution), best ensemble
    robust accuracy at the middle ε first."""
    lines = [
        "# Squiggles robustness leaderboard",
        "",
        "Written by `python -m experiments.bench`; docs/bench.md says what each column means."
        " Robust accuracies are ℓ2, over the same test examples for every row of a table,"
        " with exact 95 % intervals for the ensemble.",
    ]

    def group(report: Report) -> tuple:
        return (report.preset, report.family, report.resolution)

    for (preset, family, resolution), rows in itertools.groupby(
        sorted(reports, key=group), key=group
    ):
        rows = sorted(rows, key=lambda r: -r.pixel[len(r.pixel) // 2].ensemble.value)
        epsilons = [row.epsilon for row in rows[0].pixel]
        latent = rows[0].latent[len(rows[0].latent) // 2].epsilon
        lines += [
            "",
            f"## Preset `{preset}`: Squiggles {family}, R = {resolution}, "
            f"{rows[0].examples} test examples",
            "",
            "| model | clean | ROC-AUC | noise σ=0.1 | σ(x, 1 %) | Squiggles-C mCE | "
            + " | ".join(f"ensemble ε={e:g} (PGD)" for e in epsilons)
            + f" | latent ε={latent:g}: robust / real / excusable | off manifold |",
            "|---" * (8 + len(epsilons)) + "|",
        ]
        lines += [_row(report) for report in rows]
    return "\n".join(lines) + "\n"


def _row(report: Report) -> str:
    middle = report.pixel[len(report.pixel) // 2]
    latent = report.latent[len(report.latent) // 2]
    noise = report.noise_accuracy.get(0.1)
    cells = [
        f"{report.name}",
        f"{percent(report.clean_accuracy.value)} %",
        f"{report.roc_auc:.3f}",
        share(noise),
        "n/a" if report.median_sigma_1pct is None else f"{report.median_sigma_1pct:.3g}",
        share(report.mce),
        *(f"{row.ensemble.text()} ({percent(row.pgd)} %)" for row in report.pixel),
        f"{percent(latent.robust.value)} / {percent(latent.real)} / {percent(latent.excusable)} %",
        share(middle.off_manifold),
    ]
    return "| " + " | ".join(cells) + " |"
