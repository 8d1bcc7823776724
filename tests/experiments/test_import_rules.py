"""Which parts of `experiments/` may import which: reading results and drawing figures load
no analysis, attack or training code (nor flax, optax, orbax), and the modules of
`experiments` import each other without a cycle, counting imports inside functions and
modules named to `importlib.import_module` as a string."""

import ast
import json
import pathlib
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FORBIDDEN = ("flax", "optax", "orbax", "experiments.analyses", "experiments.attacks",
             "experiments.training")  # fmt: skip
READERS = ["experiments.runs.store", "experiments.results"] + [
    f"experiments.drawing.{path.stem}"
    for path in sorted((ROOT / "experiments" / "drawing").glob("*.py"))
    if path.stem != "__init__"
]


def modules_of(root: pathlib.Path, package: str) -> dict[str, pathlib.Path]:
    """{dotted name: file} of every module of `package` under `root` (a package by the
    name of the package, not of its __init__)."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported_modules(path: pathlib.Path, module: str, modules: set[str]) -> set[str]:
    """The modules of `modules` that `path` (module `module`) imports anywhere in it:
    `import a.b`; `from a import b` as the module `a.b` where there is one, else as `a`,
    with relative levels resolved; string literals given to `importlib.import_module`."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            names.update(
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            )
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(node.args[0].value)
    return (names & modules) - {module}


def import_graph(root: pathlib.Path, package: str) -> dict[str, set[str]]:
    """{module: the modules of `package` it imports}; a package's are its __init__'s."""
    modules = modules_of(root, package)
    return {
        module: imported_modules(path, module, set(modules)) for module, path in modules.items()
    }


def a_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph as a path (first module repeated at the end), or None."""
    state, stack = {}, []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                return stack[stack.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[module] = "done"
        stack.pop()
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_reading_results_and_drawing_load_no_analysis_attack_or_training():
    code = textwrap.dedent(f"""
        import importlib, json, sys
        loaded = {{}}
        for name in {READERS!r}:
            importlib.import_module(name)
            loaded[name] = sorted(m for m in sys.modules if m.startswith({FORBIDDEN!r}))
        print(json.dumps(loaded))
    """)  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=True)  # fmt: skip
    loaded = json.loads(done.stdout.splitlines()[-1])
    assert set(loaded) == set(READERS) and len(READERS) > 5
    assert {name: found for name, found in loaded.items() if found} == {}


def test_drawing_and_the_store_import_only_the_store_and_results():
    graph = import_graph(ROOT, "experiments")
    allowed = ("experiments.runs.", "experiments.results", "experiments.drawing")
    for module in READERS:
        assert all(t.startswith(allowed) for t in graph[module]), (module, graph[module])
    assert "experiments.runs.runner" not in set().union(*(graph[m] for m in READERS))


def test_analyses_import_the_store_never_the_runner():
    graph = import_graph(ROOT, "experiments")
    plugins = [m for m in graph if m.startswith("experiments.analyses.")]
    assert "experiments.analyses.registry" in plugins
    assert [m for m in plugins if "experiments.runs.runner" in graph[m]] == []


def test_the_modules_of_experiments_import_each_other_without_a_cycle():
    graph = import_graph(ROOT, "experiments")
    assert len(graph) > 50
    assert "experiments.analyses.pixel" in graph["experiments.analyses.registry"]
    assert a_cycle(graph) is None


@pytest.mark.parametrize("how", ["importlib", "package init", "inside a function"])
def test_a_cycle_is_found_however_it_is_imported(tmp_path, how):
    """The check itself: a cycle through importlib by name, through a package __init__
    that imports its submodules, or through an import inside a function."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.sub import b\n")
    imports = {
        "importlib": ("", "import importlib\nimportlib.import_module('pkg.a')\n"),
        "package init": ("from pkg.sub import c\n", "from pkg.sub import helper\n"),
        "inside a function": ("", "def f():\n    from pkg import a\n"),
    }[how]
    (package / "sub" / "__init__.py").write_text(imports[0])
    (package / "sub" / "b.py").write_text(
        imports[1] if how != "package init" else "import pkg.sub\n"
    )
    (package / "sub" / "c.py").write_text("import pkg.a\n")
    (package / "sub" / "helper.py").write_text("")
    graph = import_graph(tmp_path, "pkg")
    cycle = a_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1] and "pkg.a" in cycle
    (package / "a.py").write_text("")  # no way back: no cycle
    assert a_cycle(import_graph(tmp_path, "pkg")) is None


LEAVES = {"checks", "classifier", "config_overrides", "console", "locking", "parallel", "results"}
# What each part may import of `experiments` (docs/architecture.md, "What may import what").
ALLOWED = {
    "leaves": LEAVES,
    "training": LEAVES,
    "attacks": LEAVES,
    "runs.store": {"results", "runs.chunk_files", "runs.identity", "runs.strict_json"},
    "analyses": LEAVES
    | {"attacks", "evaluation", "runs.chunk_examples", "runs.store", "runs.strict_json"},
    "drawing": {"results", "runs.store", "runs.strict_json"},
    "adapters": LEAVES | {"training", "runs.fingerprint"},
    "bench": LEAVES
    | {"adapters", "analyses.registry", "attacks", "drawing", "evaluation", "runs", "training"},
}


def part_of(module: str) -> str:
    """The part of docs/architecture.md a module of `experiments` belongs to."""
    name = module.removeprefix("experiments.")
    if name in LEAVES:
        return "leaves"
    return "runs.store" if name == "runs.store" else name.split(".")[0]


def test_each_part_imports_only_what_the_architecture_allows():
    graph = import_graph(ROOT, "experiments")
    wrong = {}
    for module, targets in graph.items():
        allowed = ALLOWED.get(part_of(module))
        if allowed is None:
            continue
        for target in targets:
            name = target.removeprefix("experiments.")
            inside = part_of(target) == part_of(module)
            if not inside and name not in allowed and name.split(".")[0] not in allowed:
                wrong.setdefault(module, []).append(target)
    assert wrong == {}
    assert {"experiments.attacks.pgd", "experiments.training.trainer"} <= set(graph)
