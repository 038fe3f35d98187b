"""tools/mutate.py, the mutation check, without a chain: the list's format, applying and
restoring a mutant in a copy, refusing one whose text is missing or ambiguous, the copy of the
working tree, reading pytest's verdicts, the JSON; and that every listed mutant still hits
exactly one line of today's tree, so the list cannot drift silently."""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("mutate", ROOT / "tools" / "mutate.py")
mutate = importlib.util.module_from_spec(_spec)
sys.modules["mutate"] = mutate
_spec.loader.exec_module(mutate)

SOURCE = """\
contract C {
    function a(uint256 x) external {
        total += x;
        count += 1;
    }

    function b(
        uint256 x
    ) external {
        count += 1;
        if (x >= limit) revert TooMuch();
    }
}
"""


def mutant(**kw):
    fields = {"id": "m", "file": "C.sol", "original": "x >= limit", "replacement": "x > limit",
              "tests": ("tests/unit/test_x.py",)}
    return mutate.Mutant(**{**fields, **kw})


def write_list(tmp_path, body):
    path = tmp_path / "mutants.toml"
    path.write_text(body)
    return path


# ------------------------------------------------------------------------------------ the list


def test_the_list_is_parsed_into_mutants(tmp_path):
    path = write_list(tmp_path, '''
[[mutant]]
id = "A-1"
bug = "off by one"
file = "contracts/C.sol"
original = "x >= limit"
replacement = "x > limit"
tests = ["tests/unit/test_a.py", "tests/contracts/test_c.py::test_limit"]

[[mutant]]
id = "A-2"
file = "crowdstake/x.py"
scope = "def f("
original = "count += 1"
replacement = ""
equivalent = "nothing reads count"
timeout = 60
tests = ["tests/unit"]
''')
    a, b = mutate.load(path)
    assert (a.id, a.file, a.original, a.replacement, a.bug) == ("A-1", "contracts/C.sol", "x >= limit", "x > limit", "off by one")
    assert a.unit_tests == ["tests/unit/test_a.py"] and a.chain_tests == ["tests/contracts/test_c.py::test_limit"]
    assert a.contract and a.equivalent is None and a.scope is None
    assert not b.contract and b.scope == "def f(" and b.equivalent == "nothing reads count" and b.timeout == 60
    assert b.unit_tests == ["tests/unit"] and b.chain_tests == []


@pytest.mark.parametrize("entry, message", [
    ('id = "a"\nfile = "f"\noriginal = "x"\nreplacement = "y"', "needs `tests`"),
    ('id = "a"\nfile = "f"\noriginal = "x"\nreplacement = "y"\ntests = []', "non-empty list"),
    ('id = "a"\nfile = "f"\noriginal = "x"\nreplacement = "y"\ntests = ["unit/x.py"]', "under tests/"),
    ('id = "a"\nfile = "f"\noriginal = "x"\nreplacement = "x"\ntests = ["tests/unit"]', "the replacement is the original"),
    ('id = "a"\nfile = "f"\noriginal = ""\nreplacement = "x"\ntests = ["tests/unit"]', "original not empty"),
    ('id = "a"\nfile = "f"\noriginal = "x\\ny"\nreplacement = "x"\ntests = ["tests/unit"]', "within one line"),
    ('id = "a"\nfile = "f"\noriginal = "x"\nreplacement = "y"\ntests = ["tests/unit"]\nline = 4', "unknown field(s) line"),
    ('id = "a b"\nfile = "f"\noriginal = "x"\nreplacement = "y"\ntests = ["tests/unit"]', "must be letters"),
    ('id = "a"\nfile = "f"\noriginal = "x"\nreplacement = "y"\ntests = ["tests/unit"]\nequivalent = ""', "needs its reason"),
    ('id = "a"\nfile = "f"\noriginal = "x"\nreplacement = "y"\ntests = ["tests/unit"]\ntimeout = -1', "positive number"),
])
def test_a_malformed_entry_is_refused_with_its_reason(tmp_path, entry, message):
    with pytest.raises(mutate.MutantError, match=message.replace("(", r"\(").replace(")", r"\)")):
        mutate.load(write_list(tmp_path, "[[mutant]]\n" + entry + "\n"))


