"""What a run directory holds results of: the model (by the fingerprint of its weights)
and each analysis's settings, recorded in settings.json and checked before any work, and
in every chunk file as a digest (`chunk_identity`), so a chunk is never taken for another
model's or other settings' results whatever settings.json says."""

from __future__ import annotations

import hashlib
import json

from etils import epath

from experiments.runs.chunk_files import write_atomically

# Where a model was read from names it for people; the fingerprint of its weights is its
# identity. A model reached by another path (a copy, a symlink) is the same model.
# Where the model was found (a training run's directory, or a model spec): a model is its
# fingerprint, so the same weights found elsewhere still resume a run.
PATH_KEYS = ("workdir", "source")


def _paths(settings: dict) -> set[str]:
    """The keys of an analysis's identity that hold another model's path (a role whose
    fingerprint is recorded beside it as `{role}_fingerprint`)."""
    return {key.removesuffix("_fingerprint") for key in settings if key.endswith("_fingerprint")}


def chunk_identity(model: dict, name: str, settings: dict) -> str:
    """SHA-256 (hex) of everything an analysis's per-example results depend on: the
    weights' fingerprint, the family and resolution of the test images, the analysis and
    its settings (other models by their fingerprints, never their paths)."""
    content = {
        "fingerprint": model["fingerprint"],
        "family": model["family"],
        "resolution": model["resolution"],
        "analysis": name,
        "settings": {k: v for k, v in settings.items() if k not in _paths(settings)},
    }
    text = json.dumps(json.loads(json.dumps(content)), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def check_identity(path: epath.Path, identity: dict, holds_results=lambda name: True) -> None:
    """Refuses a run directory that holds results of another model (by the fingerprint
    of its weights, whatever its path and step), or of other settings of an analysis
    run now. Another analysis may join a directory. `holds_results(name)` says whether
    the directory holds any result of analysis `name` (None: of any analysis); settings
    of an analysis with none (a run refused or stopped before its first chunk) bind
    nothing. Writes nothing."""
    if not path.exists():
        return
    stored = json.loads(path.read_text())
    if "analyses" not in stored:
        raise ValueError(
            f"{path.parent} holds results in the layout of an older version (before "
            "experiments.analyse); use a new --out"
        )
    identity = json.loads(json.dumps(identity))
    if not holds_results(None):
        return
    where = "workdir" if "workdir" in identity["model"] else "source"
    _check_fingerprint(path, identity["model"], stored["model"], "fingerprint", where)
    for name, settings in identity["analyses"].items():
        held = stored["analyses"].get(name)
        for key in [k for k in settings if k.endswith("_fingerprint")]:
            role = key.removesuffix("_fingerprint")
            if held is not None and holds_results(name):
                _check_fingerprint(path, settings, held, key, role)
    ignored = set(PATH_KEYS)
    differing = [f"model.{k}" for k in _differing(identity["model"], stored["model"], ignored)]
    if identity["chunk_size"] != stored["chunk_size"]:
        differing.append("chunk_size")
    for name, settings in identity["analyses"].items():
        if name in stored["analyses"] and holds_results(name):
            paths = _paths(settings) | _paths(stored["analyses"][name])
            differing += [
                f"{name}.{k}" for k in _differing(settings, stored["analyses"][name], paths)
            ]
    if differing:
        raise ValueError(
            f"{path.parent} holds results of another run (differs in {', '.join(differing)}); "
            "use a new --out directory or the same settings"
        )


def _check_fingerprint(path: epath.Path, current: dict, held: dict, key: str, role: str) -> None:
    if held.get(key) != current[key]:
        raise ValueError(
            f"the model in {current[role]} has fingerprint {current[key]}, but "
            f"{path.parent} holds results of model {held.get(key)}; use a new --out"
        )


def _differing(current: dict, stored: dict, ignored: set[str] = frozenset()) -> list[str]:
    keys = (current.keys() | stored.keys()) - ignored
    return sorted(k for k in keys if stored.get(k) != current.get(k))


def write_identity(path: epath.Path, identity: dict, holds_results=lambda name: True) -> None:
    """Checks the directory again (under its lock, now) and records the identity, with
    the analyses run before in it that hold results (and their results types, under
    `results`, which no check compares: a digest depends on none of them)."""
    check_identity(path, identity, holds_results)
    stored = json.loads(path.read_text()) if path.exists() else {"analyses": {}}
    kept = {name: s for name, s in stored.get("analyses", {}).items() if holds_results(name)}
    merged = {**identity, "analyses": {**kept, **identity["analyses"]}}
    types = {name: t for name, t in stored.get("results", {}).items() if name in kept}
    if types or "results" in identity:
        merged["results"] = {**types, **identity.get("results", {})}
    write_atomically(path, json.dumps(merged, indent=2))
