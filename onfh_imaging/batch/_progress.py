"""The progress display of a batch run: counts, rate and ETA on stderr, never a patient identifier."""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["ProgressBar"]


class ProgressBar:
    """A rich progress bar on stderr: counts, rate and ETA; silent when disabled.

    Parameters
    ----------
    enabled : bool
        Show the bar; when False (or ``total`` is 0) only the counts are kept.
    total : int
        Series to measure.
    description : str
        Where the work runs, shown on the bar.

    Attributes
    ----------
    counts : Counter of str
        Finished series by record status (``ok``, ``failed``).
    """

    def __init__(self, enabled: bool, total: int, description: str):
        self.counts: Counter[str] = Counter()
        self._bar = None
        if not enabled or total == 0:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class RateColumn(ProgressColumn):
            def render(self, task: Any) -> Text:
                speed = task.finished_speed or task.speed
                return Text("-- series/min" if not speed else f"{60 * speed:.1f} series/min")

        self._bar = Progress(
            TextColumn("[bold]measuring[/] ({task.fields[where]})"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            RateColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._bar.add_task("batch", total=total, where=description, counts="")
        self._bar.start()

    def advance(self, status: str) -> None:
        """Count one finished series and move the bar.

        Parameters
        ----------
        status : str
            The series' record status.
        """
        self.counts[status] += 1
        if self._bar is not None:
            text = f"ok {self.counts['ok']}, failed {self.counts['failed']}"
            self._bar.update(self._task, advance=1, counts=text)

    def close(self) -> None:
        """Stop the bar (its last state stays on the terminal)."""
        if self._bar is not None:
            self._bar.stop()
