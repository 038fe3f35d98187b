"""The import graph of the package `crowdstake`, read from its source with ast (nothing is
imported): `graph()` maps each module (a package by its own name, for its `__init__.py`) to the
crowdstake modules it imports anywhere in its file: at module level, inside functions, under
`if TYPE_CHECKING:` too. `from crowdstake.chain import wallet` is an edge to the module
`crowdstake.chain.wallet`; `from crowdstake.chain import Contracts` one to the package
`crowdstake.chain`. `cycles(g)` lists each set of modules that import each other, directly or
round a loop. No chain, no brownie: the unit tier uses it."""

from __future__ import annotations

import ast
from pathlib import Path

import crowdstake

PACKAGE = Path(crowdstake.__file__).parent


def modules(root: Path = PACKAGE) -> dict[str, Path]:
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = ("crowdstake", *path.relative_to(root).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _targets(name: str, is_package: bool, node: ast.Import | ast.ImportFrom, known) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: from the module's package, up level - 1
        base = name.split(".") if is_package else name.split(".")[:-1]
        base = base[:len(base) - node.level + 1]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    return [f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in known else prefix for alias in node.names]


def _owner(target: str, known) -> str | None:
    """The module a dotted name is in: itself, else the nearest package or module above it."""
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target or None


def graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    known = modules(root)
    edges: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(name, is_package, node, known):
                    owner = _owner(target, known) if target.startswith("crowdstake") else None
                    if owner and owner != name:
                        edges[name].add(owner)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
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
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def room(module: str) -> str:
    """The room a module lives in: its subpackage (`store`), or its own name for a top-level
    module (`participant`, `_fs`)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "crowdstake"


def room_edges(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    """Which rooms import from which (a room's own modules importing each other left out)."""
    rooms: dict[str, set[str]] = {}
    for source, targets in edges.items():
        for target in targets:
            if room(source) != room(target):
                rooms.setdefault(room(source), set()).add(room(target))
    return rooms
