"""Mutation check: does the suite notice the bugs we would most likely write?

Each mutant in tools/mutants.toml is a one-line change to the contracts or the package: a file,
the exact text of (part of) one line, its replacement, and the tests that should notice it.
For each mutant this script, in a temporary copy of the checkout (never in the checkout
itself), applies the change, runs those tests, records whether one failed (killed, and by
which test) or none did (survived), and restores the copy.

    python tools/mutate.py                 # every mutant (Python ones first), then the JSON
    python tools/mutate.py --list          # the list and the line each mutant hits today
    python tools/mutate.py --only T-release-claim,Q-ties-half-up
    python tools/mutate.py --python-only   # only the mutants of crowdstake/ (no recompiles)

The copy is the working tree as it is now (tracked and untracked, non-ignored files), with
`.venv` and `node_modules` symlinked and `build/` copied, so brownie recompiles only a mutated
contract; after a contract mutant `build/` is put back, so the next one starts from the
unmutated compile. Tests under tests/unit run with plain pytest (brownie's plugin off); any
other test runs under `brownie test --network bench-anvil -x` (port 8547, with the suite's
block gas limit and base fee set in the copy's brownie-config.yaml; brownie starts the anvil and
stops it, and the script kills whatever is left of the run's process group).
A mutant lists unit tests first: the chain tests run only if the unit tests did not kill it.

Before the mutants, the tests they name run once unmutated (the baseline): a test that
already fails there is deselected from every mutant's run and listed in the JSON, so a test
someone is still writing neither kills nor hides a mutant (--no-baseline skips this).

Statuses: killed (a test failed or errored: the first one is recorded), survived, timeout
(the time ran out before any test failed), equivalent (listed with `equivalent = "reason"`
and not killed; not in the score), error (the run broke without a failing test, e.g. a
mutant that does not compile: fix the list). Score = killed / (killed + survived + timeout).
Results go to benchmarks/results/mutation.json, merged with the entries of mutants not run
this time, each kept only while its definition and its file are unchanged (an entry records
the sha256 of the unmutated file it ran against): a result always describes today's code.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "tools" / "mutants.toml"
RESULTS = ROOT / "benchmarks" / "results" / "mutation.json"

# The chain tests' network: brownie's development anvil on port 8547 (tools/brownie_networks.py),
# which nothing else uses while this runs; the suite's test-anvil (8548) and ganache (8546) are
# never touched.
NETWORK = "bench-anvil"
PORT = 8547
# bench-anvil's own settings (a 1e9 gas limit, base fee 0) are not the suite's: brownie sends each
# transaction with the block's whole gas limit, and at 1e9 gas a test's freshly funded account
# cannot pay for it. So the copy's brownie-config.yaml gives bench-anvil, in the copy alone, the
# block of test-anvil's anvil (its defaults); ~/.brownie's network list is left as it is.
SUITE_CHAIN = {"gas_limit": 30_000_000, "base_fee": 1_000_000_000}
LINKED = (".venv", "node_modules")  # symlinked into the copy, never copied
UNIT_TIMEOUT = 300  # seconds per mutant, unless the mutant sets `timeout`
CHAIN_TIMEOUT = 1200
PYTEST_FLAGS = ["-p", "no:cacheprovider", "-W", "ignore::FutureWarning", "-rfE", "-v"]
STATUSES = ("killed", "survived", "timeout", "equivalent", "error")
FIELDS = {"id", "file", "original", "replacement", "tests", "bug", "scope", "equivalent", "timeout"}
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class MutantError(Exception):
    """A mutant that cannot be applied as written (its text is missing or ambiguous), or a list
    that is malformed."""


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    original: str
    replacement: str
    tests: tuple[str, ...]
    bug: str = ""
    scope: str | None = None  # a unique line; the search is confined to the block it opens
    equivalent: str | None = None  # why no test can kill it
    timeout: float | None = None

    @property
    def unit_tests(self) -> list[str]:
        return [t for t in self.tests if _is_unit(t)]

    @property
    def chain_tests(self) -> list[str]:
        return [t for t in self.tests if not _is_unit(t)]

    @property
    def contract(self) -> bool:
        return self.file.endswith(".sol")

    def definition(self) -> dict:
        return {"file": self.file, "scope": self.scope, "original": self.original,
                "replacement": self.replacement}


def _is_unit(test: str) -> bool:
    return test == "tests/unit" or test.startswith("tests/unit/")


# --------------------------------------------------------------------------------------------
# the list


def load(path: Path = MUTANTS) -> list[Mutant]:
    """The mutants of a TOML list (`[[mutant]]` tables), checked for shape; MutantError says
    what is wrong and where."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except tomllib.TOMLDecodeError as e:
        raise MutantError(f"{path}: {e}") from None
    entries = data.get("mutant")
    if not isinstance(entries, list) or not entries:
        raise MutantError(f"{path}: no [[mutant]] tables")
    mutants, seen = [], set()
    for n, entry in enumerate(entries, start=1):
        where = f"{path}: mutant {n} ({entry.get('id', 'no id')})"
        unknown = set(entry) - FIELDS
        if unknown:
            raise MutantError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        for key in ("id", "file", "original", "replacement", "tests"):
            if key not in entry:
                raise MutantError(f"{where}: needs `{key}`")
        for key in ("id", "file", "original", "replacement", "bug", "scope", "equivalent"):
            if key in entry and not isinstance(entry[key], str):
                raise MutantError(f"{where}: `{key}` must be a string")
        if not ID.fullmatch(entry["id"]):
            raise MutantError(f"{where}: id {entry['id']!r} must be letters, digits, '-', '_' or '.'")
        if entry["id"] in seen:
            raise MutantError(f"{where}: id {entry['id']} appears twice")
        seen.add(entry["id"])
        if not entry["original"] or "\n" in entry["original"] or "\n" in entry["replacement"]:
            raise MutantError(f"{where}: `original` and `replacement` are text within one line (original not empty)")
        if entry["original"] == entry["replacement"]:
            raise MutantError(f"{where}: the replacement is the original")
        if entry.get("equivalent") == "":
            raise MutantError(f"{where}: `equivalent` needs its reason")
        tests = entry["tests"]
        if (not isinstance(tests, list) or not tests
                or not all(isinstance(t, str) and t.startswith("tests/") for t in tests)):
            raise MutantError(f"{where}: `tests` is a non-empty list of test paths or ids under tests/")
        timeout = entry.get("timeout")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
            raise MutantError(f"{where}: `timeout` is a positive number of seconds")
        mutants.append(Mutant(entry["id"], entry["file"], entry["original"], entry["replacement"], tuple(tests),
                              entry.get("bug", ""), entry.get("scope"), entry.get("equivalent"), timeout))
    return mutants


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _region(lines: list[str], mutant: Mutant) -> range:
    """The lines searched: the whole file, or with `scope` the block that the (unique) scope
    line opens: up to the next non-blank line indented no deeper than it, other than a line
    that closes its parameter list (`)`) or opens its body (`{`, after modifiers on lines of
    their own), so a function's body counts, not its neighbours."""
    if mutant.scope is None:
        return range(len(lines))
    hits = [i for i, line in enumerate(lines) if mutant.scope in line]
    if len(hits) != 1:
        raise MutantError(f"{mutant.id}: scope {mutant.scope!r} found {len(hits)} times in {mutant.file}, "
                          "needs exactly one")
    start = hits[0]
    depth = _indent(lines[start])
    end = start + 1
    while end < len(lines):
        line = lines[end]
        if line.strip() and _indent(line) <= depth and not line.lstrip().startswith((")", "{")):
            break
        end += 1
    return range(start, end)


