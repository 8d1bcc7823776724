"""Distance from test latents to the true decision boundary (the paper's Fig. 8).

For each latent, a targeted latent-space PGD toward the other class is run at each ε of
a grid, guided by a *navigator* classifier (which may be another model than the one
analysed, so the search does not share its errors). The grid estimate is the smallest
ε whose attacked latent has another true label. It is then refined by bisection on the
true label along the straight path from the latent to that attacked latent: the
refined distance is the norm of the first point found on the path whose label differs,
an upper bound on the true distance that is never above the grid estimate.

Runs are saved chunk by chunk like `experiments.attack_lib` runs, with the same rules:
chunks are joined by their stored indices, settings.json holds the fingerprints of the
analysed model and of the navigator, and a run holds its directory's lock.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Callable

import numpy as np
from etils import epath

import squiggles
from experiments import attack_lib, attacks, data
from experiments.locking import locked_directory
from squiggles_tfds.generation import chunk_starts
from squiggles_tfds.storage import ensure_writable_dir

GROUPS = ("all", "misclassified", "attack_succeeded")


@dataclasses.dataclass(frozen=True)
class BoundarySettings:
    """What a boundary run computes; all but `examples` define its saved chunks."""

    epsilons: tuple[float, ...] = attacks.DEFAULT_EPSILONS
    examples: int = 500
    chunk_size: int = 250
    steps: int = attacks.STEPS
    step_fraction: float = attacks.STEP_FRACTION
    bisection_steps: int = 20
    block: int = 10

    def __post_init__(self) -> None:
        # The attack settings check the shared fields and their messages.
        attack_lib.AttackSettings(
            attacks=("latent",), latent_epsilons=self.epsilons, examples=self.examples,
            chunk_size=self.chunk_size, steps=self.steps, step_fraction=self.step_fraction,
            block=self.block,
        )  # fmt: skip
        object.__setattr__(self, "epsilons", tuple(float(e) for e in self.epsilons))
        if self.bisection_steps < 0:
            raise ValueError(f"bisection_steps must be >= 0, got {self.bisection_steps}")

    def identity(self) -> dict:
        fields = dataclasses.asdict(self)
        del fields["examples"]
        return fields


def bisect_on_true_label(
    family: squiggles.Family, start: np.ndarray, end: np.ndarray, label: np.ndarray, steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """For each row, a point on the segment start → end whose true label differs from
    `label` (end's label must differ, start's must not), closest to start after `steps`
    halvings. Returns (fraction of the segment, point)."""
    start, end = np.asarray(start, np.float32), np.asarray(end, np.float32)
    low = np.zeros(len(start), np.float32)
    high = np.ones(len(start), np.float32)

    def along(fraction: np.ndarray) -> np.ndarray:
        return start + fraction.reshape((-1,) + (1,) * (start.ndim - 1)) * (end - start)

    for _ in range(steps):
        middle = (low + high) / 2
        changed = attacks.true_labels(along(middle), family) != label
        high = np.where(changed, middle, high)
        low = np.where(changed, low, middle)
    return high, along(high)


def grid_search(
    navigator, resolution: int, family: squiggles.Family, chunk: attack_lib.Chunk,
    settings: BoundarySettings, log: Callable[[str], None],
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Targeted latent PGD toward the other class at increasing ε until the true label
    changes. Returns the ε number where it first did (-1: never) and the attacked latent."""
    labels = chunk.labels
    found_at = np.full(len(labels), -1, np.int32)
    end = chunk.latents.copy()
    for k, epsilon in enumerate(settings.epsilons):
        todo = np.flatnonzero(found_at < 0)
        if not len(todo):
            break
        size = attack_lib.bucket(len(todo), settings.chunk_size)
        target = attack_lib.padded(1 - labels[todo].astype(np.int32), size)
        attacked = attack_lib.run_pgd(
            navigator, attack_lib.padded(chunk.latents[todo], size), target, epsilon,
            family=family, resolution=resolution, targeted=True, steps=settings.steps,
            step_fraction=settings.step_fraction, block=settings.block,
        )  # fmt: skip
        attacked = np.asarray(attacked)[: len(todo)]
        changed = attacks.true_labels(attacked, family) != labels[todo]
        found_at[todo[changed]] = k
        end[todo[changed]] = attacked[changed]
        log(f"  ε={epsilon:g}: attacked {len(todo)}, true label changed for {changed.sum()}")
    return found_at, end


