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