def locate(text: str, mutant: Mutant) -> int:
    """The index of the one line that holds the mutant's original text; MutantError unless it
    appears exactly once (in the file, or in its scope)."""
    lines = text.splitlines(keepends=True)
    region = _region(lines, mutant)
    count = sum(lines[i].count(mutant.original) for i in region)
    if count != 1:
        where = f"the block of {mutant.scope!r} in {mutant.file}" if mutant.scope else mutant.file
        raise MutantError(f"{mutant.id}: {mutant.original!r} found {count} times in {where}, needs exactly one")
    return next(i for i in region if mutant.original in lines[i])


def mutate_text(text: str, mutant: Mutant) -> tuple[str, int]:
    """(the mutated text, the 1-based line number changed)."""
    lines = text.splitlines(keepends=True)
    i = locate(text, mutant)
    lines[i] = lines[i].replace(mutant.original, mutant.replacement, 1)
    return "".join(lines), i + 1


def apply(root: Path, mutant: Mutant) -> tuple[str, int]:
    """Write the mutant into its file under `root`; returns (the file's original text, line)."""
    path = Path(root) / mutant.file
    if not path.is_file():
        raise MutantError(f"{mutant.id}: no file {mutant.file}")
    original = path.read_text()
    mutated, line = mutate_text(original, mutant)
    path.write_text(mutated)
    return original, line


