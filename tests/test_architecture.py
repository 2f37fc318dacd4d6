"""The layering of the packages, read from the source with ``ast`` (nothing is imported).

- No import cycle among the modules of theory, perturbation_learning, checks, reporting and tools,
  counting imports inside functions too (a late import hides a cycle from the interpreter, not
  from the design).
- ``theory`` imports nothing from ``perturbation_learning``; within ``perturbation_learning`` only
  ``validation.py`` imports ``theory.validation`` (every other module checks its inputs through it).
- The core procedure never imports its sub-commands (``perturbation_learning.commands``), so it reads
  on its own.
- ``reporting`` imports only ``theory``, ``perturbation_learning.files`` and itself: it receives plain data
  from the checks and needs neither the procedure nor torch (``python -m reporting compare`` runs, and is
  run here, with torch unimportable).
- Every module has at most 400 lines.

Each rule is also run on a planted violation, so that a rule that cannot fail would show.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("theory", "perturbation_learning", "checks", "reporting", "tools")
COMMANDS = "perturbation_learning.commands"
CLI = f"{COMMANDS}.cli"
MAX_LINES = 400
#: What ``reporting`` may import besides itself.
REPORTING_MAY_IMPORT = ("theory", "perturbation_learning.files")
#: Imports of ``reporting`` beyond REPORTING_MAY_IMPORT, each with why it is allowed.
REPORTING_EXCEPTIONS: dict = {}


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
            if mod.split(".")[0] == "reporting" and not _reporting_may_import(mod, dep):
                out.append(f"{mod} imports {dep}: reporting imports only theory and perturbation_learning.files")
            in_commands = mod == COMMANDS or mod.startswith(COMMANDS + ".")
            if (mod.startswith("perturbation_learning") and not in_commands and mod != "perturbation_learning.__main__"
                    and (dep == COMMANDS or dep.startswith(COMMANDS + "."))):
                out.append(f"{mod} imports {dep}: the core must not import its commands")
    return sorted(out)


def _reporting_may_import(mod: str, dep: str) -> bool:
    if dep.split(".")[0] == "reporting" or (mod, dep) in REPORTING_EXCEPTIONS:
        return True
    return any(dep == allowed or dep.startswith(allowed + ".") for allowed in REPORTING_MAY_IMPORT)


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
    (tmp_path / "perturbation_learning" / "files.py").write_text("")
    (tmp_path / "reporting").mkdir()
    (tmp_path / "reporting" / "__init__.py").write_text("")
    (tmp_path / "reporting" / "ok.py").write_text("from perturbation_learning.files import x\nfrom theory import a\n")
    (tmp_path / "reporting" / "bad.py").write_text("def late():\n    from perturbation_learning import core\n")
    planted = import_graph(tmp_path, ("theory", "perturbation_learning", "reporting"))
    assert find_cycle(planted) == ["perturbation_learning.b", "theory.a", "perturbation_learning.b"]
    assert layering_violations(planted) == [
        "perturbation_learning.b imports theory.validation: use perturbation_learning.validation",
        "perturbation_learning.core imports perturbation_learning.commands.sweep: the core must not import its commands",
        "reporting.bad imports perturbation_learning.core: "
        "reporting imports only theory and perturbation_learning.files",
        "theory.a imports perturbation_learning.b: theory must not import perturbation_learning"]
    assert long_modules(tmp_path, ("theory", "perturbation_learning")) == {"perturbation_learning/long.py": MAX_LINES + 1}


# ---------------------------------------------------------------- reporting without the procedure

#: A ``sitecustomize`` that makes torch unimportable and says, at exit, which modules of the checks or
#: of the procedure the process imported. A finder that refuses torch, rather than ``sys.modules["torch"]
#: = None``: scipy's array-API helpers look torch up in sys.modules and fail on a None there.
NO_TORCH = """import atexit, sys


class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r} (made unimportable)", name=name)


sys.meta_path.insert(0, NoTorch())
atexit.register(lambda: print("imported:", sorted(m for m in sys.modules if m.split(".")[0] in ("checks", "torch")
                                                  or m.startswith("perturbation_learning.procedure"))))
"""


def _run_documents(tmp_path) -> tuple[Path, Path]:
    """Two runs of one stand-in check written by the report writer (the second's shares a little higher)."""
    from checks import assertions, session
    from reporting.verdicts import conclude
    from reporting.writer import write_run_report
    from test_report import _meta

    seeds = list(range(40))
    paths = []
    for name, shift in (("a", 0.0), ("b", 0.002)):
        session.current().discard()
        with session.checking("test_K3_stand_in", ("K3",)):
            assertions.assert_mean_at_most([0.01 + 0.0005 * (i % 7) + shift for i in seeds], 0.05,
                                           setting={"d": 10}, seeds=seeds, statistic="share")
        records = [dict(r, nodeid="checks/test_x.py::test_K3_stand_in") for r in session.current().pending()]
        session.current().discard()
        conclusion = conclude(["K3"], records, require_verified=False)
        paths.append(write_run_report(tmp_path / name, records + conclusion.pooled, {}, _meta(), conclusion.claims))
    return paths[0], paths[1]


def test_reporting_compares_two_runs_with_torch_unimportable(tmp_path):
    """``python -m reporting compare A B`` reads, compares and writes with torch made unimportable (a
    sitecustomize's import finder refuses it) and imports nothing of the checks or the procedure."""
    a, b = _run_documents(tmp_path)
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(NO_TORCH)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim), str(ROOT)])}
    out = subprocess.run([sys.executable, "-m", "reporting", "compare", str(a), str(b), "--out", str(tmp_path / "cmp")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode in (0, 1), out.stderr[-2000:]
    assert "comparison:" in out.stdout and out.stdout.strip().endswith("imported: []"), out.stdout[-2000:]
    assert json.loads((tmp_path / "cmp" / "compare.json").read_text())["claims"]["K3"]
    blocked = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True)
    assert blocked.returncode != 0 and "torch" in blocked.stderr  # the shim does block torch
