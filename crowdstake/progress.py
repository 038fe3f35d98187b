"""Progress of long steps, told one way: a rich progress bar on a terminal, one plain line per
step anywhere else (tests and CI read those; a bar's redraws would only garble captured output).

    with steps.step("fetching 4 predictions files", total=4) as advance:
        for f in files: ...; advance()
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator, TextIO


class Steps:
    """Plain steps: each one is a line given to `log` when it starts."""

    def __init__(self, log: Callable[[str], None] = lambda message: None):
        self.log = log

    @contextmanager
    def step(self, what: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        """A long step; yields `advance(n=1)` for steps with a known `total` of units."""
        self.log(what)
        yield lambda n=1: None

    def __enter__(self) -> "Steps":
        return self

    def __exit__(self, *exc) -> None:
        pass


class BarSteps(Steps):
    """Steps drawn as rich progress bars (a spinner where the total is unknown) on a console;
    each stays on screen, completed, once its step is over."""

    def __init__(self, stream: TextIO):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        super().__init__()
        self.bar = Progress(SpinnerColumn(finished_text="[green]✓"), TextColumn("{task.description}"), BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), console=Console(file=stream))

    @contextmanager
    def step(self, what: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        task = self.bar.add_task(what, total=total)
        try:
            yield lambda n=1: self.bar.advance(task, n)
        finally:
            done = total if total is not None else 1
            self.bar.update(task, total=done, completed=done)

    def __enter__(self) -> "BarSteps":
        self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.stop()


def steps_for(log: Callable[[str], None], stream: TextIO = sys.stderr) -> Steps:
    """Bars on `stream` when it is a terminal, else plain lines through `log`."""
    return BarSteps(stream) if stream.isatty() else Steps(log)
