"""The package's shape, read from its source: no import cycle among crowdstake's modules (at
module level or inside functions, `support.imports`), and no module over 450 lines. Each check
is shown failing on a small package written here, so it can fail."""

from __future__ import annotations

import ast
import tokenize
from pathlib import Path

from support.imports import PACKAGE, cycles, graph

MAX_LINES = 450


def test_no_import_cycle_among_the_packages_modules():
    edges = graph()
    assert len(edges) > 90 and "crowdstake.store.workers" in edges["crowdstake.store"]  # it read the package
    assert cycles(edges) == []


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "crowdstake" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "crowdstake"


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    package = _package(tmp_path, {
        "__init__.py": "",
        "a.py": "from crowdstake import b\n",
        "b.py": "def f():\n    from crowdstake.c import g\n",
        "c.py": "from .a import x\n",  # relative, back to a
        "pkg/__init__.py": "from crowdstake.pkg.one import y\n",
        "pkg/one.py": "import crowdstake.errors\n",
        "errors.py": "",
    })
    edges = graph(package)
    assert edges["crowdstake.a"] == {"crowdstake.b"} and edges["crowdstake.pkg"] == {"crowdstake.pkg.one"}
    assert cycles(edges) == [["crowdstake.a", "crowdstake.b", "crowdstake.c"]]


def long_modules(root: Path = PACKAGE) -> list[str]:
    return [f"{path.relative_to(root.parent)}: {n} lines" for path in sorted(root.rglob("*.py"))
            if (n := len(path.read_text().splitlines())) > MAX_LINES]


def test_no_module_is_longer_than_450_lines(tmp_path):
    assert long_modules() == []
    package = _package(tmp_path, {"fine.py": "x = 1\n" * MAX_LINES, "big.py": "x = 1\n" * (MAX_LINES + 1)})
    assert long_modules(package) == ["crowdstake/big.py: 451 lines"]


def british_identifiers(roots) -> list[str]:
    """Every name token spelt "finalis..." (prose may say finalise; identifiers say finalize)."""
    found = []
    for root in roots:
        for path in sorted(Path(root).rglob("*.py")):
            with path.open() as f:
                for token in tokenize.generate_tokens(f.readline):
                    if token.type == tokenize.NAME and "finalis" in token.string.lower():
                        found.append(f"{path}:{token.start[0]}: {token.string}")
    return found


def test_identifiers_spell_finalize_one_way(tmp_path):
    repository = PACKAGE.parent
    assert british_identifiers([PACKAGE, *(repository / d for d in ("tests", "scripts", "tools", "benchmarks"))]) == []
    (tmp_path / "m.py").write_text('"""finalised in prose is fine."""\n\ndef finalise_round():\n    pass\n')
    assert british_identifiers([tmp_path]) == [f"{tmp_path / 'm.py'}:3: finalise_round"]


def unannotated_stores(root: Path = PACKAGE) -> list[str]:
    """Every parameter named store (or *_store; `with_store`, a flag, aside) whose annotation does not
    name the `Store` protocol."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for arg in node.args.posonlyargs + node.args.args + node.args.kwonlyargs:
                    if arg.arg == "store" or arg.arg.endswith("_store") and arg.arg != "with_store":
                        if arg.annotation is None or "Store" not in ast.unparse(arg.annotation):
                            found.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.name}({arg.arg})")
    return found


def test_every_store_consumer_is_annotated_with_the_protocol(tmp_path):
    assert unannotated_stores() == []
    package = _package(tmp_path, {"a.py": "def f(store: Store | None, w3):\n    pass\n\n"
                                          "def g(local_store):\n    pass\n"})
    assert unannotated_stores(package) == ["crowdstake/a.py:4 g(local_store)"]
