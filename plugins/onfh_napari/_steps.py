"""GUI work in steps: each step runs in its own turn of the Qt event loop, so the canvas repaints and takes
input between two steps.

The viewer's own work (adding a layer builds its visual, setting a layer's data redraws it) runs on the
GUI thread and cannot be moved off it; what the widget can do is give napari one such piece at a time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from qtpy.QtCore import QTimer

Step = Callable[[], None]

STEP_GAP_MS = 1
"""Delay before each step (ms). A zero delay posts the next step as an event, which Qt may run in the same
pass as the step before it, ahead of the repaint that step asked for; a timer runs after the pending
events, so the canvas repaints (and takes input) between two steps. 1 ms per step is not seen."""


class StepQueue:
    """Steps run one per event-loop turn (``QTimer.singleShot(STEP_GAP_MS, ...)``), in the order queued.

    Steps queued while others wait run after them; :meth:`clear` drops those not run yet.
    """

    def __init__(self) -> None:
        self._steps: deque[Step] = deque()
        self._scheduled = False

    def extend(self, steps: Iterable[Step]) -> None:
        """Queue steps; the first runs on the next turn of the event loop.

        Parameters
        ----------
        steps : iterable of callable
            Functions taking no argument, each one piece of GUI work.
        """
        self._steps.extend(steps)
        if self._steps and not self._scheduled:
            self._scheduled = True
            QTimer.singleShot(STEP_GAP_MS, self._run_one)

    def clear(self) -> None:
        """Drop the steps not run yet."""
        self._steps.clear()

    def __bool__(self) -> bool:
        return bool(self._steps)

    def __len__(self) -> int:
        return len(self._steps)

    def __contains__(self, step: object) -> bool:
        return step in self._steps

    def run_one(self) -> None:
        """Run the next step now (the event loop calls this; a test may too)."""
        if self._steps:
            self._steps.popleft()()

    def _run_one(self) -> None:
        try:
            self.run_one()
        finally:
            self._scheduled = bool(self._steps)
            if self._scheduled:
                QTimer.singleShot(STEP_GAP_MS, self._run_one)


__all__ = ["STEP_GAP_MS", "Step", "StepQueue"]
