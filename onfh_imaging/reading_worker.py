"""A reading session's long work in a separate process, so a viewer's GUI thread never waits for it.

Segmenting and measuring run numpy and scipy code that holds Python's GIL for tenths of a second at a
time; run in a thread of the viewer's own process, that freezes the canvas while it runs. A
:class:`ProcessWorker` runs :meth:`~onfh_imaging.reading.ReadingSession.compute` and
:func:`~onfh_imaging.reading.measure_job` in one child Python process (started once and reused) and
forwards the child's progress reports to the calling thread.

The child is a plain ``python -c`` process talking pickles over its stdin and stdout, not a
``multiprocessing`` one: those import the parent's main script again, which would run a viewer's
start-up script a second time.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, BinaryIO

from onfh_imaging.errors import OnfhError

_LENGTH = struct.Struct("<Q")


class WorkerDied(OnfhError):
    """The worker process ended without answering (killed, or out of memory)."""


def _send(stream: BinaryIO, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _receive(stream: BinaryIO) -> Any:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("the worker process closed its pipe")
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the worker process closed its pipe")
    return pickle.loads(data)


def _compute(image: Any, info: Any, fluid_sensitive: Any, head_seeds: Mapping[str, Any] | None,
             progress: Callable[[float, str], None]) -> Any:
    from onfh_imaging.reading import ReadingSession

    session = ReadingSession(image, info, fluid_sensitive=fluid_sensitive)
    return session.compute(head_seeds=head_seeds, progress=progress)


def _measure(jobs: Sequence[Any], progress: Callable[[float, str], None]) -> list[tuple]:
    from onfh_imaging.reading import measure_job

    return [measure_job(job) for job in jobs]


def _measure_shown(jobs: Sequence[Any], progress: Callable[[float, str], None]) -> list[tuple]:
    from onfh_imaging.reading import measure_job_shown

    return [measure_job_shown(job) for job in jobs]


_TASKS = {"compute": _compute, "measure": _measure, "measure_shown": _measure_shown}


def serve() -> None:
    """The child's loop: read ``(task, args)``, answer ``("progress", f, m)``... then ``("result", value)``
    or ``("error", exception)``. Anything the toolkit prints goes to stderr, never into the pipe."""
    requests, answers = sys.stdin.buffer, os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    def progress(fraction: float, message: str) -> None:
        _send(answers, ("progress", float(fraction), str(message)))

    while True:
        try:
            task, args = _receive(requests)
        except EOFError:
            return
        try:
            _send(answers, ("result", _TASKS[task](*args, progress)))
        except Exception as exc:  # noqa: BLE001 - any failure is the parent's to raise, in the waiting thread
            _send(answers, ("error", exc))


class ProcessWorker:
    """One child process doing a session's segmentation and measuring, one task at a time.

    Methods block the calling thread (a worker thread of the viewer) until the result is back. The
    child starts on first use, or at :meth:`start` so that its imports are done before the reader asks.
    """

    def __init__(self) -> None:
        self._child: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def _process(self) -> subprocess.Popen:
        if self._child is None or self._child.poll() is not None:
            code = "from onfh_imaging.reading_worker import serve; serve()"
            self._child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                               p for p in sys.path if p)})
        return self._child

    def start(self) -> None:
        """Start the child process now (it imports the toolkit on its first task)."""
        with self._lock:
            self._process()

    def compute(self, session: Any, head_seeds: Mapping[str, Any] | None = None,
                progress: Callable[[float, str], None] | None = None) -> Any:
        """:meth:`~onfh_imaging.reading.ReadingSession.compute` of ``session``'s series, in the child.

        Parameters
        ----------
        session : ReadingSession
            The session whose ``image``, ``info`` and ``fluid_sensitive`` series are sent to the child.
        head_seeds : mapping of side to points, optional
            The reader's head seeds, as :meth:`~onfh_imaging.reading.ReadingSession.compute` takes them
            (LPS mm on MR, row/column pixels on a radiograph).
        progress : callable, optional
            ``progress(fraction, message)``, called in this thread with the child's reports.

        Returns
        -------
        Segmented
            The child's result, for :meth:`~onfh_imaging.reading.ReadingSession.load`.

        Raises
        ------
        WorkerDied
            When the child process ends before answering (a new one starts on the next task).
        """
        return self._run("compute", (session.image, session.info, session.fluid_sensitive, head_seeds), progress)

    def measure(self, jobs: Sequence[Any]) -> list[tuple]:
        """:func:`~onfh_imaging.reading.measure_job` of each job, in the child.

        Parameters
        ----------
        jobs : sequence of MeasureJob
            Snapshots of the edited hips (:meth:`~onfh_imaging.reading.ReadingSession.jobs`).

        Returns
        -------
        list of tuple
            One ``(side, hashes, measures dict or None, HipMeasures or reason)`` per job, in order.

        Raises
        ------
        WorkerDied
            When the child process ends before answering.
        """
        return self._run("measure", (list(jobs),), None)

    def measure_shown(self, jobs: Sequence[Any]) -> list[tuple]:
        """:func:`~onfh_imaging.reading.measure_job_shown` of each job (measures and the deviation map to
        show), in the child.

        Parameters
        ----------
        jobs : sequence of MeasureJob
            Snapshots of the edited hips (:meth:`~onfh_imaging.reading.ReadingSession.jobs`).

        Returns
        -------
        list of tuple
            One ``(measure_job result, DisplaySurface or None)`` per job, in order.

        Raises
        ------
        WorkerDied
            When the child process ends before answering.
        """
        return self._run("measure_shown", (list(jobs),), None)

    def _run(self, task: str, args: tuple, progress: Callable[[float, str], None] | None) -> Any:
        with self._lock:
            child = self._process()
            try:
                _send(child.stdin, (task, args))
                while True:
                    kind, *payload = _receive(child.stdout)
                    if kind == "progress":
                        if progress is not None:
                            progress(*payload)
                        continue
                    if kind == "error":
                        raise payload[0]
                    return payload[0]
            except (EOFError, BrokenPipeError, OSError) as exc:
                self._stop(child)
                raise WorkerDied(f"the worker process ended during {task}: {exc}",
                                 hint="try again; a new worker process starts") from exc

    def _stop(self, child: subprocess.Popen) -> None:
        if child.poll() is None:
            child.kill()
        child.wait()
        self._child = None

    def shutdown(self) -> None:
        """Stop the child process (a new one starts on the next task)."""
        with self._lock:
            if self._child is not None:
                self._child.stdin.close()
                try:
                    self._child.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._child.kill()
                self._child = None


__all__ = ["ProcessWorker", "WorkerDied", "serve"]
