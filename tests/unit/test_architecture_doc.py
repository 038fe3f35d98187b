"""The layout the docs describe is the package's: every room (a subpackage or a top-level module
of crowdstake/) has its row in the README's table and in docs/architecture.md's tree, and the
arrows of docs/architecture.md are exactly the imports between rooms that the source makes
(`support.imports`, module- and function-level), no more, no fewer."""

from __future__ import annotations

import re

from support.imports import PACKAGE, graph, room

REPOSITORY = PACKAGE.parent
ARCHITECTURE = REPOSITORY / "docs" / "architecture.md"
README = REPOSITORY / "README.md"
ARROW = "──>"


def _room(module: str) -> str:
    return "__init__" if module == "crowdstake" else room(module)


def rooms() -> set[str]:
    return {_room(m) for m in graph()}


def _file_name(name: str) -> str:
    return f"{name}/" if (PACKAGE / name).is_dir() else f"{name}.py"


def true_arrows() -> dict[str, set[str]]:
    arrows: dict[str, set[str]] = {r: set() for r in rooms()}
    for source, targets in graph().items():
        for target in targets:
            if _room(source) != _room(target):
                arrows[_room(source)].add(_room(target))
    return arrows


def drawn_arrows(text: str) -> dict[str, set[str]]:
    """The arrow block of docs/architecture.md: `a, b ──> x, y` per line; `every other room`
    and `every room` are words for all of them."""
    block = text[text.index('Arrows mean "imports from"'):]
    block = block[block.index("```\n") + 4:]
    block = block[:block.index("```")]
    drawn: dict[str, set[str]] = {}
    for line in block.splitlines():
        left, arrow, right = line.partition(ARROW)
        assert arrow, f"not an arrow: {line!r}"
        sources = [s.strip() for s in left.split(",")]
        if sources == ["every room"]:
            sources = sorted(rooms() - {"errors"})
        targets = [t.strip() for t in right.split(",")]
        for source in sources:
            if targets == ["every other room"]:
                drawn.setdefault(source, set()).update(rooms() - {source})
            else:
                drawn.setdefault(source, set()).update(targets)
    return drawn


def test_every_room_is_in_the_readmes_table_and_the_architectures_tree():
    names = {_file_name(r) for r in rooms()}
    assert {"index/", "web/", "receipts.py", "progress.py", "_fs.py", "_server.py"} <= names
    lines = README.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "| room | what it holds |")
    table = []
    for line in lines[start + 2:]:
        if not line.lstrip().startswith("|"):
            break
        table.append(line.strip())
    in_table = {name for line in table for name in re.findall(r"`([\w.]+/?)`", line.split("|")[1])}
    assert names - in_table == set(), "rooms missing from the README's table"
    assert in_table - names == set(), "the README's table names rooms that do not exist"
    text = ARCHITECTURE.read_text()
    tree = text[text.index("crowdstake/\n"):]
    tree = tree[:tree.index("```")]
    in_tree = set(re.findall(r"^  ([\w.]+/?) ", tree, re.M))
    assert names == in_tree


def test_the_arrows_are_the_imports():
    true, drawn = true_arrows(), drawn_arrows(ARCHITECTURE.read_text())
    assert drawn.keys() <= true.keys(), f"arrows from rooms that do not exist: {drawn.keys() - true.keys()}"
    missing = {r: sorted(true[r] - drawn.get(r, set())) for r in true if true[r] - drawn.get(r, set())}
    assert missing == {}, "imports the diagram does not draw"
    extra = {r: sorted(drawn[r] - true[r]) for r in drawn if r != "cli" and drawn[r] - true[r] - {"errors"}}
    assert extra == {}, "arrows with no import behind them"


def test_nothing_imports_upward():
    true = true_arrows()
    assert [r for r in true if "cli" in true[r]] == []
    assert [r for r in true if "sim" in true[r]] == ["cli"]


def test_a_wrong_arrow_is_found():
    """The audit's two wrong arrows: `store ──> results, _fs` leaves chain out; `diagnostics ──> fund` is no import."""
    text = ARCHITECTURE.read_text()
    wrong = text.replace("store ──> chain, results, _fs", "store ──> results, _fs").replace(
        "diagnostics ──> scoring, store, results", "diagnostics ──> scoring, store, results, fund")
    drawn, true = drawn_arrows(wrong), true_arrows()
    assert "chain" in true["store"] - drawn["store"] and "fund" in drawn["diagnostics"] - true["diagnostics"]
