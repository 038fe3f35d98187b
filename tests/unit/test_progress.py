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
    shown = os.read(reader, 1 << 16).decode()
    os.close(reader)
    assert lines == []  # nothing goes to the log: the bars say it
    assert "fetching 3 files" in shown and "3/3" in shown and "scoring" in shown and "1/1" in shown
