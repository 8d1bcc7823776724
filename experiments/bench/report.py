"""The bench's report: what one finished run directory says of a model, as a typed
object (`Report`), JSON and Markdown. It is read from the run's results through the
store (`experiments.runs.store`), so a report can be rebuilt from a directory at any time
without the model.

Definitions (docs/bench.md):
  robust (pixel)   right on the clean image and on every adversarial image an attack
                   found within ε (ensemble: survives all of its attacks);
  latent robust    right on the clean image and, after the latent attack, right against
                   the attacked curve's own true label (recomputed with Shapely);
  real             the model's class left the clean label while the true label stayed:
                   a genuine adversarial example;
  excusable        the model's class left the clean label and so did the true label:
                   the attack changed the curve's class, and the model followed it.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from etils import epath
from sklearn import metrics

import squiggles
from experiments.attacks.ford import clopper_pearson
from experiments.evaluation import corruption_report
from experiments.results import AttackResults, BoundaryResults, EnsembleResults, percent
from experiments.runs import store, strict_json

BASELINE_NAME = "cpu_taylor"  # the plain `cpu` model, the mCE's baseline


@dataclasses.dataclass(frozen=True)
class Interval:
    """A share of `examples` with its exact 95 % (Clopper–Pearson) interval."""

    value: float
    low: float
    high: float
    examples: int

    @classmethod
    def of(cls, hits: np.ndarray) -> Interval:
        hits = np.asarray(hits, bool)
        low, high = clopper_pearson(int(hits.sum()), len(hits))
        return cls(float(hits.mean()), float(low), float(high), len(hits))

    def text(self) -> str:
        return f"{percent(self.value)} % [{percent(self.low)}, {percent(self.high)}]"


@dataclasses.dataclass(frozen=True)
class PixelRow:
    """Pixel robustness at one ε: the ensemble, each of its attacks and PGD, and where the
    ensemble's adversarial images lie."""

    epsilon: float
    ensemble: Interval
    by_attack: dict[str, float]
    pgd: float
    fooled: int  # examples the ensemble fooled (right before)
    off_manifold: float | None  # of those: the nearest curve keeps the label, model right
    on_manifold: float | None  # the nearest curve keeps the label, model wrong on it too
    class_change: float | None  # the nearest curve has the other label
    boundary_distance: float | None  # median latent distance to the true boundary of those


@dataclasses.dataclass(frozen=True)
class LatentRow:
    """Latent robustness at one ε, with every attacked latent relabelled."""

    epsilon: float
    robust: Interval  # against the recomputed true label
    robust_vs_clean_label: float  # what a benchmark without the truth would report
    real: float  # share of examples with a real adversarial example
    excusable: float  # share whose adversarial example changed the true label