def restore(root: Path, mutant: Mutant, original: str) -> None:
    path = Path(root) / mutant.file
    path.write_text(original)
    if path.read_text() != original:
        raise MutantError(f"{mutant.id}: {mutant.file} could not be restored")


def check_tree(mutants: list[Mutant], root: Path = ROOT) -> dict[str, int]:
    """Every mutant's line in the tree at `root` (1-based), and every named test file exists;
    MutantError lists every problem at once."""
    lines, problems = {}, []
    for m in mutants:
        try:
            path = Path(root) / m.file
            if not path.is_file():
                raise MutantError(f"{m.id}: no file {m.file}")
            lines[m.id] = locate(path.read_text(), m) + 1
        except MutantError as e:
            problems.append(str(e))
        for t in m.tests:
            if not (Path(root) / t.split("::")[0]).exists():
                problems.append(f"{m.id}: no test file {t.split('::')[0]}")
    if problems:
        raise MutantError("\n".join(problems))
    return lines


# --------------------------------------------------------------------------------------------
# the copy


def make_copy(source: Path, dest: Path) -> Path:
    """`dest` becomes a copy of the working tree of `source`: its tracked files as they are
    now (deleted ones left out) and its untracked, non-ignored ones; `.venv` and
    `node_modules` symlinked; `build/` copied."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=source, check=True, capture_output=True).stdout.decode().split("\0")
    dest.mkdir(parents=True, exist_ok=True)
    for rel in sorted({p for p in listed if p}):
        src = source / rel
        if rel.split("/")[0] in LINKED or not (src.is_file() or src.is_symlink()):
            continue  # deleted in the working tree (or a submodule's directory)
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            target.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, target)
    for name in LINKED:
        if (source / name).exists():
            (dest / name).symlink_to(source / name)
    if (source / "build").is_dir():
        shutil.copytree(source / "build", dest / "build", symlinks=True)
    return dest


def configure_network(copy: Path, port: int = PORT) -> None:
    """In the copy's brownie-config.yaml (brownie lets a project override a development
    network's cmd_settings), run bench-anvil with the suite's block settings on `port`."""
    import yaml

    path = copy / "brownie-config.yaml"
    config = (yaml.safe_load(path.read_text()) if path.exists() else None) or {}
    networks = config.setdefault("networks", {})
    networks[NETWORK] = {"cmd_settings": {**SUITE_CHAIN, "port": port}}
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def reset_build(copy: Path, pristine: Path) -> None:
    """Put back the unmutated compile, so brownie recompiles nothing for the next mutant."""
    shutil.rmtree(copy / "build", ignore_errors=True)
    if pristine.is_dir():
        shutil.copytree(pristine, copy / "build", symlinks=True)


def environment(copy: Path) -> dict:
    """The copy's package first on sys.path (the venv's editable install points at the
    checkout), its node tools first on PATH, and no bytecode written: a mutated and a restored
    module of the same size within one second must never share a .pyc."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(copy / "node_modules" / ".bin"), str(Path(sys.executable).parent),
                                   env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join([str(copy)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


# --------------------------------------------------------------------------------------------
# running tests


@dataclass
class Outcome:
    status: str  # "killed", "survived", "timeout" or "error"
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    detail: str = ""


_SUMMARY = re.compile(r"^(?:FAILED|ERROR) (tests/.+?)(?: - .*)?$")  # not a captured log's "ERROR    uvicorn..."
_VERBOSE = re.compile(r"^(\S+::\S+)\s+(?:FAILED|ERROR)\b")
_COLLECT = re.compile(r"^ERROR (?:collecting )?(tests/\S+)")


def failures(output: str) -> list[str]:
    """The failed or errored tests in pytest's output (short summary, else -v lines), in order."""
    found = []
    for pattern in (_SUMMARY, _VERBOSE):
        for line in output.splitlines():
            m = pattern.match(line.strip())
            if m and m.group(1) not in found:
                found.append(m.group(1).strip())
        if found:
            return found
    return found


def command(tests: list[str], chain: bool, deselect: list[str], stop_first: bool = True) -> list[str]:
    bin_dir = Path(sys.executable).parent
    if chain:
        cmd = [str(bin_dir / "brownie"), "test", *tests, "--network", NETWORK]
    else:
        cmd = [sys.executable, "-m", "pytest", *tests, "-p", "no:pytest-brownie"]
    cmd += PYTEST_FLAGS + (["-x"] if stop_first else [])
    for test in deselect:
        cmd += ["--deselect", test]
    return cmd


def port_open(port: int = PORT) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _group_alive(pgid: int) -> list[int]:
    import psutil  # brownie's dependency, in the venv

    alive = []
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:  # a zombie is dead, unreaped
                alive.append(p.pid)
        except (ProcessLookupError, PermissionError, psutil.Error):
            pass
    return alive


def _end_group(pgid: int) -> None:
    """Kill what is left of a run's process group (its anvil, if brownie left it) and wait."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        for _ in range(50):
            if not _group_alive(pgid):
                return
            time.sleep(0.1)
    left = _group_alive(pgid)
    if left:
        raise RuntimeError(f"processes {left} of a test run would not stop")


def run_tests(copy: Path, tests: list[str], chain: bool, timeout: float, log: Path,
              deselect: list[str] = (), stop_first: bool = True) -> Outcome:
    """Run `tests` in the copy; killed if any test failed or errored, survived if all passed,
    timeout if time ran out first, error if the run broke without a failing test."""
    if chain and port_open():
        raise RuntimeError(f"port {PORT} is in use: brownie would attach to that node instead of its own; "
                           f"stop it, or wait for whoever runs {NETWORK}")
    start = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(command(tests, chain, list(deselect), stop_first), cwd=copy, env=environment(copy),
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out, rc = True, None
        finally:
            _end_group(proc.pid)
            proc.wait()
    seconds = time.monotonic() - start
    for _ in range(50):  # brownie's anvil lets go of the port a moment after it is killed
        if not (chain and port_open()):
            break
        time.sleep(0.1)
    else:
        raise RuntimeError(f"port {PORT} is still in use after a test run")
    output = log.read_text(errors="replace")
    failed = failures(output)
    tail = "\n".join(output.splitlines()[-30:])
    if failed:
        return Outcome("killed", failed, seconds)
    if timed_out:
        return Outcome("timeout", [], seconds, f"no test had failed after {timeout:.0f} s")
    if rc == 0:
        return Outcome("survived", [], seconds)
    return Outcome("error", [], seconds, f"exit status {rc} without a failing test:\n{tail}")


# --------------------------------------------------------------------------------------------
# the run


def _test_file(test: str) -> str:
    return test.split("::")[0]


def _covers(test_id: str, spec: str) -> bool:
    """Whether the selection `spec` (a directory, file or test id) includes the test `test_id`."""
    spec = spec.rstrip("/")
    return test_id == spec or test_id.startswith(spec + "::") or test_id.startswith(spec + "/") \
        or test_id.startswith(spec + "[")


def baseline(copy: Path, mutants: list[Mutant], logs: Path, say) -> dict:
    """Every test the mutants name, unmutated, without stopping at a failure: which fail already."""
    result = {"failing": [], "seconds": 0.0, "runs": []}
    for chain in (False, True):
        selection = sorted({t for m in mutants for t in (m.chain_tests if chain else m.unit_tests)})
        if not selection:
            continue
        # a file named whole covers its own test ids
        files = [t for t in selection if "::" not in t]
        selection = [t for t in selection if "::" not in t or not any(_covers(t, f) for f in files)]
        say(f"baseline: {len(selection)} {'chain' if chain else 'unit'} selections, unmutated")
        outcome = run_tests(copy, selection, chain, CHAIN_TIMEOUT * 3 if chain else UNIT_TIMEOUT * 3,
                            logs / f"baseline-{'chain' if chain else 'unit'}.log", stop_first=False)
        result["seconds"] += outcome.seconds
        result["runs"].append({"tier": "chain" if chain else "unit", "tests": selection,
                               "status": "passed" if outcome.status == "survived" else outcome.status,
                               "seconds": round(outcome.seconds, 1)})
        if outcome.status in ("timeout", "error"):
            raise RuntimeError(f"the unmutated baseline run did not finish ({outcome.status}): {outcome.detail}")
        result["failing"] += outcome.failed
        say(f"baseline: {outcome.seconds:.0f} s, " + (f"already failing: {', '.join(outcome.failed)}"
                                                     if outcome.failed else "every test passes"))
    return result


def run_mutant(copy: Path, pristine: Path, mutant: Mutant, logs: Path, known_failing: list[str],
               timeout_scale: float = 1.0) -> dict:
    original, line = apply(copy, mutant)
    unmutated = hashlib.sha256(original.encode()).hexdigest()
    start = time.monotonic()
    outcome = Outcome("survived")
    try:
        for chain, tests in ((False, mutant.unit_tests), (True, mutant.chain_tests)):
            if not tests:
                continue
            budget = (mutant.timeout or (CHAIN_TIMEOUT if chain else UNIT_TIMEOUT)) * timeout_scale
            deselect = [f for f in known_failing if any(_covers(f, t) for t in tests)]
            outcome = run_tests(copy, tests, chain, budget, logs / f"{mutant.id}-{'chain' if chain else 'unit'}.log",
                                deselect)
            if outcome.status != "survived":
                break
    finally:
        restore(copy, mutant, original)
        if mutant.contract:
            reset_build(copy, pristine)
    status = outcome.status
    if status == "survived" and mutant.equivalent:
        status = "equivalent"
    return {
        "id": mutant.id,
        "file": mutant.file,
        "line": line,
        "file_sha256": unmutated,
        "original": mutant.original,
        "replacement": mutant.replacement,
        "scope": mutant.scope,
        "bug": mutant.bug,
        "tests": list(mutant.tests),
        "status": status,
        "killed_by": outcome.failed[0] if outcome.failed else None,
        "seconds": round(time.monotonic() - start, 1),
        "equivalent": mutant.equivalent,
        "detail": outcome.detail or (f"listed as equivalent ({mutant.equivalent}) but killed: fix the list"
                                     if mutant.equivalent and status == "killed" else ""),
    }


def score(entries: list[dict]) -> dict:
    counts = {s: sum(e["status"] == s for e in entries) for s in STATUSES}
    counted = counts["killed"] + counts["survived"] + counts["timeout"]
    return {**counts, "mutants": len(entries), "non_equivalent": counted,
            "score": round(counts["killed"] / counted, 4) if counted else None}


def file_sha256(root: Path, file: str) -> str:
    return hashlib.sha256((Path(root) / file).read_bytes()).hexdigest()


def merge(previous: dict | None, fresh: list[dict], mutants: list[Mutant], root: Path = ROOT) -> list[dict]:
    """This run's entries, plus the previous file's entries of mutants not run now whose
    definition is unchanged and whose file under `root` is the one they ran against, in the
    list's order."""
    by_id = {e["id"]: e for e in (previous or {}).get("mutants", [])}
    by_id.update({e["id"]: e for e in fresh})
    kept = []
    for m in mutants:
        e = by_id.get(m.id)
        if (e and all(e.get(k) == v for k, v in m.definition().items()) and e.get("tests") == list(m.tests)
                and e.get("file_sha256") == file_sha256(root, m.file)):
            kept.append(e)
    return kept


def source_state(root: Path = ROOT) -> dict:
    """The commit the copy was taken from and whether the working tree differed from it; read
    when the copy is made (others may commit while the mutants run)."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True).stdout.strip()

    return {"commit": git("rev-parse", "HEAD"),
            "working_tree_changes": bool(git("status", "--porcelain", "--untracked-files=normal"))}


def report(entries: list[dict], started: str, seconds: float, base: dict | None, selection: list[str],
           source: dict) -> dict:
    return {
        "generated_at": started,
        **source,
        "network": f"{NETWORK} (port {PORT})",
        "run": {"mutants": selection, "seconds": round(seconds, 1),
                "baseline": base},
        "score": score(entries),
        "mutants": entries,
    }


def order(mutants: list[Mutant]) -> list[Mutant]:
    """Python mutants first (seconds each), then the contracts' (a recompile and a node each)."""
    return sorted(mutants, key=lambda m: m.contract)


def select(mutants: list[Mutant], only: str | None, python_only: bool) -> list[Mutant]:
    chosen = mutants
    if only:
        wanted = [w.strip() for w in only.split(",") if w.strip()]
        unknown = [w for w in wanted if w not in {m.id for m in mutants}]
        if unknown:
            raise MutantError(f"no mutant {', '.join(unknown)} in the list (--list shows them)")
        chosen = [m for m in mutants if m.id in wanted]
    if python_only:
        chosen = [m for m in chosen if not m.contract]
    return order(chosen)


def print_list(mutants: list[Mutant], lines: dict[str, int]) -> None:
    for m in order(mutants):
        mark = " (equivalent)" if m.equivalent else ""
        print(f"{m.id:<24} {m.file}:{lines[m.id]}{mark}")
        print(f"    {m.original!r} -> {m.replacement!r}")
        print(f"    tests: {' '.join(m.tests)}")
    per_file: dict[str, int] = {}
    for m in mutants:
        per_file[m.file] = per_file.get(m.file, 0) + 1
    print(f"\n{len(mutants)} mutants ({sum(bool(m.equivalent) for m in mutants)} listed as equivalent):")
    for f, n in per_file.items():
        print(f"  {n:3d}  {f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", metavar="ID[,ID]", help="run only these mutants")
    parser.add_argument("--python-only", action="store_true", help="only the mutants of Python files")
    parser.add_argument("--list", action="store_true", help="print the mutants and the lines they hit, run nothing")
    parser.add_argument("--mutants", type=Path, default=MUTANTS, help=f"the list (default {MUTANTS.relative_to(ROOT)})")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"the JSON (default {RESULTS.relative_to(ROOT)})")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run of the tests")
    parser.add_argument("--timeout-scale", type=float, default=1.0, help="multiply every time limit")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy and its logs")
    args = parser.parse_args(argv)

    def say(message: str) -> None:
        print(message, flush=True)

    try:
        mutants = load(args.mutants)
        lines = check_tree(mutants, ROOT)
        chosen = select(mutants, args.only, args.python_only)
    except MutantError as e:
        print(f"mutate: {e}", file=sys.stderr)
        return 2
    if args.list:
        print_list(mutants, lines)
        return 0
    if not chosen:
        print("mutate: no mutant selected", file=sys.stderr)
        return 2

    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    t0 = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="crowdstake-mutate-"))
    copy, pristine, logs = work / "repo", work / "build.pristine", work / "logs"
    logs.mkdir()
    fresh: list[dict] = []
    base = None
    previous = json.loads(args.out.read_text()) if args.out.is_file() else None
    source = source_state()
    try:
        say(f"copying the working tree to {copy}")
        make_copy(ROOT, copy)
        configure_network(copy)
        check_tree(chosen, copy)  # the copy is what runs: every mutant must apply there too
        if args.no_baseline:
            known = []
        else:
            base = baseline(copy, chosen, logs, say)
            known = base["failing"]
        if (copy / "build").is_dir():  # after the baseline: anything stale is compiled by now
            shutil.copytree(copy / "build", pristine, symlinks=True)
        for n, m in enumerate(chosen, start=1):
            say(f"[{n}/{len(chosen)}] {m.id}: {m.file} ...")
            entry = run_mutant(copy, pristine, m, logs, known, args.timeout_scale)
            fresh.append(entry)
            by = f" by {entry['killed_by']}" if entry["killed_by"] else ""
            say(f"[{n}/{len(chosen)}] {m.id}: {entry['status']}{by} ({entry['seconds']:.0f} s)"
                + (f"\n    {entry['detail']}" if entry["detail"] else ""))
            entries = merge(previous, fresh, mutants)
            write(args.out, report(entries, started, time.monotonic() - t0, base, [c.id for c in chosen], source))
    except (MutantError, RuntimeError) as e:
        print(f"mutate: {e}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    entries = merge(previous, fresh, mutants)
    result = report(entries, started, time.monotonic() - t0, base, [c.id for c in chosen], source)
    write(args.out, result)
    s = result["score"]
    say(f"\n{s['killed']} killed, {s['survived']} survived, {s['timeout']} timed out, {s['equivalent']} equivalent, "
        f"{s['error']} errors: score {s['score']} over {s['non_equivalent']} mutants "
        f"({time.monotonic() - t0:.0f} s); {args.out}")
    for e in entries:
        if e["status"] in ("survived", "timeout", "error"):
            say(f"  {e['status']:<9} {e['id']}: {e['file']}:{e['line']}  {e['bug']}")
    return 0


def write(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(path)


if __name__ == "__main__":
    sys.exit(main())
