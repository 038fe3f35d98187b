"""tools/slither_gate.py, the static-analysis gate, without slither: findings in slither's JSON
shape (elements nested in their parents, as `slither --json` writes them) judged against a triage
file. It passes when every High/Medium finding is accepted, fails on an unlisted finding and on a
stale entry, ignores lower impacts, refuses a failed slither run and a malformed triage file; and
the committed tools/slither-triage.toml is well-formed."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("slither_gate", ROOT / "tools" / "slither_gate.py")
gate = importlib.util.module_from_spec(_spec)
sys.modules["slither_gate"] = gate
_spec.loader.exec_module(gate)


def element(kind, name, parent=None, lines=(10, 11, 12), file="contracts/Tournament.sol"):
    fields = {"parent": parent} if parent else {}
    return {"type": kind, "name": name, "type_specific_fields": fields,
            "source_mapping": {"filename_relative": file, "lines": list(lines)}}


def finding(check, first, impact="Medium", description="what slither says\n\t- and where\n"):
    return {"check": check, "impact": impact, "confidence": "Medium", "elements": [first],
            "description": description, "id": "0" * 64}


TOURNAMENT = element("contract", "Tournament", lines=range(26, 700))
COMMITTEE = element("contract", "OracleCommittee", file="contracts/OracleCommittee.sol", lines=range(20, 240))
PAY_BATCH = element("function", "_payBatch", TOURNAMENT, lines=range(642, 655))
VOTE = element("function", "vote", COMMITTEE, file="contracts/OracleCommittee.sol", lines=range(87, 113))

LOCAL = finding("uninitialized-local", element("variable", "amount", PAY_BATCH, lines=[644]))
UNUSED = finding("unused-return", VOTE)
DIVIDE = finding("divide-before-multiply", element("function", "payoutDelta", TOURNAMENT, lines=range(515, 522)),
                 description="Tournament.payoutDelta(uint256,int64,uint256,uint256) performs a multiplication\n"
                             "\t- move = int256(factor) * score / SCORE_SCALE\n")

TRIAGE = """
[[accepted]]
detector = "uninitialized-local"
contract = "Tournament"
function = "_payBatch"
element = "amount"
reason = "a sum meant to start at 0"