def test_a_duplicate_id_and_an_empty_list_are_refused(tmp_path):
    one = '[[mutant]]\nid = "a"\nfile = "f"\noriginal = "x"\nreplacement = "y"\ntests = ["tests/unit"]\n'
    with pytest.raises(mutate.MutantError, match="id a appears twice"):
        mutate.load(write_list(tmp_path, one + one))
    with pytest.raises(mutate.MutantError, match="no \\[\\[mutant\\]\\] tables"):
        mutate.load(write_list(tmp_path, "# nothing\n"))
    with pytest.raises(mutate.MutantError, match="mutants.toml"):
        mutate.load(write_list(tmp_path, "[[mutant]\n"))


# ------------------------------------------------------------------------------------ applying


def test_apply_changes_one_line_and_restore_puts_the_file_back(tmp_path):
    (tmp_path / "C.sol").write_text(SOURCE)
    original, line = mutate.apply(tmp_path, mutant())
    assert original == SOURCE and line == 11
    changed = (tmp_path / "C.sol").read_text().splitlines()
    assert changed[10] == "        if (x > limit) revert TooMuch();"
    assert [a for a, b in zip(changed, SOURCE.splitlines()) if a != b] == [changed[10]]
    mutate.restore(tmp_path, mutant(), original)
    assert (tmp_path / "C.sol").read_text() == SOURCE


def test_an_empty_replacement_removes_the_statement_and_keeps_the_line(tmp_path):
    (tmp_path / "C.sol").write_text(SOURCE)
    _, line = mutate.apply(tmp_path, mutant(original="total += x;", replacement=""))
    lines = (tmp_path / "C.sol").read_text().splitlines()
    assert line == 3 and lines[2].strip() == "" and len(lines) == len(SOURCE.splitlines())


def test_a_missing_or_ambiguous_original_is_refused_and_nothing_is_written(tmp_path):
    (tmp_path / "C.sol").write_text(SOURCE)
    with pytest.raises(mutate.MutantError, match="'x <= limit' found 0 times in C.sol, needs exactly one"):
        mutate.apply(tmp_path, mutant(original="x <= limit"))
    with pytest.raises(mutate.MutantError, match="'count \\+= 1;' found 2 times in C.sol"):
        mutate.apply(tmp_path, mutant(original="count += 1;", replacement=""))
    with pytest.raises(mutate.MutantError, match="found 2 times"):  # twice within one line counts twice
        mutate.locate("a = b + b\n", mutant(original="b", replacement="c"))
    with pytest.raises(mutate.MutantError, match="no file D.sol"):
        mutate.apply(tmp_path, mutant(file="D.sol"))
    assert (tmp_path / "C.sol").read_text() == SOURCE


def test_a_scope_confines_the_search_to_its_block(tmp_path):
    (tmp_path / "C.sol").write_text(SOURCE)
    in_a = mutant(scope="function a(", original="count += 1;", replacement="")
    in_b = mutant(scope="function b(", original="count += 1;", replacement="")  # past its `) external {` line
    assert mutate.locate(SOURCE, in_a) == 3 and mutate.locate(SOURCE, in_b) == 9
    with pytest.raises(mutate.MutantError, match="'x >= limit' found 0 times in the block of 'function a\\('"):
        mutate.locate(SOURCE, mutant(scope="function a("))
    with pytest.raises(mutate.MutantError, match="scope 'function' found 2 times"):
        mutate.locate(SOURCE, mutant(scope="function"))


def test_every_listed_mutant_hits_exactly_one_line_of_todays_tree():
    """If this fails, a source line changed under a mutant: update tools/mutants.toml."""
    mutants = mutate.load()
    lines = mutate.check_tree(mutants, ROOT)
    assert set(lines) == {m.id for m in mutants}
    for m in mutants:
        text = (ROOT / m.file).read_text().splitlines(keepends=True)
        mutated, line = mutate.mutate_text("".join(text), m)
        assert line == lines[m.id] and mutated != "".join(text)


