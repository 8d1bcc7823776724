"""Squiggles-C evaluation of a trained run: accuracy on every corruption and severity
of the test stream, the mean over severities, and the corruption error relative to
a baseline model (ImageNet-C's CE and mCE; Hendrycks & Dietterich, 2019).

CE_c = Σ_s E_{c,s} / Σ_s E^base_{c,s} for corruption c over severities s, where E is
the error rate; relative CE_c subtracts each model's clean error first; mCE is the
mean of CE_c over corruptions. The noise-trained models see Gaussian noise in
training, so, as Ford et al. (2019, Section 6) do, the Gaussian-noise row is also
reported on its own and the mCE is given both with and without it.

The per-example results are computed by the analysis `squiggles_c` in a chunked run
(`experiments.evaluation.corruption_run`): locked, resumable chunk by chunk, refused on a
directory of another model or settings. This module makes the report from them and
imports no runner, so the analysis can use its summary. The report records the test
data it was measured on (family, resolution, seed, examples), so a baseline of other data
is refused, and its files are written together, each under a temporary name and renamed.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence

import numpy as np
from etils import epath

from experiments.results import CorruptionResults, percent
from experiments.runs import strict_json
from experiments.runs.chunk_files import table_text
from squiggles import corruptions
from squiggles.storage import ensure_writable_dir

CSV_FIELDS = ("corruption", "category", "severity", "examples", "accuracy", "error")
SEPARATE = "gaussian_noise"  # reported on its own, as Ford et al. do
DATA_KEYS = ("family", "resolution", "seed", "examples")  # what a report was measured on
REPORT_FILES = ("corruptions.csv", "corruptions.md", "corruptions.json", "corruptions.png")


def parse_corruptions(text: str) -> tuple[str, ...]:
    """'all', or names of corruptions and categories (noise, blur, digital, curve)."""
    expected = (
        f"'all', a category ({', '.join(corruptions.CATEGORIES)}) or one of "
        f"{', '.join(corruptions.CORRUPTIONS)}"
    )
    if not text.strip():
        raise ValueError(f"--corruptions is empty; expected {expected}, comma-separated")
    names: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        if item == "all":
            names += corruptions.CORRUPTIONS
        elif item in corruptions.CATEGORIES:
            names += corruptions.CATEGORIES[item]
        elif item in corruptions.TABLE:
            names.append(item)
        else:
            raise ValueError(f"unknown corruption {item!r} in --corruptions={text!r}; "
                             f"expected {expected}")  # fmt: skip
    return tuple(dict.fromkeys(names))


def parse_severities(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        values = ()
    if not values or any(v not in corruptions.SEVERITIES for v in values):
        raise ValueError(
            f"--severities takes integers from 1 to 5 separated by commas, got {text!r}"
        )
    return tuple(sorted(set(values)))


def category_of(name: str) -> str:
    return next(c for c, names in corruptions.CATEGORIES.items() if name in names)


# ---------------------------------------------------------------- the rows


def rows_of(results: CorruptionResults) -> list[dict]:
    """The report's rows from per-example results (`squiggles_c`'s), one per cell."""
    count = len(results.index)
    correct = results.correct.sum(axis=1)
    return [
        {
            "corruption": name,
            "category": "clean" if name == "clean" else category_of(name),
            "severity": severity,
            "examples": count,
            "accuracy": int(right) / count,
            "error": 1 - int(right) / count,
        }
        for (name, severity), right in zip(results.cells, correct, strict=True)
    ]


# ---------------------------------------------------------------- a baseline


def read_rows(directory: str | epath.PathLike) -> list[dict]:
    """The rows of an earlier evaluation's corruptions.csv, or a ValueError naming the
    file and what is wrong with it (a truncated or damaged file)."""
    path = epath.Path(directory) / "corruptions.csv"
    if not path.exists():
        raise FileNotFoundError(
            f"no corruptions.csv in {directory}: give --baseline the --out directory of an "
            f"earlier `experiments.evaluate --corruptions` run"
        )
    reader = csv.DictReader(io.StringIO(path.read_text()))
    if tuple(reader.fieldnames or ()) != CSV_FIELDS:
        raise ValueError(f"{path} is damaged: its header is {reader.fieldnames}, expected "
                         f"{','.join(CSV_FIELDS)}; evaluate the baseline again")  # fmt: skip
    rows = [_parsed(row, path, reader.line_num) for row in reader]
    if not rows:
        raise ValueError(f"{path} holds no rows; evaluate the baseline again")
    return rows


def _parsed(row: dict, path: epath.Path, line: int) -> dict:
    """A CSV row with its numbers read, or an error naming the file and line."""
    try:
        if None in row or any(row[field] in (None, "") for field in CSV_FIELDS):
            raise ValueError("it has missing or extra fields")
        parsed = {**row, "severity": int(row["severity"]), "examples": int(row["examples"]),
                  "accuracy": float(row["accuracy"]), "error": float(row["error"])}  # fmt: skip
    except ValueError as error:
        raise ValueError(
            f"{path} is truncated or damaged at line {line} ({error}): evaluate the baseline again"
        ) from None
    return parsed


def read_report(directory: str | epath.PathLike) -> tuple[list[dict], dict]:
    """The rows of an earlier evaluation and the test data it was measured on (from its
    corruptions.json), checked to agree with each other."""
    rows = read_rows(directory)
    path = epath.Path(directory) / "corruptions.json"
    try:
        summary = strict_json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read {path} ({error}): evaluate the baseline again") from None
    missing = [key for key in DATA_KEYS if key not in summary]
    if missing:
        raise ValueError(
            f"the baseline report {directory} does not record its test data "
            f"({', '.join(missing)}): it was written by an older version, so it cannot be "
            "checked against this evaluation; evaluate the baseline again"
        )
    held = sorted(_errors(rows))
    described = sorted([("clean", 0)] + [(n, s) for n in summary.get("corruptions", {})
                                         for s in summary.get("severities", [])])  # fmt: skip
    if held != described:
        raise ValueError(f"{directory}/corruptions.csv does not hold the cells its "
                         "corruptions.json describes (truncated?); evaluate the baseline "
                         "again")  # fmt: skip
    return rows, {key: summary[key] for key in DATA_KEYS}


def check_baseline(
    baseline: Sequence[dict],
    names: Sequence[str],
    severities: Sequence[int],
    examples: int,
    data: dict | None = None,
    baseline_data: dict | None = None,
) -> None:
    """A baseline report must hold every cell about to be evaluated (it may hold more:
    only these are compared), on as many examples, of the same test data: checked before
    the model is evaluated, not after."""
    _require_cells(_errors(baseline), [("clean", 0)] + [(n, s) for n in names for s in severities])
    counts = sorted({r["examples"] for r in baseline})
    if counts != [examples]:
        raise ValueError(
            f"the baseline was evaluated on {counts} examples, this evaluation uses "
            f"{examples}: mCE compares error rates on the same test examples"
        )
    if data is not None and baseline_data is not None:
        check_same_data(data, baseline_data)


def check_same_data(data: dict, baseline_data: dict) -> None:
    """The same family, resolution, seed and number of test examples, or an error
    naming each difference."""
    differing = [
        f"{key}: {baseline_data.get(key)} there, {data.get(key)} here"
        for key in DATA_KEYS
        if baseline_data.get(key) != data.get(key)
    ]
    if differing:
        raise ValueError(
            f"the baseline was evaluated on other test data ({'; '.join(differing)}): mCE "
            "compares error rates on the same test examples (give both models one --family)"
        )


def check_not_baseline(out: str | epath.PathLike, baseline: str | epath.PathLike) -> None:
    """--out must not be the baseline's directory (by any path): the report would
    replace the baseline's."""
    out, base = (epath.Path(p).expanduser().resolve() for p in (out, baseline))
    if out == base or (out.exists() and base.exists() and _same_file(out, base)):
        raise ValueError(
            f"--out {out} is the baseline's directory: its report would replace the "
            "baseline's; give another --out"
        )