[[accepted]]
detector = "unused-return"
contract = "OracleCommittee"
function = "vote"
reason = "only resolveTime is needed"
"""


def run(tmp_path, findings, triage=TRIAGE, success=True):
    report = {"success": success, "error": None if success else "compilation failed",
              "results": {"detectors": findings} if success else {}}
    (tmp_path / "slither.json").write_text(json.dumps(report))
    (tmp_path / "triage.toml").write_text(triage)
    return gate.main([str(tmp_path / "slither.json"), str(tmp_path / "triage.toml")])


def test_keys_name_detector_contract_function_and_element_never_lines():
    assert gate.finding_key(LOCAL) == ("uninitialized-local", "Tournament", "_payBatch", "amount")
    assert gate.finding_key(UNUSED) == ("unused-return", "OracleCommittee", "vote", "")
    state = finding("uninitialized-state", element("variable", "_pool", TOURNAMENT))
    assert gate.finding_key(state) == ("uninitialized-state", "Tournament", "", "_pool")
    node = finding("incorrect-equality", element("node", "x == 0", PAY_BATCH))
    assert gate.finding_key(node) == ("incorrect-equality", "Tournament", "_payBatch", "")
    assert gate.finding_key(finding("locked-ether", TOURNAMENT)) == ("locked-ether", "Tournament", "", "")
    moved = finding("uninitialized-local", element("variable", "amount", PAY_BATCH, lines=[900]))
    assert gate.finding_key(moved) == gate.finding_key(LOCAL)


def test_passes_when_every_finding_is_accepted(tmp_path, capsys):
    low = finding("calls-loop", PAY_BATCH, impact="Low")
    assert run(tmp_path, [LOCAL, UNUSED, low]) == 0
    assert capsys.readouterr().out.strip() == (
        f"slither gate: 2 High/Medium finding(s), 2 accepted in {tmp_path / 'triage.toml'}, 0 unlisted, 0 stale")


def test_fails_on_an_unlisted_finding_with_one_line_saying_what_and_where(tmp_path, capsys):
    assert run(tmp_path, [LOCAL, UNUSED, DIVIDE]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("unlisted: divide-before-multiply Tournament.payoutDelta [Medium] contracts/Tournament.sol#515-521: "
                      "Tournament.payoutDelta(uint256,int64,uint256,uint256) performs a multiplication "
                      "- move = int256(factor) * score / SCORE_SCALE")
    assert out[1].endswith("3 High/Medium finding(s), 2 accepted in " f"{tmp_path / 'triage.toml'}, 1 unlisted, 0 stale")
    assert len(out) == 2


def test_a_high_finding_is_gated_too(tmp_path, capsys):
    high = finding("arbitrary-send-erc20", PAY_BATCH, impact="High")
    assert run(tmp_path, [LOCAL, UNUSED, high]) == 1
    assert capsys.readouterr().out.startswith("unlisted: arbitrary-send-erc20 Tournament._payBatch [High] "
                                              "contracts/Tournament.sol#642-654: ")


def test_fails_on_a_stale_entry(tmp_path, capsys):
    assert run(tmp_path, [LOCAL]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "stale: unused-return OracleCommittee.vote is accepted in the triage file but no longer reported"
    assert out[1].endswith("0 unlisted, 1 stale")


def test_an_entry_accepts_only_its_own_key(tmp_path):
    other_local = finding("uninitialized-local", element("variable", "total", PAY_BATCH))
    assert run(tmp_path, [LOCAL, UNUSED, other_local]) == 1
    same_name_elsewhere = finding("unused-return", element("function", "vote", TOURNAMENT))
    assert run(tmp_path, [LOCAL, UNUSED, same_name_elsewhere]) == 1


def test_a_failed_slither_run_is_no_pass(tmp_path, capsys):
    assert run(tmp_path, [], triage="", success=False) == 2
    assert "slither reported a failure: compilation failed" in capsys.readouterr().err
    (tmp_path / "triage.toml").write_text("")
    assert gate.main([str(tmp_path / "missing.json"), str(tmp_path / "triage.toml")]) == 2


@pytest.mark.parametrize("entry, says", [
    ('detector = "unused-return"\ncontract = "OracleCommittee"\nfunction = "vote"', "`reason` is required"),
    ('detector = "unused-return"\ncontract = "OracleCommittee"\nreason = "  "', "`reason` is required"),
    ('detector = "unused-return"\ncontract = "OracleCommittee"\nreason = """two\nlines"""', "one line"),
    ('contract = "OracleCommittee"\nreason = "r"', "`detector` is required"),
    ('detector = "unused-return"\ncontract = "OracleCommittee"\nfunc = "vote"\nreason = "r"', "unknown field"),
])
def test_a_malformed_entry_is_refused(tmp_path, capsys, entry, says):
    assert run(tmp_path, [UNUSED], triage=f"[[accepted]]\n{entry}\n") == 2
    assert says in capsys.readouterr().err


def test_a_duplicate_entry_or_an_unknown_table_is_refused(tmp_path, capsys):
    again = '[[accepted]]\ndetector = "unused-return"\ncontract = "OracleCommittee"\nfunction = "vote"\nreason = "r"\n'
    assert run(tmp_path, [LOCAL, UNUSED], triage=TRIAGE + again) == 2
    assert "unused-return OracleCommittee.vote is listed twice" in capsys.readouterr().err
    assert run(tmp_path, [LOCAL, UNUSED], triage=TRIAGE + "\n[ignored]\nx = 1\n") == 2
    assert run(tmp_path, [UNUSED], triage="[[accepted]\n") == 2


def test_the_committed_triage_file_is_well_formed():
    triage = gate.tomllib.loads((ROOT / "tools" / "slither-triage.toml").read_text())
    accepted = gate.load_triage(triage)
    assert accepted and all(reason.strip() for reason in accepted.values())