def measure_chunk(
    analysed, navigator, navigator_resolution: int, family: squiggles.Family,
    chunk: attack_lib.Chunk, settings: BoundarySettings, log: Callable[[str], None],
) -> dict[str, np.ndarray]:  # fmt: skip
    found_at, end = grid_search(navigator, navigator_resolution, family, chunk, settings, log)
    found = found_at >= 0
    point = chunk.latents.copy()
    if found.any():
        _, point[found] = bisect_on_true_label(
            family, chunk.latents[found], end[found], chunk.labels[found], settings.bisection_steps
        )
    grid = np.asarray(settings.epsilons)
    return {
        "index": chunk.indices,
        "label": chunk.labels,
        "analysed_probability": attack_lib.probabilities(analysed, chunk.images),
        "found_at": found_at,
        "grid_distance": np.where(found, grid[found_at], np.inf),
        "refined_distance": np.where(found, attack_lib.norms(point - chunk.latents), np.inf),
        "boundary_point": point,
    }


def cumulative_fractions(distance: np.ndarray, epsilons) -> list[float]:
    """Fraction of samples whose distance is at most each ε (the curves of Fig. 8)."""
    if not len(distance):
        return [float("nan")] * len(epsilons)
    return [float(np.mean(distance <= epsilon)) for epsilon in epsilons]


def attack_successes(attack_results: str, epsilon: float, indices: np.ndarray) -> np.ndarray:
    """Which examples a pixel PGD at `epsilon` fooled (clean right, attacked wrong), read
    from the pixel.csv of an `experiments.attack` run on the analysed model."""
    path = epath.Path(attack_results) / "pixel.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run experiments.attack with pixel first")
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    grid = sorted({float(row["epsilon"]) for row in rows})
    if not any(np.isclose(e, epsilon) for e in grid):
        raise ValueError(f"{path} has no results at ε={epsilon}; it has {grid}")
    success = {
        int(row["index"]): row["clean_prediction"] == row["label_before"] != row["prediction"]
        for row in rows
        if np.isclose(float(row["epsilon"]), epsilon)
    }
    missing = [int(i) for i in indices if int(i) not in success]
    if missing:
        raise ValueError(f"{path} lacks examples {missing[:5]}...: attack as many examples")
    return np.array([success[int(i)] for i in indices])


def check_same_model(attack_results: str, identity: dict) -> None:
    """The 'attack succeeded' group must come from attacks on the analysed model itself."""
    path = epath.Path(attack_results) / "settings.json"
    recorded = json.loads(path.read_text()).get("fingerprint") if path.exists() else None
    if recorded is not None and recorded != identity["fingerprint"]:
        raise ValueError(
            f"{attack_results} holds attacks on model {recorded}, but the analysed model in "
            f"{identity['workdir']} has fingerprint {identity['fingerprint']}; pass the "
            f"--attack_results of an attack on {identity['workdir']}"
        )


