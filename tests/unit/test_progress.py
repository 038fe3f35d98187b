"""Progress of long steps: bars on a terminal, plain lines anywhere else (what CI captures)."""

import io
import os

from crowdstake.progress import BarSteps, Steps, steps_for


def _use(steps):
    with steps:
        with steps.step("fetching 3 files", total=3) as advance:
            for _ in range(3):
                advance()
        with steps.step("scoring"):
            pass


def _drain(fd) -> bytes:
    """Everything the terminal was sent: one read may return only part of it on a busy machine,
    and a pty whose writer is closed answers EIO at its end."""
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def test_captured_output_gets_one_plain_line_per_step():
    lines = []
    steps = steps_for(lines.append, io.StringIO())
    assert type(steps) is Steps
    _use(steps)
    assert lines == ["fetching 3 files", "scoring"]


def test_a_terminal_gets_bars_that_end_complete():
    reader, writer = os.openpty()
    with os.fdopen(writer, "w") as terminal:
        lines = []
        steps = steps_for(lines.append, terminal)
        assert isinstance(steps, BarSteps)
        _use(steps)
    shown = _drain(reader).decode()
    assert lines == []  # nothing goes to the log: the bars say it
    assert "fetching 3 files" in shown and "3/3" in shown and "scoring" in shown and "1/1" in shown
