"""The package's import structure, read from its source with ``ast`` (nothing is imported).

The import graph of ``src/googlenet`` has one node per module (a package's ``__init__`` is a module) and an
edge for every import of one of its modules, wherever it is written:

- ``import googlenet.x`` and ``from .x import y``, at the top of a file or inside a function;
- ``from . import x`` inside package ``P``: an edge to ``P.x`` and to ``P`` itself;
- ``importlib.import_module`` / ``__import__``: an edge to every other module whose full name is written as a
  string constant in the file (parent packages included), and, in a package ``__init__`` that walks
  ``pkgutil.iter_modules(__path__)``, to each of its submodules.

Imports in the body of ``try: ... except ImportError`` (or ``ModuleNotFoundError``) are optional and not counted.
An import statement of the module's own parent packages or of the top-level package is not an edge: importing a
submodule runs its parents first anyway. The graph must be acyclic, and code inside functions should not import the
package's own modules (lazy imports are for heavy or optional third-party packages).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "googlenet"
OPTIONAL_IMPORT_ERRORS = ("ImportError", "ModuleNotFoundError")
DYNAMIC_IMPORTERS = ("import_module", "__import__")

# Being removed by the architecture refactor; any other cycle (or a larger one) fails the test.


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool
    tree: ast.Module


def package_modules(root: Path) -> dict[str, Module]:
    """Every ``.py`` file under package directory ``root``, by dotted module name (``pkg.sub`` for its __init__)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        modules[name] = Module(name, path, is_package, ast.parse(path.read_text(), filename=str(path)))
    return modules


def _optional_imports(tree: ast.Module) -> set[int]:
    """ids of the nodes inside the body of a ``try`` that catches ImportError."""
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
            isinstance(h.type, ast.Name) and h.type.id in OPTIONAL_IMPORT_ERRORS for h in node.handlers
        ):
            guarded.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return guarded


