"""The static-analysis gate (`make slither`): slither's findings checked against a triage file.

    python tools/slither_gate.py SLITHER_JSON TRIAGE_TOML

SLITHER_JSON is what `slither --json FILE` wrote; TRIAGE_TOML lists the accepted findings as
`[[accepted]]` tables: `detector`, `contract`, optionally `function` and `element`, and a
one-line `reason` (required). Only High and Medium findings are gated; other impacts are ignored.

A finding's key is (detector, contract, function, element), read from its first element and that
element's parents: the contract and function that hold it, and `element`, the element's own name
when it is neither a contract, a function nor a statement (a local or state variable, an event...),
else "". No line numbers, so an edit elsewhere in a file keeps the key; overloads of one name share
a key, and one entry accepts every finding with its key.

Exit status: 0 when every High/Medium finding is accepted and every entry still matches one;
1 when some are not: one line per unlisted finding (detector, impact, location, description) and
per stale entry (it matches nothing, so delete it and the file stays true); 2 when an input is
unusable (slither reported a failure, a file is missing, an entry is malformed). Standard library
only, so the unit tier imports it without slither.
"""

import json
import sys
import tomllib
from pathlib import Path

GATED = ("High", "Medium")
FIELDS = ("detector", "contract", "function", "element")
NOT_ELEMENTS = ("contract", "function", "node")


class GateError(Exception):
    """An input the gate cannot judge by (exit status 2)."""


def finding_key(finding):
    """(detector, contract, function, element) of one slither detector result."""
    elements = finding.get("elements") or [{}]
    first = elements[0]
    names = {}
    item = first
    while item:
        names.setdefault(item.get("type"), item.get("name", ""))
        item = (item.get("type_specific_fields") or {}).get("parent")
    element = "" if first.get("type") in NOT_ELEMENTS else first.get("name", "")
    return (finding["check"], names.get("contract", ""), names.get("function", ""), element)


def location(finding):
    """`file#first-last` of a finding's first element."""
    mapping = ((finding.get("elements") or [{}])[0]).get("source_mapping") or {}
    lines = mapping.get("lines") or []
    where = mapping.get("filename_relative", "?")
    if lines:
        where += f"#{lines[0]}" if len(lines) == 1 else f"#{lines[0]}-{lines[-1]}"
    return where


def show_key(key):
    """`detector Contract.function.element`, the parts that are set."""
    detector, *where = key
    return f"{detector} {'.'.join(part for part in where if part)}"


def load_findings(report):
    """The gated detector results of a parsed slither JSON report."""
    if not report.get("success", False):
        raise GateError(f"slither reported a failure: {report.get('error')}")
    detectors = (report.get("results") or {}).get("detectors") or []
    return [f for f in detectors if f.get("impact") in GATED]


def load_triage(triage):
    """The accepted keys of a parsed triage file, each checked: known fields, a one-line reason."""
    entries = triage.get("accepted", [])
    unknown = set(triage) - {"accepted"}
    if unknown or not isinstance(entries, list):
        raise GateError(f"the triage file holds only [[accepted]] tables, not {sorted(unknown) or 'accepted'}")
    keys = {}
    for i, entry in enumerate(entries, 1):
        extra = set(entry) - set(FIELDS) - {"reason"}
        if extra:
            raise GateError(f"entry {i}: unknown field(s) {sorted(extra)}")
        for field in ("detector", "contract", "reason"):
            if not isinstance(entry.get(field), str) or not entry[field].strip():
                raise GateError(f"entry {i}: `{field}` is required")
        if "\n" in entry["reason"]:
            raise GateError(f"entry {i}: the reason is one line")
        key = tuple(entry.get(field, "") for field in FIELDS)
        if key in keys:
            raise GateError(f"entry {i}: {show_key(key)} is listed twice")
        keys[key] = entry["reason"]
    return keys


def judge(findings, accepted):
    """(unlisted findings, stale keys): what is found but not accepted, and accepted but not found."""
    found = {finding_key(f) for f in findings}
    unlisted = [f for f in findings if finding_key(f) not in accepted]
    stale = [key for key in accepted if key not in found]
    return unlisted, stale


def report_lines(unlisted, stale):
    """One line per unlisted finding and per stale entry."""
    lines = []
    for f in unlisted:
        description = " ".join(f.get("description", "").split())
        lines.append(f"unlisted: {show_key(finding_key(f))} [{f['impact']}] {location(f)}: {description}")
    for key in stale:
        lines.append(f"stale: {show_key(key)} is accepted in the triage file but no longer reported")
    return lines


def main(argv):
    if len(argv) != 2:
        print("usage: " + __doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    json_path, triage_path = map(Path, argv)
    try:
        try:
            report = json.loads(json_path.read_text(encoding="utf-8"))
            triage = tomllib.loads(triage_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise GateError(str(error)) from error
        findings = load_findings(report)
        accepted = load_triage(triage)
    except GateError as error:
        print(f"slither gate: {error}", file=sys.stderr)
        return 2
    unlisted, stale = judge(findings, accepted)
    for line in report_lines(unlisted, stale):
        print(line)
    print(f"slither gate: {len(findings)} High/Medium finding(s), {len(findings) - len(unlisted)} accepted "
          f"in {triage_path}, {len(unlisted)} unlisted, {len(stale)} stale")
    return 1 if unlisted or stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
