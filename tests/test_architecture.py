"""The layering of the packages, read from the source with ``ast`` (nothing is imported).

- No import cycle among the modules of theory, perturbation_learning, checks, reporting and tools,
  counting imports inside functions too (a late import hides a cycle from the interpreter, not
  from the design).
- ``theory`` imports nothing from ``perturbation_learning``; within ``perturbation_learning`` only
  ``validation.py`` imports ``theory.validation`` (every other module checks its inputs through it).
- The core procedure never imports its sub-commands (``perturbation_learning.commands``), so it reads
  on its own.
- Every module has at most 400 lines.

Each rule is also run on a planted violation, so that a rule that cannot fail would show.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("theory", "perturbation_learning", "checks", "reporting", "tools")
COMMANDS = "perturbation_learning.commands"
CLI = f"{COMMANDS}.cli"
MAX_LINES = 400


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, name: str, is_package: bool, known: set[str]) -> set[str]:
    """The modules of ``known`` that module ``name`` imports anywhere in ``source``; ``from P import
    x`` counts as an import of ``P.x`` where that is a module, else of ``P``."""
    package = name if is_package else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # ``import a.b.c`` of a package a.b: the longest known prefix
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def import_graph(root: Path = ROOT, packages=PACKAGES) -> dict[str, set[str]]:
    files = {module_name(p, root): p for pkg in packages for p in sorted((root / pkg).rglob("*.py"))}
    known = set(files)
    return {name: imported_modules(path.read_text(), name, path.name == "__init__.py", known)
            for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first = last), or None."""
    state: dict[str, int] = {}  # 1 on the DFS stack, 2 done
    stack: list[str] = []

    def visit(node: str):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def layering_violations(graph: dict[str, set[str]]) -> list[str]:
    out = []
    for mod, deps in graph.items():
        for dep in deps:
            if mod.split(".")[0] == "theory" and dep.split(".")[0] == "perturbation_learning":
                out.append(f"{mod} imports {dep}: theory must not import perturbation_learning")
            if (mod.startswith("perturbation_learning") and mod != "perturbation_learning.validation"
                    and dep == "theory.validation"):
                out.append(f"{mod} imports theory.validation: use perturbation_learning.validation")
            in_commands = mod == COMMANDS or mod.startswith(COMMANDS + ".")
            if (mod.startswith("perturbation_learning") and not in_commands and mod != "perturbation_learning.__main__"
                    and (dep == COMMANDS or dep.startswith(COMMANDS + "."))):
                out.append(f"{mod} imports {dep}: the core must not import its commands")
    return sorted(out)


def long_modules(root: Path = ROOT, packages=PACKAGES, limit: int = MAX_LINES) -> dict[str, int]:
    counts = {str(p.relative_to(root)): len(p.read_text().splitlines())
              for pkg in packages for p in (root / pkg).rglob("*.py")}
    return {path: n for path, n in sorted(counts.items()) if n > limit}


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_the_graph_sees_late_and_relative_imports(graph):
    assert f"{COMMANDS}.decision_map" in graph[CLI]
    assert "theory.direction" in graph["perturbation_learning.run"]  # imported inside measure()
    assert "theory.model" in graph["theory.conditions"]


def test_no_import_cycle(graph):
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_nothing_imports_the_cli(graph):
    assert not [m for m, deps in graph.items() if CLI in deps and m != "perturbation_learning.__main__"]


def test_layering(graph):
    assert layering_violations(graph) == []


def test_modules_have_at_most_400_lines():
    assert long_modules() == {}


def test_rules_catch_planted_violations(tmp_path):
    (tmp_path / "theory").mkdir()
    (tmp_path / "perturbation_learning").mkdir()
    (tmp_path / "theory" / "__init__.py").write_text("")
    (tmp_path / "theory" / "validation.py").write_text("")
    (tmp_path / "theory" / "a.py").write_text("def late():\n    from perturbation_learning import b\n")
    (tmp_path / "perturbation_learning" / "__init__.py").write_text("")
    (tmp_path / "perturbation_learning" / "b.py").write_text("from theory.validation import check\nfrom theory import a\n")
    (tmp_path / "perturbation_learning" / "long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (tmp_path / "perturbation_learning" / "commands").mkdir()
    (tmp_path / "perturbation_learning" / "commands" / "__init__.py").write_text("")
    (tmp_path / "perturbation_learning" / "commands" / "sweep.py").write_text("from ..b import x\n")
    (tmp_path / "perturbation_learning" / "core.py").write_text("def late():\n    from .commands import sweep\n")
    planted = import_graph(tmp_path, ("theory", "perturbation_learning"))
    assert find_cycle(planted) == ["perturbation_learning.b", "theory.a", "perturbation_learning.b"]
    assert layering_violations(planted) == [
        "perturbation_learning.b imports theory.validation: use perturbation_learning.validation",
        "perturbation_learning.core imports perturbation_learning.commands.sweep: the core must not import its commands",
        "theory.a imports perturbation_learning.b: theory must not import perturbation_learning"]
    assert long_modules(tmp_path, ("theory", "perturbation_learning")) == {"perturbation_learning/long.py": MAX_LINES + 1}
