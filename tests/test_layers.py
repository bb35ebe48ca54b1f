"""The layers hold (docs/architecture.md, Layers): ``analysis`` never imports ``dashboard`` or
``streamlit``; pages use the dashboard's modules and ``analysis``'s public names only; no
module reaches into another module's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, imported names, line) of every import statement in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, [a.name for a in node.names], node.lineno))
    return found


def _files(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


@pytest.mark.parametrize("path", _files("analysis"), ids=lambda p: p.name)
def test_analysis_holds_no_ui(path):
    for module, _, line in _imports(path):
        top = module.split(".")[0]
        assert top not in ("dashboard", "streamlit", "plotly"), (
            f"{path.relative_to(REPO)}:{line} imports {module}")


@pytest.mark.parametrize("path", _files("analysis") + _files("dashboard"), ids=lambda p: p.name)
def test_no_private_names_across_modules(path):
    for module, names, line in _imports(path):
        if not module.startswith(("analysis", "dashboard")):
            continue
        if module.split(".")[-1].startswith("_"):
            continue  # an internal module exists to be shared
        folder = REPO.joinpath(*module.split("."))
        # from a package, an internal *module* (analysis.core._kernels) may be imported
        private = [n for n in names if n.startswith("_")
                   and not (folder / f"{n}.py").is_file()]
        assert not private, f"{path.relative_to(REPO)}:{line} imports {private} from {module}"


@pytest.mark.parametrize("path", _files("dashboard/app_pages"), ids=lambda p: p.name)
def test_pages_use_dashboard_modules_and_the_public_analysis_api(path):
    for module, names, line in _imports(path):
        where = f"{path.relative_to(REPO)}:{line}"
        assert not module.startswith("dashboard.app_pages"), f"{where}: a page imports a page"
        if module.startswith("analysis"):
            assert not any(part.startswith("_") for part in module.split(".")), where
            assert not any(n.startswith("_") for n in names), where


def test_the_command_line_is_above_both_packages():
    from importlib.metadata import entry_points

    scripts = {e.name: e.value for e in entry_points(group="console_scripts")}
    if "noiselens" in scripts:  # installed (editable or not)
        assert scripts["noiselens"] == "dashboard.cli:main"
    assert not (REPO / "analysis" / "cli.py").exists()


# -- the house by job (#27): sub-packages in floors, no circle -------------------------------
#: Each sub-package of ``analysis`` and what it may import of ``analysis`` (its floor and the
#: floors below). ``core`` is the ground floor: it imports nothing of ``analysis`` above it.
FLOORS = {
    "core": set(),
    "data": {"core"},
    "model": {"core", "data"},
    "annotators": {"core"},
    "signals": {"core", "data", "model"},
    "pipeline": {"core", "data", "model", "signals"},
    "multilabel_pipeline": {"core", "data", "model"},  # beside pipeline.py (#28)
    # annotators is floor 1: review (verdict consensus, #29) and export may use it
    "review": {"core", "data", "model", "annotators", "signals", "pipeline"},
    "export": {"core", "data", "model", "annotators", "signals", "pipeline", "review"},
}


def _room(module: str) -> str | None:
    """The sub-package (or top-level module) of an ``analysis`` module name."""
    parts = module.split(".")
    if parts[0] != "analysis" or len(parts) < 2:
        return None
    return parts[1]


def _analysis_graph() -> dict[str, set[str]]:
    """module -> the analysis modules it imports (anywhere in the file)."""
    graph = {}
    for path in _files("analysis"):
        rel = path.relative_to(REPO).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        targets = set()
        for module, names, _ in _imports(path):
            if not module.startswith("analysis"):
                continue
            for n in names or [""]:  # "from analysis.core import limits" names a module
                full = f"{module}.{n}" if n else module
                targets.add(full if (REPO / Path(*full.split("."))).with_suffix(".py").is_file()
                            else module)
        graph[name] = targets - {name}
    return graph


@pytest.mark.parametrize("room", sorted(FLOORS))
def test_each_sub_package_imports_only_its_floor_and_below(room):
    for module, targets in _analysis_graph().items():
        if _room(module) != room:
            continue
        for target in targets:
            other = _room(target)
            if other is None or other == room or other == "__init__":
                continue
            assert other in FLOORS[room], f"{module} (floor {room}) imports {target}"


def test_no_import_circle_in_analysis():
    """Depth-first search of the module graph (package __init__ files that only re-export
    the public API are left out: they import everything by design)."""
    graph = {m: {t for t in ts if t != "analysis"} for m, ts in _analysis_graph().items()
             if m != "analysis"}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                raise AssertionError("import circle: " + " -> ".join(path + [node, nxt]))
            if nxt in graph and not state.get(nxt):
                visit(nxt, path + [node])
        state[node] = 2

    for node in sorted(graph):
        if not state.get(node):
            visit(node, [])


# -- no function over 100 lines (#27) ----------------------------------------------------------
#: The longest a function in ``analysis/`` or ``dashboard/`` may be, in lines (``def`` to its
#: last line, docstring included): past it a function does the work of several.
MAX_FUNCTION_LINES = 100

def _long_functions() -> list[str]:
    """"path:name (lines)" of every function over :data:`MAX_FUNCTION_LINES`."""
    found = []
    for path in _files("analysis") + _files("dashboard"):
        rel = path.relative_to(REPO).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    found.append(f"{rel}:{node.name} ({lines} lines)")
    return found


def test_no_function_over_100_lines():
    long = _long_functions()
    assert not long, f"split by job (at most {MAX_FUNCTION_LINES} lines): {long}"

