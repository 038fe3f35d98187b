"""Running a document's shell section as written: its ```sh blocks joined into one script, and
a clean environment for it (the checkout's tools first, a home of its own)."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def section_script(text: str, heading: str) -> str:
    """The ```sh blocks of the section `heading` (a "## ..." line), in order, as one script."""
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + 1)
    blocks = re.findall(r"```sh\n(.*?)```", text[start:end if end > 0 else None], re.S)
    assert blocks, f"no shell block in the section {heading!r}"
    return "".join(blocks)


def env_for(home: Path, node: str) -> dict:
    """A clean environment: the checkout's venv and npm tools first, this checkout's package
    first on PYTHONPATH (a venv's editable install may point at another checkout), nothing of
    the caller's CROWDSTAKE_*."""
    path = os.pathsep.join([str(Path(sys.executable).parent), str(ROOT / "node_modules" / ".bin"), os.environ["PATH"]])
    return {"PATH": path, "PYTHONPATH": str(ROOT), "HOME": str(home), "CROWDSTAKE_HOME": str(home / ".crowdstake"),
            "CROWDSTAKE_RPC_URL": node, "CROWDSTAKE_CONFIG": str(home / "absent.toml"), "LANG": "C.UTF-8"}


def run_script(script: str, cwd: Path, env: dict, timeout: float = 900) -> str:
    """Run `script` under bash -euo pipefail; its output. Fails the test when the script fails.
    The output goes through a file, not a pipe: a background job the script started (a store it
    did not reach the kill of) would hold a pipe open; it is stopped either way."""
    log = Path(cwd) / ".script-output"
    with open(log, "w") as out:
        run = subprocess.Popen(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, text=True,
                               stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            run.wait(timeout=timeout)
        finally:
            try:
                os.killpg(run.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    output = log.read_text()
    assert run.returncode == 0, output[-6000:]
    return output