@dataclasses.dataclass(frozen=True)
class Report:
    """A model's ground-truth robustness report (one run directory of the bench)."""

    model: str
    name: str
    fingerprint: str
    family: str
    resolution: int
    preset: str
    examples: int
    clean_accuracy: Interval
    roc_auc: float
    noise_accuracy: dict[float, float]  # σ → accuracy in Gaussian noise (mean over draws)
    median_sigma_1pct: float | None  # median σ(x, 1 %), misclassified clean images at 0
    corruption_accuracy: float  # Squiggles-C mean accuracy
    mce: float | None  # mCE against the plain `cpu` model, None without a baseline
    mce_note: str
    pixel: tuple[PixelRow, ...]
    latent: tuple[LatentRow, ...]
    median_boundary_distance: float  # over all examples (inf: no boundary found)

    @property
    def ensemble_at_most_pgd(self) -> bool:
        """Whether the ensemble is at least as strong as PGD at every ε."""
        return all(row.ensemble.value <= row.pgd for row in self.pixel)

    def summary_line(self) -> str:
        """One sentence a paper can quote."""
        middle = self.pixel[len(self.pixel) // 2]
        latent = self.latent[len(self.latent) // 2]
        off, mce = share(middle.off_manifold), share(self.mce)
        return (
            f"{self.name} on Squiggles {self.family} (R = {self.resolution}, {self.examples} "
            f"test examples, bench preset {self.preset}): clean accuracy "
            f"{self.clean_accuracy.text()}, ROC-AUC {self.roc_auc:.3f}; ℓ2 robust accuracy "
            f"{middle.ensemble.text()} at ε = {middle.epsilon:g} under the ensemble (PGD: "
            f"{percent(middle.pgd)} %), {off} of its adversarial images off the data "
            f"manifold; at latent ε = {latent.epsilon:g}, {percent(latent.real)} % real and "
            f"{percent(latent.excusable)} % excusable adversarial examples; Squiggles-C mCE "
            f"{mce}."
        )

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "ensemble_at_most_pgd": self.ensemble_at_most_pgd,
                "summary_line": self.summary_line()}  # fmt: skip

    def to_json(self) -> str:
        return strict_json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> Report:
        """A report from its JSON form (`to_dict`)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        data = {k: v for k, v in data.items() if k in fields}
        data["clean_accuracy"] = Interval(**data["clean_accuracy"])
        data["noise_accuracy"] = {float(k): v for k, v in data["noise_accuracy"].items()}
        data["pixel"] = tuple(
            PixelRow(**{**row, "ensemble": Interval(**row["ensemble"])}) for row in data["pixel"]
        )
        data["latent"] = tuple(
            LatentRow(**{**row, "robust": Interval(**row["robust"])}) for row in data["latent"]
        )
        return cls(**data)


def read(out: str | epath.PathLike, *, model: str, name: str, preset: str,
         baseline: str | epath.PathLike | None = None) -> Report:  # fmt: skip
    """The report of a finished bench run in `out`; `baseline`: a Squiggles-C run
    directory of the plain `cpu` model on the same family, resolution and at least as many
    test examples (None: no mCE)."""
    out = epath.Path(out)
    settings = store.read_settings(out)
    identity = settings["model"]
    ensemble: EnsembleResults = store.read_results(out, "ensemble")
    pgd: AttackResults = store.read_results(out, "pixel")
    latent: AttackResults = store.read_results(out, "latent")
    boundary: BoundaryResults = store.read_results(out, "boundary")
    summary = store.read_summary(out)
    labels = ensemble.label_before
    mce, mce_note, corruption_accuracy = _corruptions(out, identity, baseline)
    return Report(
        model=model, name=name, fingerprint=identity["fingerprint"],
        family=family_name(identity["family"]), resolution=int(identity["resolution"]),
        preset=preset,
        examples=len(labels), clean_accuracy=Interval.of(ensemble.clean_correct),
        roc_auc=_roc_auc(labels, ensemble.clean_probability),
        noise_accuracy={row["sigma"]: row["mean"]
                        for row in summary["ford_rates"]["accuracy_in_noise"]},
        median_sigma_1pct=summary["ford_rates"]["sigma_at_mu"]["median"],
        corruption_accuracy=corruption_accuracy, mce=mce, mce_note=mce_note,
        pixel=tuple(_pixel_rows(ensemble, pgd, boundary)),
        latent=tuple(_latent_rows(latent)),
        median_boundary_distance=float(np.median(boundary.refined_distance)),
    )  # fmt: skip


def family_name(recorded: str) -> str:
    """The name of a family a run records (`Taylor(order=7, …)` → `taylor`), or the
    record itself for a family with other parameters than the named one's."""
    for name in squiggles.FAMILIES:
        if str(squiggles.family_from_name(name)) == recorded:
            return name
    return recorded


def _roc_auc(labels: np.ndarray, probability: np.ndarray) -> float:
    if len(np.unique(labels)) < 2:
        return math.nan  # one class only: no ranking to measure
    return float(metrics.roc_auc_score(np.asarray(labels, int), probability))


def _pixel_rows(ensemble: EnsembleResults, pgd: AttackResults, boundary: BoundaryResults):
    if not np.array_equal(pgd.epsilon, ensemble.epsilon):
        raise ValueError(f"the pixel PGD ran at ε {list(pgd.epsilon)} and the ensemble at "
                         f"{list(ensemble.epsilon)}; the bench needs one grid")  # fmt: skip
    pgd_robust = pgd.clean_correct[None] & pgd.correct
    for k, epsilon in enumerate(ensemble.epsilon):
        fooled = ensemble.fooled[k]
        shares = {
            kind: (float(ensemble.kind_share(kind)[k]) if fooled.any() else None)
            for kind in ensemble.KINDS
        }
        distances = boundary.refined_distance[fooled]
        yield PixelRow(
            epsilon=float(epsilon),
            ensemble=Interval.of(ensemble.clean_correct & ensemble.correct[k]),
            by_attack={str(a): float(np.mean(ensemble.attack_robust(str(a))[k]))
                       for a in ensemble.attack},
            pgd=float(np.mean(pgd_robust[k])), fooled=int(fooled.sum()), **shares,
            boundary_distance=float(np.median(distances)) if len(distances) else None,
        )  # fmt: skip


def _latent_rows(latent: AttackResults):
    right_before = latent.clean_correct[None]
    moved = right_before & (latent.predicted != latent.label_before[None])
    for k, epsilon in enumerate(latent.epsilon):
        yield LatentRow(
            epsilon=float(epsilon),
            robust=Interval.of(right_before[0] & latent.correct[k]),
            robust_vs_clean_label=float(np.mean(right_before[0] & ~moved[k])),
            real=float(np.mean(moved[k] & ~latent.label_changed[k])),
            excusable=float(np.mean(moved[k] & latent.label_changed[k])),
        )


def _corruptions(out: epath.Path, identity: dict, baseline) -> tuple[float | None, str, float]:
    """(mCE, a note on it, mean corruption accuracy) of the run's Squiggles-C results,
    the mCE against `baseline`'s results on the same test examples."""
    own = store.read_results(out, "squiggles_c")
    rows = corruption_report.rows_of(own)
    plain = corruption_report.summarise(rows)
    if baseline is None:
        return None, "no baseline for this family and resolution", plain["mean_corruption_accuracy"]
    theirs = store.read_results(baseline, "squiggles_c")
    base_data = store.read_settings(baseline)["model"]
    for key in ("family", "resolution"):
        if str(identity[key]) != str(base_data[key]):
            return None, f"the baseline has another {key}", plain["mean_corruption_accuracy"]
    if len(theirs.index) < len(own.index):
        note = f"the baseline holds {len(theirs.index)} examples, fewer than {len(own.index)}"
        return None, note, plain["mean_corruption_accuracy"]
    base_rows = corruption_report.rows_of(_first(theirs, len(own.index)))
    summary = corruption_report.summarise(rows, corruption_report.cells_like(base_rows, rows))
    note = f"against {BASELINE_NAME} on the same {len(own.index)} test examples"
    return summary["mce"], note, summary["mean_corruption_accuracy"]


def _first(results, count: int):
    """Corruption results of the first `count` examples."""
    return dataclasses.replace(
        results, index=results.index[:count], label=results.label[:count],
        probability=results.probability[:, :count],
    )  # fmt: skip


def write(report: Report, out: str | epath.PathLike) -> None:
    """report.json and report.md in `out`."""
    out = epath.Path(out)
    (out / "report.json").write_text(report.to_json() + "\n")
    (out / "report.md").write_text(markdown(report))


def markdown(report: Report) -> str:
    """The report as a Markdown page."""
    attacks = list(report.pixel[0].by_attack)
    lines = [
        f"# Robustness report: {report.name}",
        "",
        report.summary_line(),
        "",
        f"Model `{report.model}` (fingerprint {report.fingerprint}); test examples 0–"
        f"{report.examples - 1} of Squiggles {report.family}, R = {report.resolution}; preset "
        f"`{report.preset}`. Intervals are exact 95 % (Clopper–Pearson) over the "
        f"{report.examples} examples.",
        "",
        "## Clean, noise and corruptions",
        "",
        f"- Clean accuracy {report.clean_accuracy.text()}, ROC-AUC {report.roc_auc:.4f}.",
        "- Accuracy in Gaussian noise: "
        + ", ".join(f"{percent(a)} % at σ = {s:g}" for s, a in report.noise_accuracy.items())
        + ".",
        f"- Median σ(x, 1 %): {_number(report.median_sigma_1pct)}.",
        f"- Squiggles-C mean accuracy {percent(report.corruption_accuracy)} %, mCE "
        f"{'n/a' if report.mce is None else percent(report.mce) + ' %'} ({report.mce_note}).",
        "",
        "## Pixel space (ℓ2)",
        "",
        "| ε | ensemble | " + " | ".join(attacks) + " | PGD | fooled | off manifold | "
        "on manifold | class change | median latent distance to the true boundary |",
        "|---" * (8 + len(attacks)) + "|",
    ]
    for row in report.pixel:
        lines.append(
            f"| {row.epsilon:g} | {row.ensemble.text()} | "
            + " | ".join(f"{percent(row.by_attack[a])} %" for a in attacks)
            + f" | {percent(row.pgd)} % | {row.fooled} | {share(row.off_manifold)} | "
            f"{share(row.on_manifold)} | {share(row.class_change)} | "
            f"{_number(row.boundary_distance)} |"
        )
    strength = "at least as strong as" if report.ensemble_at_most_pgd else "WEAKER than"
    lines += [
        "",
        f"The ensemble is {strength}"
        " PGD at every ε. Median latent distance to the true boundary over all examples: "
        f"{_number(report.median_boundary_distance)}.",
        "",
        "## Latent space (ℓ2, every attacked curve relabelled)",
        "",
        "| ε | robust (true label) | robust (clean label) | real | excusable |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {row.epsilon:g} | {row.robust.text()} | {percent(row.robust_vs_clean_label)} % | "
        f"{percent(row.real)} % | {percent(row.excusable)} % |"
        for row in report.latent
    ]
    return "\n".join(lines) + "\n"


def share(value: float | None) -> str:
    """A share as a percentage, "n/a" where there is none (nothing to take it of)."""
    return "n/a" if value is None else f"{percent(value)} %"


def _number(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "n/a" if value is None else "not found"
    return f"{value:.3g}"


def load(out: str | epath.PathLike) -> Report:
    """The report a bench run wrote into `out` (report.json)."""
    return Report.from_dict(strict_json.loads((epath.Path(out) / "report.json").read_text()))