class BoundaryRun:
    """An output directory like an attack run's: settings.json, chunks/, and then
    distances.csv and summary.json."""

    def __init__(
        self, out: str, workdir: str, settings: BoundarySettings, navigator: str | None = None
    ):
        self.out = ensure_writable_dir(out, "the boundary distances")
        self.settings = settings
        with self.locked():  # refuse at once, before loading, while another run writes here
            self.analysed, config, fingerprint = attack_lib.load_model(workdir)
            self.navigator, navigator_config, navigator_fingerprint = attack_lib.load_model(
                navigator or workdir
            )
            self.family, self.resolution = data.family_of(config), config.resolution
            self.navigator_resolution = navigator_config.resolution
            self.identity = {
                "workdir": str(epath.Path(workdir).expanduser().absolute()),
                "navigator": str(epath.Path(navigator or workdir).expanduser().absolute()),
                "fingerprint": fingerprint,
                "navigator_fingerprint": navigator_fingerprint,
                "family": str(self.family),
                **settings.identity(),
            }
            attack_lib.check_identity(self.out / "settings.json", self.identity)

    def locked(self):
        return locked_directory(self.out, "boundary distance run")

    def chunk_path(self, start: int) -> epath.Path:
        return self.out / "chunks" / f"boundary_{start:09d}.npz"

    def run(
        self,
        attack_results: str | None = None,
        attack_epsilon: float = 0.15,
        log: Callable[[str], None] = attack_lib.log_line,
    ) -> dict:
        """Computes the missing chunks, then writes and returns the summary, all under
        the directory's lock."""
        if attack_results:
            check_same_model(attack_results, self.identity)
        with self.locked():
            attack_lib.write_identity(self.out / "settings.json", self.identity)
            (self.out / "chunks").mkdir(exist_ok=True)
            return self._run(attack_results, attack_epsilon, log)

    def _run(
        self, attack_results: str | None, attack_epsilon: float, log: Callable[[str], None]
    ) -> dict:
        ranges = chunk_starts(self.settings.examples, self.settings.chunk_size)
        todo = [
            (start, count, held)
            for start, count in ranges
            if (held := attack_lib.stored_count(self.chunk_path(start), start)) < count
        ]
        progress = attack_lib.Progress(sum(count for _, count, _ in todo))
        for start, count, held in todo:
            chunk = attack_lib.Chunk.load(self.family, self.resolution, start, count)
            log(f"boundary: examples {start}..{start + count - 1}{attack_lib.redo_note(held)}")
            if held:
                attack_lib.forget_summary(self.out, ["distances.csv"], log)
            results = measure_chunk(
                self.analysed, self.navigator, self.navigator_resolution, self.family, chunk,
                self.settings, log,
            )  # fmt: skip
            attack_lib.save_npz(self.chunk_path(start), results)
            log(progress.line(count))
        return self.summarise(self.results(), attack_results, attack_epsilon)

    def results(self) -> dict[str, np.ndarray]:
        """The saved results of exactly the first `examples`, joined by index."""
        ranges = chunk_starts(self.settings.examples, self.settings.chunk_size)
        parts = attack_lib.load_chunks([self.chunk_path(start) for start, _ in ranges])
        return attack_lib.join_chunks(parts, self.settings.examples, per_epsilon=())

    def summarise(self, results: dict, attack_results: str | None, attack_epsilon: float) -> dict:
        attack_lib.check_rows(results["index"], self.settings.examples, "boundary")
        wrong = (results["analysed_probability"] > 0.5) != results["label"]
        groups = {"all": np.ones(len(wrong), bool), "misclassified": wrong}
        if attack_results:
            groups["attack_succeeded"] = attack_successes(
                attack_results, attack_epsilon, results["index"]
            )
        epsilons = self.settings.epsilons
        cdf = {
            group: {
                "examples": int(members.sum()),
                **{
                    kind: cumulative_fractions(results[f"{kind}_distance"][members], epsilons)
                    for kind in ("grid", "refined")
                },
            }
            for group, members in groups.items()
        }
        summary = {
            "model": self.identity,
            "examples": int(len(wrong)),
            "epsilons": list(epsilons),
            "attack_epsilon": attack_epsilon if attack_results else None,
            "boundary_found": float(np.mean(results["found_at"] >= 0)),
            "median_grid_distance": float(np.median(results["grid_distance"])),
            "median_refined_distance": float(np.median(results["refined_distance"])),
            "cumulative_fraction": cdf,
        }
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2))
        self._write_csv(results, groups)
        return summary

    def _write_csv(self, results: dict, groups: dict[str, np.ndarray]) -> None:
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(["index", "label", "analysed_prediction", *groups, "grid_distance",
                         "refined_distance"])  # fmt: skip
        for i, index in enumerate(results["index"]):
            writer.writerow([
                int(index), int(results["label"][i]),
                int(results["analysed_probability"][i] > 0.5),
                *(int(members[i]) for members in groups.values()),
                float(results["grid_distance"][i]), f"{float(results['refined_distance'][i]):.6g}",
            ])  # fmt: skip
        (self.out / "distances.csv").write_text(text.getvalue())
