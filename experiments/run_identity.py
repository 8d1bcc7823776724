"""What a run directory holds results of: the model (by the fingerprint of its weights)
and each analysis's settings, recorded in settings.json and checked before any work."""

from __future__ import annotations

import json

from etils import epath

from experiments.chunk_files import write_atomically


def check_identity(path: epath.Path, identity: dict) -> None:
    """Refuses a run directory that holds results of another model (by the fingerprint
    of its weights, whatever its path and step), or of other settings of an analysis
    run now. Another analysis may join a directory. Writes nothing."""
    if not path.exists():
        return
    stored = json.loads(path.read_text())
    if "analyses" not in stored:
        raise ValueError(
            f"{path.parent} holds results in the layout of an older version (before "
            "experiments.analyse); use a new --out"
        )
    identity = json.loads(json.dumps(identity))
    _check_fingerprint(path, identity["model"], stored["model"], "fingerprint", "workdir")
    for name, settings in identity["analyses"].items():
        held = stored["analyses"].get(name)
        for key in [k for k in settings if k.endswith("_fingerprint")]:
            role = key.removesuffix("_fingerprint")
            if held is not None:
                _check_fingerprint(path, settings, held, key, role)
    differing = [f"model.{k}" for k in _differing(identity["model"], stored["model"])]
    if identity["chunk_size"] != stored["chunk_size"]:
        differing.append("chunk_size")
    for name, settings in identity["analyses"].items():
        if name in stored["analyses"]:
            differing += [f"{name}.{k}" for k in _differing(settings, stored["analyses"][name])]
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


def _differing(current: dict, stored: dict) -> list[str]:
    return sorted(k for k in current.keys() | stored.keys() if stored.get(k) != current.get(k))


def write_identity(path: epath.Path, identity: dict) -> None:
    """Checks the directory again (under its lock, now) and records the identity, with
    the analyses run before in it."""
    check_identity(path, identity)
    stored = json.loads(path.read_text()) if path.exists() else {"analyses": {}}
    merged = {**identity, "analyses": {**stored["analyses"], **identity["analyses"]}}
    write_atomically(path, json.dumps(merged, indent=2))
