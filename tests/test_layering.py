"""Import layering: every module imports only from its own layer or the layers below it, and
no set of modules imports itself round in a circle.

The layers, lowest first. A module belongs to the layer of the longest name below that is
its own name or a package holding it ("imu.validate*" takes imu.validate, imu.validate_real,
...). The root package `imu` itself (its version) is foundation; anything new must be given
a layer here.

  1. foundation   shared types and small helpers every layer may use: samples, quaternions,
                  anatomy, thresholds, annotation labels, the base user error, atomic files,
                  time formatting, the progress bar, work in a forked child, and the decoders (bytes in,
                  samples out)
  2. core         the pure pipeline: arrays in, arrays and events out (imu/core)
  2. storage      beside the core, and independent of it: the session file and the sample
     and transport  imports and exports, person profiles kept on this computer, the Bluetooth
                  transport (imu/recording, imu/people.py, imu/ble)
  3. analysis     a whole recording through the core (imu/analysis.py, imu/runner.py,
                  imu/reading.py)
  4. outputs      report, replay, exports of the analysis, the LSL outlet
  5. simulation   the simulated wearer, virtual sensors and simulated sessions (imu/sim)
  6. applications the live loop, validation, the cohort tools
  7. dashboards   the pyqtgraph live dashboard and replay viewer
  8. command line imu/cli.py: parses arguments and calls the packages; nothing imports it

Every import counts, also those inside functions (lazy imports) and under TYPE_CHECKING: a
lazy import upward is still a dependency upward, and a lazy circle still ties the modules
together. Importing a module also runs the __init__ of each package holding it, so that
counts as importing the package too (except the packages the importer is itself inside,
which Python has already started).
"""

from __future__ import annotations

import ast
from fnmatch import fnmatch
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("imu", "dashboards")

# (layer, rank, module names): a module may import its own layer and layers of a lower rank;
# two layers of one rank (the core and storage) may not import each other
LAYERS: list[tuple[str, int, tuple[str, ...]]] = [
    ("foundation", 1, ("imu", "imu.errors", "imu.samples", "imu.quat", "imu.anatomy", "imu.profile",
                       "imu.labels", "imu.atomic", "imu.timefmt", "imu.progress", "imu.protocols",
                       "imu.jsonvalues", "imu.parallel", "imu.heap")),
    ("core", 2, ("imu.core",)),
    ("storage and transport", 2, ("imu.recording", "imu.people", "imu.ble")),
    ("analysis", 3, ("imu.analysis", "imu.runner", "imu.reading", "imu.spill")),
    ("outputs", 4, ("imu.report", "imu.replay", "imu.export", "imu.lsl")),
    ("simulation", 5, ("imu.sim",)),
    ("applications", 6, ("imu.live", "imu.validate*", "imu.cohort")),
    ("dashboards", 7, ("dashboards",)),
    ("command line", 8, ("imu.cli",)),
]


