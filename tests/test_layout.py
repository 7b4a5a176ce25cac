"""Lint tests for the package's shape (DESIGN.md, "Style to follow"), read from the source with `ast`:

- no import cycle between modules of uhop_cc, counting every import (module level and inside
  functions; a package `__init__` that re-exports a submodule imports it);
- no private name (`_x`, not a dunder) imported from another module, except from the native
  extension `uhop_cc._native`;
- no target name ("opencl", "cuda", "ttmetal") written as a string literal outside uhop_cc/targets/
  (the registry and the target folders) and the CLI's help text: the rest asks the registry.

Each detector is a plain function over module texts, so each test first proves on a planted
example that it can fail.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Set, Tuple


ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "uhop_cc"
NATIVE = "uhop_cc._native"
TARGET_NAMES = frozenset({"opencl", "cuda", "ttmetal"})
# a target name may appear in these folders (relative to the package) ...
TARGET_NAME_HOMES = ("targets/",)
# ... and in the CLI, but there only inside help text (argparse's help/description/epilog/usage)
CLI_HOME = "cli/"
HELP_KEYWORDS = frozenset({"help", "description", "epilog", "usage"})


# ------------------------------------------------------------------ reading the package
def package_sources(root: Path = ROOT / PACKAGE, package: str = PACKAGE) -> Dict[str, Tuple[str, str, bool]]:
    """{module name: (path relative to the package, text, is a package __init__)} for every .py file."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        parts = list(rel.with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        out[".".join([package, *parts])] = (rel.as_posix(), path.read_text(encoding="utf-8"), is_pkg)
    return out


def _base_module(module: str, is_pkg: bool, node: ast.ImportFrom) -> Optional[str]:
    """The module a `from X import ...` reads from, relative imports resolved."""
    if not node.level:
        return node.module
    package = module.split(".") if is_pkg else module.split(".")[:-1]
    if node.level - 1 > len(package):
        return None
    base = package[:len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: str, text: str, is_pkg: bool) -> Iterator[Tuple[str, Optional[str], int]]:
    """(module imported from, name imported or None for `import X`, line) for every import statement,
    wherever it is (module level, functions, branches)."""
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = _base_module(module, is_pkg, node)
            if base:
                for alias in node.names:
                    yield base, alias.name, node.lineno


# ------------------------------------------------------------------ a. import cycles
def import_graph(sources: Mapping[str, Tuple[str, str, bool]], leaves: Sequence[str] = (NATIVE,)) -> Dict[str, Set[str]]:
    """Module -> the modules of `sources` it imports. `from pkg import sub` is an edge to pkg.sub when
    that is a module (a .py file, or one of `leaves`: compiled modules, which import nothing of
    ours), else to pkg (the name then comes from pkg's __init__)."""
    graph: Dict[str, Set[str]] = {m: set() for m in [*sources, *leaves]}
    for module, (_, text, is_pkg) in sources.items():
        for base, name, _line in imports(module, text, is_pkg):
            if name is not None and f"{base}.{name}" in graph:
                graph[module].add(f"{base}.{name}")
            elif base in graph:
                graph[module].add(base)
    return graph