def imported_names(module: Module, node: ast.Import | ast.ImportFrom) -> list[str]:
    """Absolute names an import statement may load: ``from a import b`` may be module ``a.b`` or ``a`` itself."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level == 0:
        base = node.module or ""
    else:
        base = module.name if module.is_package else module.name.rpartition(".")[0]
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        if node.module:
            base = f"{base}.{node.module}"
    return [f"{base}.{alias.name}" for alias in node.names] + [base]


def _dynamic_imports(module: Module, modules: dict[str, Module]) -> Iterator[tuple[str, int]]:
    """``(module, line)`` for importlib / __import__ imports: names as string constants, pkgutil submodule walks."""
    nodes = list(ast.walk(module.tree))
    if not any(
        (isinstance(n, ast.Name) and n.id in DYNAMIC_IMPORTERS)
        or (isinstance(n, ast.Attribute) and n.attr in DYNAMIC_IMPORTERS)
        for n in nodes
    ):
        return
    for n in nodes:
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in modules:
            yield n.value, n.lineno
        elif module.is_package and isinstance(n, ast.Call) and _is_iter_modules_of_path(n):
            prefix = module.name + "."
            for name in modules:
                if name.startswith(prefix) and "." not in name[len(prefix) :]:
                    yield name, n.lineno


def _is_iter_modules_of_path(call: ast.Call) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name == "iter_modules" and any(isinstance(a, ast.Name) and a.id == "__path__" for a in call.args)


def _owning_module(name: str, modules: dict[str, Module]) -> str:
    """The longest prefix of ``name`` that is a module of the package ("" for none: a third-party import)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    """module -> {imported module: line of its first import} for the package at ``root``."""
    modules = package_modules(root)
    top = root.name
    graph: dict[str, dict[str, int]] = {name: {} for name in modules}
    for module in modules.values():
        found = [(target, line) for target, line in _dynamic_imports(module, modules) if target != module.name]
        guarded = _optional_imports(module.tree)
        for node in ast.walk(module.tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in guarded:
                for name in imported_names(module, node):
                    target = _owning_module(name, modules)
                    # not an edge: no module, the module itself, one of its parent packages, the top-level package
                    if target and target != module.name and not module.name.startswith(target + ".") and target != top:
                        found.append((target, node.lineno))
        for target, line in sorted(found, key=lambda t: t[1]):
            graph[module.name].setdefault(target, line)
    return graph


def import_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted, in sorted order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(components)


def describe_cycle(component: list[str], graph: dict[str, dict[str, int]], root: Path) -> str:
    """The modules of a cycle and the import lines that tie them together."""
    modules = package_modules(root)
    edges = [
        f"    {modules[a].path.relative_to(root.parent)}:{line} imports {b}"
        for a in component
        for b, line in sorted(graph[a].items())
        if b in component
    ]
    return " <-> ".join(component) + "\n" + "\n".join(edges)


def own_imports_in_functions(root: Path) -> list[str]:
    """``path:line: statement (in function)`` for every import of the package's own modules inside a function."""
    top = root.name
    found: dict[tuple[Path, int], str] = {}
    for module in package_modules(root).values():
        for func in ast.walk(module.tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(func):
                if _is_own_import(node, top):
                    where = (module.path.relative_to(root.parent), node.lineno)
                    found[where] = f"{ast.unparse(node)} (in {func.name})"  # nested functions come later: innermost
    return [f"{path}:{line}: {text}" for (path, line), text in sorted(found.items())]


def _is_own_import(node: ast.AST, top: str) -> bool:
    def own(name: str | None) -> bool:
        return name is not None and (name == top or name.startswith(top + "."))

    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or own(node.module)
    return isinstance(node, ast.Import) and any(own(alias.name) for alias in node.names)


# ---------------------------------------------------------------- the rule itself, on a package written here
FIXTURE_PACKAGE = {
    "__init__.py": "",
    "a.py": "import os\nfrom . import b\n",  # b, and pkg itself (a parent: no edge)
    "b.py": "def f():\n    from .c import thing\n    import json\n    return thing, json\n",
    "c.py": 'import importlib\n\n\ndef load():\n    return importlib.import_module("pkg.a")\n',
    "d.py": "try:\n    from . import a\nexcept ImportError:\n    a = None\n",
    "sub/__init__.py": (
        "import importlib\nimport pkgutil\n\nfor m in pkgutil.iter_modules(__path__):\n"
        '    importlib.import_module(f"{__name__}.{m.name}")\n'
    ),
    "sub/x.py": "from .. import d\n",  # pkg.d, and pkg (the top-level package: no edge)
    "sub/y.py": "from ..sub import x\nimport pkg.d as dd\n",  # pkg.sub.x, and pkg.sub (a parent: no edge)
}


@pytest.fixture
def fixture_package(tmp_path: Path) -> Path:
    root = tmp_path / "pkg"
    for rel, text in FIXTURE_PACKAGE.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_import_graph_counts_every_kind_of_import(fixture_package):
    graph = {m: sorted(targets) for m, targets in import_graph(fixture_package).items()}
    assert graph == {
        "pkg": [],
        "pkg.a": ["pkg.b"],
        "pkg.b": ["pkg.c"],  # inside a function
        "pkg.c": ["pkg.a"],  # importlib, the name as a string
        "pkg.d": [],  # optional: inside try/except ImportError
        "pkg.sub": ["pkg.sub.x", "pkg.sub.y"],  # pkgutil.iter_modules(__path__)
        "pkg.sub.x": ["pkg.d"],
        "pkg.sub.y": ["pkg.d", "pkg.sub.x"],
    }
    assert import_cycles(import_graph(fixture_package)) == [["pkg.a", "pkg.b", "pkg.c"]]
    assert own_imports_in_functions(fixture_package) == ["pkg/b.py:2: from .c import thing (in f)"]


# ---------------------------------------------------------------- the package
def test_package_has_no_import_cycle():
    graph = import_graph(SRC)
    assert "googlenet.models" in graph["googlenet.factory"]  # the graph is real, not vacuously acyclic
    cycles = import_cycles(graph)
    assert not cycles, f"{len(cycles)} import cycle(s) in src/googlenet:\n" + "\n".join(
        describe_cycle(c, graph, SRC) for c in cycles
    )


def test_functions_do_not_import_the_package():
    found = own_imports_in_functions(SRC)
    assert not found, f"{len(found)} in-function import(s) of googlenet's own modules:\n" + "\n".join(found)


def test_units_are_layered() -> None:
    """scripts/architecture_diagram.py (which draws docs/architecture.png) places every unit of the package one
    layer above the highest unit it imports; a cycle between units (e.g. runtime -> preprocess -> eval ->
    runtime) makes that impossible and the script exits naming it."""
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "scripts" / "architecture_diagram.py"
    spec = importlib.util.spec_from_file_location("architecture_diagram", script)
    diagram = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(diagram)
    graph = diagram.unit_graph()
    level = diagram.layers(graph)
    assert level["errors"] == 0 and level["cli"] == max(level.values())
    assert level["registry"] < level["models"] < level["factory"]  # registry is a leaf below the families
    assert "models" not in graph["registry"] and "weights" not in graph["factory"]
    for unit, deps in graph.items():
        assert all(level[d] < level[unit] for d in deps), unit
