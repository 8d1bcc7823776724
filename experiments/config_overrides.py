"""`--config.<field>=value` overrides checked against the config before they are applied.

ml_collections answers an override naming no field (`--config.pixel.stpes=3`) with a
40-line traceback from inside flag parsing, which absl runs before `main()`, and, for a
--config with a default, even at import. `run(main)` parses the flags itself: an
override that names no field of the loaded config stops the binary with one line naming
it and the nearest fields, e.g.

    error: the config has no field 'pixel.stpes'; did you mean 'pixel.steps'?

and so does a config file that does not load (a traceback from ml_collections, too).

Binaries define --config with no default and give `run` the default instead, so that
the config is loaded (and checked) only while the flags are parsed.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import ml_collections
from absl import app, flags

# How many near names to offer, how alike (`_likeness`) a name must be to be offered,
# and how much less alike than the nearest one.
_SUGGESTIONS = 3
_CUTOFF = 0.6
_MARGIN = 0.1

# What holds fields: ConfigDicts (which are not Mappings) and plain dicts.
_GROUPS = (ml_collections.ConfigDict, Mapping)


class ConfigFlagError(Exception):
    """A config file that does not load, or an override naming no field of it. Not a
    ValueError: absl would turn it into its own multi-line flag error."""


def field_paths(config: Any, prefix: str = "") -> list[str]:
    """Every field of `config` as a dotted path, groups and the fields inside them."""
    paths = []
    for name in config.keys():
        path = f"{prefix}{name}"
        paths.append(path)
        if isinstance(config[name], _GROUPS):
            paths += field_paths(config[name], f"{path}.")
    return paths


def _likeness(name: str, candidate: str) -> float:
    """difflib's ratio of the two dotted names less the groups they share, so that a
    shared group (`model.` of `model.bogus` and `model.stem`) makes no likeness."""
    a, b = name.split("."), candidate.split(".")
    shared = 0
    while shared < min(len(a), len(b)) - 1 and a[shared] == b[shared]:
        shared += 1
    return difflib.SequenceMatcher(None, ".".join(a[shared:]), ".".join(b[shared:])).ratio()


def _most_alike(name: str, candidates: Iterable[str]) -> list[str]:
    """Up to _SUGGESTIONS candidates at least _CUTOFF alike `name`, and within _MARGIN
    of the most alike, best first."""
    scored = sorted(
        ((_likeness(name, candidate), candidate) for candidate in set(candidates)),
        key=lambda pair: (-pair[0], pair[1]),
    )
    if not scored:
        return []
    floor = max(_CUTOFF, scored[0][0] - _MARGIN)
    return [candidate for score, candidate in scored[:_SUGGESTIONS] if score >= floor]


def nearest_fields(path: str, paths: Sequence[str]) -> list[str]:
    """The fields whose dotted path is most like `path`; failing that, those whose own
    name is most like its last part (`learning_rat` → `optimizer.learning_rate`). A group
    that `path` already goes through is no suggestion."""
    paths = [candidate for candidate in paths if not path.startswith(f"{candidate}.")]
    close = _most_alike(path, paths)
    if close:
        return close
    names = _most_alike(path.rsplit(".", 1)[-1], (c.rsplit(".", 1)[-1] for c in paths))
    return [candidate for candidate in paths if candidate.rsplit(".", 1)[-1] in names][
        :_SUGGESTIONS
    ]


def _quoted_list(names: Sequence[str]) -> str:
    quoted = [f"'{name}'" for name in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def unknown_field_message(config: Any, path: str) -> str | None:
    """None when `path` names a field of `config` (or goes where this check cannot
    follow: an index, or a field without a value yet), else one line naming it and the
    nearest fields, or the fields there are when none is near."""
    if "[" in path:
        return None
    node: Any = config
    parts = path.split(".")
    for depth, part in enumerate(parts):
        if node is None:
            return None
        if not isinstance(node, _GROUPS):
            parent = ".".join(parts[:depth])
            return f"the config has no field '{path}': '{parent}' holds {node!r}, not fields"
        if part not in node:
            break
        node = node[part]
    else:
        return None
    message = f"the config has no field '{path}'"
    group = ".".join(parts[:depth])
    # Near names in the group the path reached first, then anywhere.
    near = nearest_fields(path, field_paths(node, f"{group}." if group else ""))
    near = near or nearest_fields(path, field_paths(config))
    if near:
        return f"{message}; did you mean {_quoted_list(near)}?"
    where = f"'{group}'" if group else "the config"
    return f"{message}; {where} has the fields {', '.join(node.keys())}"


def override_paths(argv: Sequence[str], name: str = "config") -> list[str]:
    """The fields that `--<name>.<field>=value` arguments set, in order (flag files
    expanded, as ml_collections reads them)."""
    pattern = re.compile(rf"^--?(?:no)?{re.escape(name)}\.([^=]+)")
    argv = flags.FLAGS.read_flags_from_files(list(argv), force_gnu=False)
    return [match.group(1) for arg in argv if (match := pattern.match(arg))]


def _load_error(config: Any) -> str | None:
    """Why a config file did not load, or None. ml_collections keeps that error in a
    stand-in config that raises it, as a traceback, on first use (in main)."""
    if isinstance(config, _GROUPS):
        return None
    error = getattr(config, "__dict__", {}).get("_error")
    if not isinstance(error, OSError):
        return None
    # Its message lists the paths tried, each with its reason: "[Errno 2] No such file ...".
    reason = str(error).strip().splitlines()[-1].strip()
    return re.sub(r"^\[Errno \d+\] ", "", reason).split(": ")[0]


class CheckedConfigParser:
    """Loads the config with ml_collections' own parser, then checks the overrides
    against it, before ml_collections applies them (which is where it fails)."""

    def __init__(self, parser: Any):
        self.wrapped = parser
        self.overrides: list[str] = []

    def parse(self, argument: Any) -> Any:
        config = self.wrapped.parse(argument)
        error = _load_error(config)
        if error is not None:
            raise ConfigFlagError(f"cannot load the config file {argument!r}: {error}")
        if isinstance(config, _GROUPS):
            for path in self.overrides:
                message = unknown_field_message(config, path)
                if message:
                    raise ConfigFlagError(message)
        return config

    def __getattr__(self, name: str) -> Any:
        # Everything else absl asks of a parser (flag_type, help), from the wrapped one.
        if name.startswith("__") or name == "wrapped":  # copying: not set up yet
            raise AttributeError(name)
        return getattr(self.wrapped, name)


def parse_flags(
    argv: list[str], default_config: str | None = None, name: str = "config"
) -> list[str]:
    """absl's flag parsing (`app.parse_flags_with_usage`), with --<name> overrides
    checked first; `default_config` becomes --<name>'s default. A config file that does
    not load, or an override naming no field, exits with status 1 and one `error:` line."""
    flag = flags.FLAGS[name]
    if not isinstance(flag.parser, CheckedConfigParser):
        flag.parser = CheckedConfigParser(flag.parser)
    try:
        flag.parser.overrides = override_paths(argv, name)
    except flags.Error:  # a --flagfile that cannot be read: absl reports it next
        flag.parser.overrides = []
    try:
        if default_config is not None:
            flags.FLAGS.set_default(name, default_config)  # loads it unless --config is given
        return app.parse_flags_with_usage(argv)
    except ConfigFlagError as error:
        sys.exit(f"error: {error}")


def run(main: Callable[[list[str]], None], default_config: str | None = None) -> None:
    """`app.run(main)` with the --config overrides checked (see `parse_flags`)."""
    app.run(main, flags_parser=lambda argv: parse_flags(argv, default_config))