def _same_file(a: epath.Path, b: epath.Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _require_cells(held: dict, wanted) -> None:
    missing = [cell for cell in wanted if cell not in held]
    if missing:
        raise ValueError(
            f"the baseline has no result for {missing[:3]}: evaluate it on the same "
            f"corruptions and severities"
        )


def _errors(rows: Sequence[dict]) -> dict[tuple[str, int], float]:
    return {(r["corruption"], r["severity"]): r["error"] for r in rows}


def cells_like(baseline: Sequence[dict], rows: Sequence[dict]) -> list[dict]:
    """The baseline's rows of the cells in `rows`, in their order: a baseline may hold
    more corruptions or severities than were evaluated."""
    by_cell = {(r["corruption"], r["severity"]): r for r in baseline}
    _require_cells(by_cell, [(r["corruption"], r["severity"]) for r in rows])
    return [by_cell[r["corruption"], r["severity"]] for r in rows]


# ---------------------------------------------------------------- the summary


def summarise(rows: Sequence[dict], baseline: Sequence[dict] | None = None) -> dict:
    """Per corruption: accuracy at each severity, their mean, and CE and relative CE
    against `baseline`; overall: clean and mean accuracy, mCE with and without the
    Gaussian-noise row, which is also reported on its own."""
    errors = _errors(rows)
    names = list(dict.fromkeys(r["corruption"] for r in rows if r["corruption"] != "clean"))
    severities = sorted({r["severity"] for r in rows if r["corruption"] != "clean"})
    base = _errors(baseline) if baseline is not None else None
    if base is not None:
        _require_cells(base, errors)
        counts = {r["examples"] for r in rows} | {r["examples"] for r in baseline}
        if len(counts) > 1:
            raise ValueError(
                f"the baseline was evaluated on another number of examples ({sorted(counts)}); "
                f"mCE compares error rates on the same test examples"
            )
    per_corruption = {}
    for name in names:
        own = [errors[name, s] for s in severities]
        entry = {
            "category": category_of(name),
            "accuracy": {s: 1 - errors[name, s] for s in severities},
            "mean_accuracy": 1 - float(np.mean(own)),
        }
        if base is not None:
            theirs = [base[name, s] for s in severities]
            entry["ce"] = _ratio(sum(own), sum(theirs))
            entry["relative_ce"] = _ratio(
                sum(e - errors["clean", 0] for e in own),
                sum(e - base["clean", 0] for e in theirs),
            )
        per_corruption[name] = entry
    summary = {
        "examples": rows[0]["examples"],
        "severities": severities,
        "clean_accuracy": 1 - errors["clean", 0],
        "mean_corruption_accuracy": float(
            np.mean([e["mean_accuracy"] for e in per_corruption.values()])
        ),
        "corruptions": per_corruption,
    }
    if SEPARATE in per_corruption:
        summary[SEPARATE] = per_corruption[SEPARATE]
    if base is not None:
        summary["baseline_clean_accuracy"] = 1 - base["clean", 0]
        for key in ("ce", "relative_ce"):
            values = {n: e[key] for n, e in per_corruption.items()}
            summary[f"m{key}"] = _mean(values.values())
            summary[f"m{key}_without_{SEPARATE}"] = _mean(
                v for n, v in values.items() if n != SEPARATE
            )
    return summary


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else math.nan


def _mean(values) -> float:
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan


def markdown(summary: dict, title: str) -> str:
    """The table: accuracy (%) per corruption and severity, the mean, CE and relative
    CE (%, when there is a baseline), then the overall figures."""
    severities = summary["severities"]
    has_base = "mce" in summary
    head = ["corruption", *(f"s{s}" for s in severities), "mean"] + (["CE", "rel. CE"] * has_base)
    lines = [f"# Squiggles-C: {title}", "",
             f"{summary['examples']:,} test examples per corruption and severity; accuracy in %.",
             "", "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]  # fmt: skip
    for name, entry in summary["corruptions"].items():
        cells = [name, *(percent(_at(entry["accuracy"], s)) for s in severities),
                 percent(entry["mean_accuracy"])]  # fmt: skip
        if has_base:
            cells += [percent(entry["ce"]), percent(entry["relative_ce"])]
        lines.append("| " + " | ".join(cells) + " |")
    mean = summary["mean_corruption_accuracy"]
    lines += ["", f"- clean accuracy: {percent(summary['clean_accuracy'], 2)} %",
              f"- mean accuracy over corruptions: {percent(mean, 2)} %"]  # fmt: skip
    if SEPARATE in summary:
        entry = summary[SEPARATE]
        text = f"- Gaussian noise on its own: mean accuracy {percent(entry['mean_accuracy'], 2)} %"
        if has_base:
            text += f", CE {percent(entry['ce'])} %"
        lines.append(text)
    if has_base:
        lines += [
            f"- baseline clean accuracy: {percent(summary['baseline_clean_accuracy'], 2)} %",
            f"- mCE: {percent(summary['mce'])} % (without Gaussian noise: "
            f"{percent(summary[f'mce_without_{SEPARATE}'])} %)",
            f"- relative mCE: {percent(summary['mrelative_ce'])} % (without Gaussian noise: "
            f"{percent(summary[f'mrelative_ce_without_{SEPARATE}'])} %)",
        ]
    return "\n".join(lines) + "\n"


def _at(by_severity: dict, severity: int) -> float:
    """A per-severity value of a summary, whether its keys are ints or (read back from
    JSON) strings."""
    return by_severity[severity] if severity in by_severity else by_severity[str(severity)]


# ---------------------------------------------------------------- the report


def write_report(
    rows: Sequence[dict],
    out: str | epath.PathLike,
    title: str,
    data: dict,
    baseline: Sequence[dict] | None = None,
    baseline_name: str | None = None,
) -> dict:
    """corruptions.csv, corruptions.md, corruptions.json (with the test data `data`
    they were measured on) and the heat map corruptions.png in `out`; returns the
    summary. Everything is made in memory first, then each file is written under a
    temporary name and the four are renamed together: a failure leaves the earlier
    report as it was, never a partial or mismatched one."""
    missing = [key for key in DATA_KEYS if key not in data]
    if missing:
        raise ValueError(f"the report's test data lacks {missing}")
    if baseline is not None:
        baseline = cells_like(baseline, rows)  # only the cells evaluated are compared
    summary = summarise(rows, baseline)
    summary.update(data)
    if baseline_name:
        summary["baseline"] = baseline_name
    out = ensure_writable_dir(out, "the corruption report")
    files = {
        "corruptions.csv": table_text(rows, CSV_FIELDS).encode(),
        "corruptions.md": markdown(summary, title).encode(),
        "corruptions.json": strict_json.dumps(summary, indent=2).encode(),
        "corruptions.png": _heat_map_png(summary, title, baseline),
    }
    write_together(out, files)
    return summary


def _heat_map_png(summary: dict, title: str, baseline: Sequence[dict] | None) -> bytes:
    from experiments.drawing.common import pyplot  # matplotlib only to write a report
    from experiments.drawing.corruptions import draw_heat_map

    figure = draw_heat_map(summary, title, baseline=summarise(baseline) if baseline else None)
    try:
        image = io.BytesIO()
        figure.savefig(image, format="png", dpi=100)
    finally:
        pyplot().close(figure)
    return image.getvalue()


def write_together(out: epath.Path, files: dict[str, bytes]) -> None:
    """Each file under a temporary name in `out`, then all renamed: on an error (a full
    disk) the temporary files are removed and the earlier files stay as they were."""
    partial = {name: out / f".{name}.partial" for name in files}
    try:
        for name, content in files.items():
            partial[name].write_bytes(content)
    except OSError as error:
        for path in partial.values():
            if path.exists():
                path.unlink()
        raise OSError(f"cannot write the corruption report to {out}: {error}") from error
    for name, path in partial.items():
        path.replace(out / name)