def test_the_list_covers_every_file_of_the_issue_and_the_reviewers_gaps():
    mutants = mutate.load()
    assert len([m for m in mutants if not m.equivalent]) >= 30
    files = {m.file for m in mutants}
    for required in ("contracts/Tournament.sol", "contracts/OracleCommittee.sol", "contracts/StakeToken.sol",
                     "crowdstake/results/payout.py", "crowdstake/results/merkle.py",
                     "crowdstake/scoring/quantization.py", "crowdstake/scoring/metrics.py",
                     "crowdstake/scoring/kernels.py",
                     "crowdstake/oracle/inputs.py", "crowdstake/oracle/keeper.py",
                     "crowdstake/store/auth.py", "crowdstake/store/formats.py"):
        assert required in files, required
    ids = {m.id for m in mutants}
    gaps = {"T-release-claim", "T-release-claim-many", "C-finalize-early", "T-results-late", "C-remove-keeps-votes",
            "Q-ties-half-up", "T-no-upper-clamp", "T-permit-no-try", "T-pause-stake-from-balance"}
    assert gaps <= ids, gaps - ids


def test_check_tree_reports_every_problem_at_once(tmp_path):
    (tmp_path / "C.sol").write_text(SOURCE)
    bad = [mutant(id="gone", original="nowhere"), mutant(id="twice", original="count"),
           mutant(id="no-tests", tests=("tests/unit/test_absent.py",))]
    with pytest.raises(mutate.MutantError) as e:
        mutate.check_tree(bad, tmp_path)
    assert "gone:" in str(e.value) and "twice:" in str(e.value) and "no-tests: no test file" in str(e.value)


def test_selection_puts_python_mutants_first_and_refuses_unknown_ids():
    ms = [mutant(id="c1"), mutant(id="p1", file="x.py"), mutant(id="c2"), mutant(id="p2", file="y.py")]
    assert [m.id for m in mutate.select(ms, None, False)] == ["p1", "p2", "c1", "c2"]
    assert [m.id for m in mutate.select(ms, "c2, p1", False)] == ["p1", "c2"]
    assert [m.id for m in mutate.select(ms, None, True)] == ["p1", "p2"]
    with pytest.raises(mutate.MutantError, match="no mutant nope"):
        mutate.select(ms, "p1,nope", False)


# ------------------------------------------------------------------------------------ the copy


def _git(repo, *args):
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=repo, check=True,
                   capture_output=True)


