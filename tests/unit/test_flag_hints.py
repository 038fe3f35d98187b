"""Library messages name no command-line flag; the CLI adds it. Every string the package outside
crowdstake/cli/ could show a user is scanned for a `--flag` (docstrings and a subprocess's argv
excepted), every setting an error names has the CLI's words for it, and the errors a few library
calls raise reach the user with their flag."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from click.testing import CliRunner

import crowdstake
from crowdstake.chain.deploy import parse_members, plan_roles
from crowdstake.chain.devchain import _amount_or_none
from crowdstake.cli import FLAG_HINTS, explain, main
from crowdstake.errors import ConfigError, CrowdstakeError, FundError, ParticipantError
from crowdstake.index.schema import open_index

PACKAGE = Path(crowdstake.__file__).parent
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
ARGV_FLAG = re.compile(r"--[A-Za-z][\w.-]*")  # another program's flags: ganache's --wallet.totalAccounts
ADDRESS = "0x" + "ab" * 20


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _argv_items(tree: ast.AST) -> set[int]:
    """A bare flag as an item of a list or tuple: another program's argv (anvil's --port), not a message."""
    return {id(item) for node in ast.walk(tree) if isinstance(node, (ast.List, ast.Tuple)) for item in node.elts
            if isinstance(item, ast.Constant) and isinstance(item.value, str) and ARGV_FLAG.fullmatch(item.value)}


def flags_in_library_strings() -> list[str]:
    found = []
    for source in sorted(PACKAGE.rglob("*.py")):
        if (PACKAGE / "cli") in source.parents:
            continue
        tree = ast.parse(source.read_text(), str(source))
        skip = _docstrings(tree) | _argv_items(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                for flag in FLAG.findall(node.value):
                    found.append(f"{source.relative_to(PACKAGE.parent)}:{node.lineno}: {flag}")
    return found


def test_no_library_string_names_a_flag():
    assert flags_in_library_strings() == []


def test_the_scan_finds_a_flag_in_a_message(tmp_path, monkeypatch):
    """The scan above can fail: a message naming a flag, in an f-string too, is found; argv is not."""
    fake = tmp_path / "crowdstake"
    (fake / "cli").mkdir(parents=True)
    (fake / "cli" / "x.py").write_text('raise ValueError("pass --store")\n')
    (fake / "lib.py").write_text('"""`--docs` may show flags."""\n'
                                 'import subprocess\n'
                                 'subprocess.run(["anvil", "--port", "1"])\n'
                                 'def f(n):\n'
                                 '    raise ValueError(f"give {n} with --targets DIR")\n')
    monkeypatch.setattr(f"{__name__}.PACKAGE", fake)
    assert flags_in_library_strings() == ["crowdstake/lib.py:5: --targets"]


def _settings_named_in_the_package() -> dict[str, set[str]]:
    """Each constant setting a `.with_setting(...)` names, with the hint values it passes."""
    named: dict[str, set[str]] = {}
    for source in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "with_setting":
                first = node.args[0]
                settings = [c.value for c in ast.walk(first) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
                for setting in settings:
                    named.setdefault(setting, set()).update(k.arg for k in node.keywords)
    return named


def _placeholders(hint) -> set[str]:
    texts = hint.values() if isinstance(hint, dict) else [hint]
    return {name for text in texts for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_setting_an_error_names_has_its_flag():
    named = _settings_named_in_the_package()
    assert {"members", "deployments", "targets", "index_file", "restake_into", "claim"} <= named.keys()
    for setting, values in named.items():
        assert setting in FLAG_HINTS, f"{setting!r} is named by an error but has no hint in FLAG_HINTS"
        assert _placeholders(FLAG_HINTS[setting]) <= values, (setting, values)
    for hint in FLAG_HINTS.values():
        for text in hint.values() if isinstance(hint, dict) else [hint]:
            assert FLAG.search(text) or "CROWDSTAKE_" in text, f"a hint names no flag: {text!r}"


def _raised(call, *args, **kwargs) -> CrowdstakeError:
    with pytest.raises(CrowdstakeError) as raised:
        call(*args, **kwargs)
    assert not FLAG.search(str(raised.value)), str(raised.value)  # the library's words: no flag
    return raised.value


def test_the_cli_adds_the_flag_of_the_setting():
    assert explain(_raised(parse_members, " , ")) == ("the list of members is empty: name the committee's "
                                                      "addresses, comma-separated (pass --members ADDR,ADDR,...)")
    assert explain(_raised(parse_members, "0x12")).endswith("(pass --members ADDR,ADDR,...)")
    assert explain(_raised(plan_roles, ADDRESS, members=None)).endswith("(pass --members ADDR,ADDR,...)")
    refused = _raised(plan_roles, ADDRESS, members=[ADDRESS], admin="0x12")
    assert isinstance(refused, FundError) and explain(refused) == "admin '0x12' is not an address: 0x and 40 hex " \
                                                                  "digits (check --admin)"
    assert explain(_raised(_amount_or_none, "a lot", "the ETH to send", "eth")).endswith("(check --eth)")


def test_a_hint_quotes_the_errors_values_and_may_depend_on_the_command(tmp_path):
    missing = tmp_path / "none.db"
    refused = _raised(open_index, missing)
    assert explain(refused) == (f"no index at {missing}: build one first, by indexing the chain "
                                f"(`crowdstake index --db {missing}`)")
    junk = tmp_path / "junk.db"
    junk.write_text("not sqlite")
    wrong = _raised(open_index, junk)
    assert isinstance(wrong, ConfigError)
    assert explain(wrong, "index").endswith("give another index file (pass another --db FILE)")
    assert explain(wrong, "web").endswith("give another index file (pass another --index FILE)")
    assert explain(wrong).endswith("(pass another --index FILE)")
    restake = ParticipantError("cannot be restaked").with_setting("restake_into", round=7, model="m")
    assert explain(restake) == ("cannot be restaked (`crowdstake submit --round 7 --model m FILE`, or leave out "
                                "--restake-into)")


def test_the_command_line_shows_the_flag_of_the_command_that_ran(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_text("not sqlite")
    result = CliRunner().invoke(main, ["rounds", "--index", str(junk)], terminal_width=200)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"crowdstake: {junk} cannot be opened as an index")
    assert result.stderr.endswith("give another index file (pass another --index FILE)\n"), result.stderr
