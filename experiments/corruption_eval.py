"""Squiggles-C evaluation of a trained run: accuracy on every corruption and severity
of the test stream, the mean over severities, and the corruption error relative to
a baseline model (ImageNet-C's CE and mCE; Hendrycks & Dietterich, 2019).

CE_c = Σ_s E_{c,s} / Σ_s E^base_{c,s} for corruption c over severities s, where E is
the error rate; relative CE_c subtracts each model's clean error first; mCE is the
mean of CE_c over corruptions. The noise-trained models see Gaussian noise in
training, so, as Ford et al. (2019, Section 6) do, the Gaussian-noise row is also
reported on its own and the mCE is given both with and without it.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable, Sequence

import jax
import numpy as np
from etils import epath

import squiggles
from experiments import metrics, parallel
from experiments.results import predicted
from squiggles import corruptions
from squiggles.storage import ensure_writable_dir

CSV_FIELDS = ("corruption", "category", "severity", "examples", "accuracy", "error")
SEPARATE = "gaussian_noise"  # reported on its own, as Ford et al. do
BATCH = 1000


def parse_corruptions(text: str) -> tuple[str, ...]:
    """'all', or names of corruptions and categories (noise, blur, digital, curve)."""
    names: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        if item == "all":
            names += corruptions.CORRUPTIONS
        elif item in corruptions.CATEGORIES:
            names += corruptions.CATEGORIES[item]
        elif item in corruptions.TABLE:
            names.append(item)
        else:
            raise ValueError(
                f"unknown corruption {item!r} in --corruptions={text!r}; expected 'all', a "
                f"category ({', '.join(corruptions.CATEGORIES)}) or one of "
                f"{', '.join(corruptions.CORRUPTIONS)}"
            )
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


def evaluate_corruptions(
    state,
    family: squiggles.Family,
    resolution: int,
    count: int,
    names: Sequence[str],
    severities: Sequence[int] = corruptions.SEVERITIES,
    *,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> list[dict]:
    """Rows (corruption, category, severity, examples, accuracy, error) for the first
    `count` test examples, severity 0 being the clean images. Each batch of clean
    examples is made once and corrupted every way."""
    if count < 1:
        raise ValueError(f"examples must be >= 1, got {count}")
    log = log or _print_now
    cells = [("clean", 0)] + [(name, s) for name in names for s in severities]
    correct = dict.fromkeys(cells, 0)
    began = time.perf_counter()
    data_mesh = parallel.mesh()
    state = jax.device_put(state, parallel.replicated(data_mesh))
    for start in range(0, count, BATCH):
        size = min(BATCH, count - start)
        clean = squiggles.generate_examples(
            family, size, seed=seed, stream=squiggles.TEST_STREAM, start=start,
            resolution=resolution,
        )  # fmt: skip
        stored = squiggles.dequantize(squiggles.quantize(np.asarray(clean.image)))
        for name, severity in cells:
            if name == "clean":  # as the dataset stores it, what severity 0 returns
                images = stored
            else:
                images = corruptions.corrupt_examples(clean, name, severity, seed=seed).image
            guess = predicted(metrics.sharded_probabilities(state, images, data_mesh))
            correct[name, severity] += int(np.sum(guess == clean.label))
        done = start + size
        elapsed = time.perf_counter() - began
        rate = done * len(cells) / elapsed
        eta = (count - done) * len(cells) / rate
        log(f"corruptions: {done:,}/{count:,} examples x {len(cells)} cells, "
            f"{rate:,.0f} images/s, ETA {eta:.0f} s")  # fmt: skip
    return [
        {
            "corruption": name,
            "category": "clean" if name == "clean" else category_of(name),
            "severity": severity,
            "examples": count,
            "accuracy": correct[name, severity] / count,
            "error": 1 - correct[name, severity] / count,
        }
        for name, severity in cells
    ]


def _print_now(line: str) -> None:
    print(line, flush=True)


def read_rows(directory: str | epath.PathLike) -> list[dict]:
    """The rows of an earlier evaluation's corruptions.csv."""
    path = epath.Path(directory) / "corruptions.csv"
    if not path.exists():
        raise FileNotFoundError(
            f"no corruptions.csv in {directory}: give --baseline the --out directory of an "
            f"earlier `experiments.evaluate --corruptions` run"
        )
    with path.open() as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["severity"], row["examples"] = int(row["severity"]), int(row["examples"])
        row["accuracy"], row["error"] = float(row["accuracy"]), float(row["error"])
    return rows