def test_the_copy_is_the_working_tree_with_links_and_its_own_build(tmp_path):
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / ".gitignore").write_text("build/\n.venv/\nnode_modules/\n*.log\n")
    (repo / "src" / "a.py").write_text("committed\n")
    (repo / "src" / "gone.py").write_text("deleted later\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "c")
    (repo / "src" / "a.py").write_text("changed in the working tree\n")
    (repo / "src" / "gone.py").unlink()
    (repo / "src" / "new.py").write_text("untracked\n")
    (repo / "run.log").write_text("ignored\n")
    for d in (".venv", "node_modules", "build/contracts"):
        (repo / d).mkdir(parents=True)
    (repo / "build" / "contracts" / "C.json").write_text("{}")
    copy = mutate.make_copy(repo, tmp_path / "copy")
    assert (copy / "src" / "a.py").read_text() == "changed in the working tree\n"
    assert (copy / "src" / "new.py").exists() and not (copy / "src" / "gone.py").exists()
    assert not (copy / "run.log").exists()
    assert (copy / ".venv").is_symlink() and (copy / "node_modules").is_symlink()
    assert (copy / ".venv").resolve() == (repo / ".venv").resolve()
    assert not (copy / "build").is_symlink() and (copy / "build" / "contracts" / "C.json").read_text() == "{}"
    # a contract mutant's compile is thrown away: the unmutated build comes back
    pristine = tmp_path / "pristine"
    import shutil
    shutil.copytree(copy / "build", pristine)
    (copy / "build" / "contracts" / "C.json").write_text('{"mutated": true}')
    (copy / "build" / "contracts" / "New.json").write_text("{}")
    mutate.reset_build(copy, pristine)
    assert sorted(p.name for p in (copy / "build" / "contracts").iterdir()) == ["C.json"]
    assert (copy / "build" / "contracts" / "C.json").read_text() == "{}"
    env = mutate.environment(copy)
    assert env["PYTHONPATH"].split(":")[0] == str(copy) and env["PYTHONDONTWRITEBYTECODE"] == "1"


def test_the_copys_bench_anvil_gets_the_suites_block_and_the_rest_of_the_config_stays(tmp_path):
    import yaml

    (tmp_path / "brownie-config.yaml").write_text((ROOT / "brownie-config.yaml").read_text())
    mutate.configure_network(tmp_path, port=8547)
    config = yaml.safe_load((tmp_path / "brownie-config.yaml").read_text())
    assert config["networks"]["bench-anvil"] == {"cmd_settings": {"gas_limit": 30_000_000,
                                                                  "base_fee": 1_000_000_000, "port": 8547}}
    original = yaml.safe_load((ROOT / "brownie-config.yaml").read_text())
    assert config["compiler"] == original["compiler"] and config["hypothesis"] == original["hypothesis"]
    assert config["networks"]["development"] == original["networks"]["development"]


# ------------------------------------------------------------------------------------ verdicts


SUMMARY = """\
tests/unit/test_a.py::test_one PASSED                                    [ 33%]
tests/unit/test_a.py::test_two[1-D] FAILED                               [ 66%]
------------------------------ Captured log call -------------------------------
ERROR    uvicorn.error:h11_impl.py:416 Exception in ASGI application
=========================== short test summary info ============================
FAILED tests/unit/test_a.py::test_two[1-D] - AssertionError: assert 1 == 2
ERROR tests/unit/test_b.py::test_three - RuntimeError: fixture
FAILED tests/unit/test_b.py::test_four[<lambda>-not sorted by name] - AssertionError
!!!!!!!!!!!!!!!!!!!!!!!!!! stopping after 1 failures !!!!!!!!!!!!!!!!!!!!!!!!!!!
"""


def test_failures_are_read_from_the_summary_else_the_verbose_lines():
    assert mutate.failures(SUMMARY) == ["tests/unit/test_a.py::test_two[1-D]", "tests/unit/test_b.py::test_three",
                                        "tests/unit/test_b.py::test_four[<lambda>-not sorted by name]"]
    cut_short = "tests/contracts/test_c.py::test_x PASSED [ 50%]\ntests/contracts/test_c.py::test_y FAILED [100%]\n"
    assert mutate.failures(cut_short) == ["tests/contracts/test_c.py::test_y"]
    assert mutate.failures("tests/unit/test_a.py::test_one PASSED [100%]\n1 passed\n") == []


def test_the_chain_runs_on_bench_anvil_and_never_on_the_suites_networks():
    chain = mutate.command(["tests/contracts/test_c.py"], True, ["tests/contracts/test_c.py::test_old"])
    assert chain[1:3] == ["test", "tests/contracts/test_c.py"] and chain[chain.index("--network") + 1] == "bench-anvil"
    assert "-x" in chain and chain[-2:] == ["--deselect", "tests/contracts/test_c.py::test_old"]
    unit = mutate.command(["tests/unit/test_a.py"], False, [])
    assert unit[1:3] == ["-m", "pytest"] and "no:pytest-brownie" in unit and "--network" not in unit
    assert mutate.PORT == 8547 and mutate.NETWORK == "bench-anvil"


def test_covers_matches_directories_files_and_ids():
    assert mutate._covers("tests/contracts/test_c.py::test_y[2]", "tests/contracts")
    assert mutate._covers("tests/contracts/test_c.py::test_y[2]", "tests/contracts/test_c.py")
    assert mutate._covers("tests/contracts/test_c.py::test_y[2]", "tests/contracts/test_c.py::test_y")
    assert not mutate._covers("tests/contracts/test_c.py::test_y", "tests/contracts/test_c.py::test_yz")
    assert not mutate._covers("tests/contracts/test_cd.py::test_y", "tests/contracts/test_c.py")


def test_a_run_is_killed_survived_or_timed_out(tmp_path):
    (tmp_path / "test_it.py").write_text(
        "import time\n"
        "def test_ok():\n    pass\n"
        "def test_bad():\n    assert 1 == 2\n"
        "def test_slow():\n    time.sleep(60)\n")
    log = tmp_path / "log"
    killed = mutate.run_tests(tmp_path, ["test_it.py"], False, 60, log)
    assert killed.status == "killed" and killed.failed == ["test_it.py::test_bad"]
    assert mutate.run_tests(tmp_path, ["test_it.py::test_ok"], False, 60, log).status == "survived"
    slow = mutate.run_tests(tmp_path, ["test_it.py::test_slow"], False, 3, log)
    assert slow.status == "timeout" and slow.seconds < 30
    assert mutate.run_tests(tmp_path, ["test_it.py"], False, 60, log, deselect=["test_it.py::test_bad",
                                                                               "test_it.py::test_slow"]).status == "survived"
    broken = mutate.run_tests(tmp_path, ["test_absent.py"], False, 60, log)
    assert broken.status == "error" and "exit status 4" in broken.detail


# ------------------------------------------------------------------------------------ the JSON


def _entry(id_, status, killed_by=None, **kw):
    return {"id": id_, "file": kw.get("file", "C.sol"), "line": 3, "file_sha256": kw.get("file_sha256", ""),
            "original": kw.get("original", "a"), "replacement": "b", "scope": None, "bug": "",
            "tests": ["tests/unit"], "status": status, "killed_by": killed_by, "seconds": 1.0,
            "equivalent": kw.get("equivalent"), "detail": ""}


def test_the_score_counts_killed_over_non_equivalent():
    entries = [_entry("a", "killed", "t::x"), _entry("b", "killed", "t::y"), _entry("c", "survived"),
               _entry("d", "timeout"), _entry("e", "equivalent", equivalent="why"), _entry("f", "error")]
    s = mutate.score(entries)
    assert (s["killed"], s["survived"], s["timeout"], s["equivalent"], s["error"]) == (2, 1, 1, 1, 1)
    assert s["non_equivalent"] == 4 and s["score"] == 0.5 and s["mutants"] == 6
    assert mutate.score([])["score"] is None


def test_results_of_mutants_not_run_are_kept_only_while_their_definition_and_file_hold(tmp_path):
    (tmp_path / "C.sol").write_text("a\n")
    (tmp_path / "D.sol").write_text("a\n")
    a, b, c, d = (mutant(id=i, original=o, replacement="b", file=f, tests=("tests/unit",))
                  for i, o, f in (("a", "a", "C.sol"), ("b", "a", "C.sol"), ("c", "other", "C.sol"), ("d", "a", "D.sol")))
    ran = mutate.file_sha256(tmp_path, "C.sol")
    previous = {"mutants": [_entry("b", "survived", file_sha256=ran), _entry("c", "killed", "t::x", file_sha256=ran),
                            _entry("d", "killed", "t::x", file="D.sol", file_sha256=ran), _entry("gone", "killed")]}
    (tmp_path / "D.sol").write_text("a\nchanged since d ran\n")
    merged = mutate.merge(previous, [_entry("a", "killed", "t::y", file_sha256=ran)], [a, b, c, d], tmp_path)
    assert [(e["id"], e["status"]) for e in merged] == [("a", "killed"), ("b", "survived")]


def test_the_report_has_the_documented_shape():
    entries = [_entry("a", "killed", "t::x"), _entry("b", "survived")]
    result = mutate.report(entries, "2026-01-01T00:00:00+00:00", 12.3, {"failing": [], "seconds": 1.0, "runs": []},
                           ["a", "b"], mutate.source_state())
    assert len(result["commit"]) == 40
    _check_shape(json.loads(json.dumps(result)))


def _check_shape(result):
    assert {"generated_at", "commit", "working_tree_changes", "network", "run", "score", "mutants"} <= set(result)
    assert set(result["score"]) >= {"killed", "survived", "timeout", "equivalent", "error", "non_equivalent", "score"}
    for e in result["mutants"]:
        assert {"id", "file", "line", "file_sha256", "original", "replacement", "status", "killed_by", "seconds",
                "equivalent"} <= set(e)
        assert e["status"] in mutate.STATUSES and isinstance(e["line"], int) and e["line"] >= 1
        assert (e["killed_by"] is not None) == (e["status"] == "killed")
        assert e["status"] != "equivalent" or e["equivalent"]
    assert result["score"] == mutate.score(result["mutants"])


def test_the_measured_results_file_has_that_shape_too():
    assert mutate.RESULTS.exists(), "benchmarks/results/mutation.json is committed: `make mutate` rewrites it"
    result = json.loads(mutate.RESULTS.read_text())
    _check_shape(result)
    assert [e["id"] for e in result["mutants"]] == [m.id for m in mutate.load(mutate.MUTANTS)]  # every listed one
    for e in result["mutants"]:  # a kill is a test of the suite that exists, not a log line
        if e["killed_by"] is not None:
            assert re.fullmatch(r"tests/\S+\.py::test_\w+(\[.*\])?", e["killed_by"]), (e["id"], e["killed_by"])
            path, name = e["killed_by"].split("::", 1)
            assert re.search(rf"^def {re.escape(name.split('[')[0])}\(", (ROOT / path).read_text(), re.M), e["killed_by"]