# --- reading the imports --------------------------------------------------------------------
def find_modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imported_names(module: str, path: Path, source: str | None = None) -> list[tuple[str, int]]:
    """(dotted name, line) of every import in the module, wherever it sits in the file.
    `from a.b import c` gives a.b.c when that is a module, else a.b."""
    tree = ast.parse(source if source is not None else path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, `level - 1` steps up
                parts = package.split(".")
                up = parts[:len(parts) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return found


def import_graph(modules: dict[str, Path], sources: dict[str, str] | None = None
                 ) -> dict[str, dict[str, int]]:
    """module -> {module of the packages it imports: first line}. A name that is not a
    module (a function imported from a module) counts as its module; importing a module
    also imports the packages holding it that the importer is not inside."""
    graph: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        edges: dict[str, int] = {}
        for name, line in imported_names(module, path, (sources or {}).get(module)):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if not name:
                continue  # outside the packages (numpy, bleak, ...)
            parts = name.split(".")
            for target in (".".join(parts[:i]) for i in range(len(parts), 0, -1)):
                if target in modules and target != module and not module.startswith(target + "."):
                    edges.setdefault(target, line)
        graph[module] = edges
    return graph


# --- the rules ------------------------------------------------------------------------------
def layer_of(module: str) -> int | None:
    """Index into LAYERS of the module's layer (longest matching name), None if unassigned."""
    best, best_len = None, -1
    for index, (_, _, names) in enumerate(LAYERS):
        for name in names:
            covers = fnmatch(module, name) or (name != "imu" and fnmatch(module, name + ".*"))
            if covers and len(name) > best_len:
                best, best_len = index, len(name)
    return best


def upward_imports(graph, modules) -> list[str]:
    """An import of a higher layer, or of a different layer of the same rank, as one line."""
    problems = []
    for module, edges in sorted(graph.items()):
        here = layer_of(module)
        for target, line in sorted(edges.items()):
            there = layer_of(target)
            if here is None or there is None or here == there:
                continue
            if any(t.startswith(target + ".") and at == line for t, at in edges.items()):
                continue  # the package of a module imported on this line: said once, below
            (name, rank, _), (target_name, target_rank, _) = LAYERS[here], LAYERS[there]
            if target_rank > rank:
                why = "a higher layer"
            elif target_rank == rank:
                why = "a layer beside its own, which it must not depend on"
            else:
                continue
            problems.append(f"{_where(modules, module, line)}: {module} ({name}) imports "
                            f"{target} ({target_name}), {why}")
    return problems


def _where(modules, module: str, line: int) -> str:
    path = modules[module]
    try:
        path = path.relative_to(ROOT)
    except ValueError:
        pass
    return f"{path}:{line}"


def import_cycles(graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(cycles)


def describe_cycle(component: list[str], graph, modules) -> str:
    inside = set(component)
    edges = [f"  {_where(modules, m, line)}: {m} imports {t}"
             for m in component for t, line in sorted(graph[m].items()) if t in inside]
    return f"circle of {len(component)} modules:\n" + "\n".join(edges)


# --- the tests ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def project():
    modules = find_modules()
    return modules, import_graph(modules)


def test_every_module_has_a_layer(project):
    modules, _ = project
    missing = [m for m in modules if layer_of(m) is None]
    assert not missing, "modules without a layer (add them to LAYERS in tests/test_layering.py): " + ", ".join(missing)


def test_no_module_imports_a_higher_layer(project):
    modules, graph = project
    problems = upward_imports(graph, modules)
    assert not problems, "imports upward:\n" + "\n".join(problems)


def test_nothing_imports_the_command_line(project):
    modules, graph = project
    users = [f"{_where(modules, m, edges['imu.cli'])}: {m}" for m, edges in graph.items() if "imu.cli" in edges]
    assert not users, "imu.cli is imported by:\n" + "\n".join(users)


def test_no_import_circles(project):
    modules, graph = project
    cycles = import_cycles(graph)
    assert not cycles, "\n".join(describe_cycle(c, graph, modules) for c in cycles)


def test_the_checks_see_lazy_relative_and_package_imports(tmp_path):
    """The checker itself: a function-level import upward, a relative import closing a circle
    and a package __init__ run by importing its submodule are all found."""
    files = {
        "imu/__init__.py": "",
        "imu/core/__init__.py": "",
        "imu/core/grid.py": "def f():\n    from imu.report.make import make_report\n",
        "imu/report/__init__.py": "from imu.report.make import make_report\n",
        "imu/report/make.py": "from . import summary\n",
        "imu/report/summary.py": "import imu.report.make\n",
        "imu/live/__init__.py": "from imu.live.session import LiveSession\n",
        "imu/live/session.py": "from imu.replay import deliver\n",
        "imu/replay.py": "from imu.live.status import clock\n",
        "imu/live/status.py": "",
        "imu/core/align.py": "",
        "imu/recording/__init__.py": "",
        "imu/recording/export.py": "import numpy\nfrom imu.core.align import align_block\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "dashboards").mkdir()
    modules = find_modules(tmp_path)
    graph = import_graph(modules)
    problems = upward_imports(graph, modules)
    assert any("imu.core.grid (core) imports imu.report.make (outputs)" in p and ":2" in p for p in problems)
    assert any("imu.replay (outputs) imports imu.live.status (applications)" in p for p in problems)
    assert any("imu.recording.export (storage and transport) imports imu.core.align (core), a layer beside"
               in p for p in problems)
    cycles = import_cycles(graph)
    assert ["imu.report.make", "imu.report.summary"] in cycles
    # imu.replay -> imu.live.status runs imu/live/__init__, which imports the session, which imports replay
    assert ["imu.live", "imu.live.session", "imu.replay"] in cycles