def check_baseline(
    baseline: Sequence[dict], names: Sequence[str], severities: Sequence[int], examples: int
) -> None:
    """A baseline report must hold every cell about to be evaluated, on as many examples:
    checked before the model is evaluated, not after."""
    _require_cells(_errors(baseline), [("clean", 0)] + [(n, s) for n in names for s in severities])
    counts = sorted({r["examples"] for r in baseline})
    if counts != [examples]:
        raise ValueError(
            f"the baseline was evaluated on {counts} examples, this evaluation uses "
            f"{examples}: mCE compares error rates on the same test examples"
        )


def _require_cells(held: dict, wanted) -> None:
    missing = [cell for cell in wanted if cell not in held]
    if missing:
        raise ValueError(
            f"the baseline has no result for {missing[:3]}: evaluate it on the same "
            f"corruptions and severities"
        )


def _errors(rows: Sequence[dict]) -> dict[tuple[str, int], float]:
    return {(r["corruption"], r["severity"]): r["error"] for r in rows}


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
        cells = [name, *(f"{100 * entry['accuracy'][s]:.1f}" for s in severities),
                 f"{100 * entry['mean_accuracy']:.1f}"]  # fmt: skip
        if has_base:
            cells += [_percent(entry["ce"]), _percent(entry["relative_ce"])]
        lines.append("| " + " | ".join(cells) + " |")
    mean = summary["mean_corruption_accuracy"]
    lines += ["", f"- clean accuracy: {100 * summary['clean_accuracy']:.2f} %",
              f"- mean accuracy over corruptions: {100 * mean:.2f} %"]  # fmt: skip
    if SEPARATE in summary:
        entry = summary[SEPARATE]
        text = f"- Gaussian noise on its own: mean accuracy {100 * entry['mean_accuracy']:.2f} %"
        if has_base:
            text += f", CE {_percent(entry['ce'])} %"
        lines.append(text)
    if has_base:
        lines += [
            f"- baseline clean accuracy: {100 * summary['baseline_clean_accuracy']:.2f} %",
            f"- mCE: {_percent(summary['mce'])} % (without Gaussian noise: "
            f"{_percent(summary[f'mce_without_{SEPARATE}'])} %)",
            f"- relative mCE: {_percent(summary['mrelative_ce'])} % (without Gaussian noise: "
            f"{_percent(summary[f'mrelative_ce_without_{SEPARATE}'])} %)",
        ]
    return "\n".join(lines) + "\n"


def _percent(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{100 * value:.1f}"


def write_report(
    rows: Sequence[dict],
    out: str | epath.PathLike,
    title: str,
    baseline: Sequence[dict] | None = None,
    baseline_name: str | None = None,
) -> dict:
    """corruptions.csv, corruptions.md, corruptions.json and the heat map
    corruptions.png in `out`; returns the summary."""
    summary = summarise(rows, baseline)
    if baseline_name:
        summary["baseline"] = baseline_name
    out = ensure_writable_dir(out, "the corruption report")
    with (out / "corruptions.csv").open("w") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    (out / "corruptions.md").write_text(markdown(summary, title))
    (out / "corruptions.json").write_text(json.dumps(summary, indent=2))
    from experiments.drawing.corruptions import draw_heat_map

    figure = draw_heat_map(summary, title, baseline=summarise(baseline) if baseline else None)
    figure.savefig(out / "corruptions.png", dpi=100)
    import matplotlib.pyplot as plt

    plt.close(figure)
    return summary