def cycles(graph: Mapping[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components of more than one module, and modules that import themselves
    (Tarjan's algorithm, iterative so a deep package cannot hit the recursion limit)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    found.append(sorted(component))
    return sorted(found)


# ------------------------------------------------------------------ b. private names across modules
def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_aliases(module: str, tree: ast.AST, is_pkg: bool, modules: Set[str]) -> Dict[str, str]:
    """{local name: module of ours} for `import a.b as m` and `from a import b` where a.b is a module."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases.update({a.asname: a.name for a in node.names if a.asname and a.name in modules})
        elif isinstance(node, ast.ImportFrom):
            base = _base_module(module, is_pkg, node)
            aliases.update({a.asname or a.name: f"{base}.{a.name}" for a in node.names
                            if f"{base}.{a.name}" in modules})
    return aliases


def private_imports(sources: Mapping[str, Tuple[str, str, bool]]) -> List[str]:
    """`path:line: from X import _y` for every private name imported from another module (a private
    submodule counts: `from pkg import _mod`), and `path:line: m._y` for one read through an imported
    module `m`, except from the native extension."""
    found = []
    modules = set(sources)
    for module, (rel, text, is_pkg) in sorted(sources.items()):
        for base, name, line in imports(module, text, is_pkg):
            if name is None:  # `import a._b` reads a private module by its dotted name
                parts = base.split(".")
                if base != NATIVE and any(_private(p) for p in parts[1:]):
                    found.append(f"{rel}:{line}: import {base}")
            elif _private(name) and base != NATIVE and f"{base}.{name}" != NATIVE:
                found.append(f"{rel}:{line}: from {base} import {name}")
        tree = ast.parse(text)
        aliases = _module_aliases(module, tree, is_pkg, modules)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and _private(node.attr) and aliases[node.value.id] != module):
                found.append(f"{rel}:{node.lineno}: {node.value.id}.{node.attr} ({aliases[node.value.id]})")
    return found


# ------------------------------------------------------------------ c. target names as literals
def _help_strings(tree: ast.AST) -> Set[int]:
    """ids of the string constants that are (part of) an argparse help/description/epilog/usage."""
    ids: Set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in HELP_KEYWORDS:
            ids.update(id(n) for n in ast.walk(node.value) if isinstance(n, ast.Constant))
    return ids


def target_literals(sources: Mapping[str, Tuple[str, str, bool]]) -> List[str]:
    """`path:line: "cuda"` for every string constant that is exactly a target name, outside the
    target folders and the CLI's help text."""
    found = []
    for _module, (rel, text, _is_pkg) in sorted(sources.items()):
        if rel.startswith(TARGET_NAME_HOMES):
            continue
        tree = ast.parse(text)
        allowed = _help_strings(tree) if rel.startswith(CLI_HOME) else set()
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in TARGET_NAMES
                    and id(node) not in allowed):
                found.append((rel, node.lineno, node.value))
    return [f"{rel}:{line}: {value!r}" for rel, line, value in sorted(found)]


# ------------------------------------------------------------------ the detectors can fail
def _planted(files: Mapping[str, str]) -> Dict[str, Tuple[str, str, bool]]:
    """Module texts keyed like package_sources(), from {relative path: text}."""
    out = {}
    for rel, text in files.items():
        parts = rel[:-3].split("/")
        is_pkg = parts[-1] == "__init__"
        name = ".".join(["pkg", *(parts[:-1] if is_pkg else parts)])
        out[name] = (rel, text, is_pkg)
    return out


def test_cycle_detector_finds_planted_cycles():
    src = _planted({
        "__init__.py": "from .a import f\n",
        "a.py": "from .b import g\n",
        "b.py": "def g():\n    from . import c\n",       # hidden inside a function: still an edge
        "c.py": "import pkg.a\n",
        "d.py": "from pkg import d\n",                    # imports itself
        "e.py": "from . import a\nfrom pkg import f\n",  # reads a and f: no way back
        "f.py": "X = 1\n",
    })
    graph = import_graph(src)
    assert graph["pkg"] == {"pkg.a"} and graph["pkg.e"] == {"pkg.a", "pkg.f"}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"], ["pkg.d"]]
    assert cycles(import_graph(_planted({"a.py": "import os\n", "b.py": "from .a import x\n"}))) == []


def test_private_import_detector_finds_planted_imports():
    src = _planted({
        "a.py": "from .b import _helper, public, __version__\n",
        "b.py": "def f():\n    from pkg.c import _Emitter\n",
        "c.py": "from . import _private_mod\nimport pkg._private_mod\n",
        "d.py": "from uhop_cc import _native\nfrom uhop_cc._native import _x\nfrom ._native import y\n",
        "e.py": "from . import a\nimport pkg.b as b\n_own = 1\nx = a._split(b.f, a.__doc__, _native._y)\n",
    })
    assert private_imports(src) == [
        "a.py:1: from pkg.b import _helper",
        "b.py:2: from pkg.c import _Emitter",
        "c.py:1: from pkg import _private_mod",
        "c.py:2: import pkg._private_mod",
        "e.py:4: a._split (pkg.a)",
    ]


def test_target_literal_detector_finds_planted_literals():
    src = _planted({
        "pipeline.py": 'def f(t="opencl"):\n    """Runs on opencl."""\n    return t == "cuda" or f"{t}" == "x"\n',
        "targets/__init__.py": 'NAMES = ("opencl", "cuda", "ttmetal")\n',
        "cli/main.py": 'ap.add_argument("--target", help="ttmetal", default="ttmetal")\n',
    })
    assert target_literals(src) == ["cli/main.py:1: 'ttmetal'", "pipeline.py:1: 'opencl'", "pipeline.py:3: 'cuda'"]


# ------------------------------------------------------------------ the package
SOURCES = package_sources()

def test_no_import_cycles():
    found = cycles(import_graph(SOURCES))
    assert not found, "import cycles between modules of uhop_cc:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_private_names_imported_across_modules():
    found = private_imports(SOURCES)
    assert not found, "private names imported from another module:\n" + "\n".join(found)


def test_no_target_name_literals_outside_targets():
    found = target_literals(SOURCES)
    assert not found, (f"{len(found)} target-name literals outside uhop_cc/targets/ and the CLI's help text "
                       "(ask uhop_cc.targets instead):\n" + "\n".join(found))


def test_package_is_read():
    # the detectors above pass vacuously on an empty package: make sure they saw it
    assert len(SOURCES) > 50 and "uhop_cc.targets" in SOURCES and "uhop_cc.pipeline" in SOURCES
