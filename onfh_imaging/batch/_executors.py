"""Where the series of a batch are measured: in this process, a local process pool, or a Dask cluster.

Every executor offers the same few steps to the batch's scheduler: submit a call, wait for the first
calls to finish, wait for all, restart after a worker process died, close. ``window`` is how many
jobs it keeps in flight; ``crash_errors`` are the exceptions that mean a worker process died (the
scheduler then isolates the jobs that were in flight).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from onfh_imaging.errors import InputError

__all__ = ["DaskExecutor", "InlineExecutor", "LocalExecutor", "make_executor"]


class InlineExecutor:
    """Runs jobs in the calling process (``processes=0``): no isolation, for debugging and profiling.

    Attributes
    ----------
    crash_errors : tuple of exception types
        Exceptions of a future's result that mean its worker process died (none in this process).
    description : str
        Where the work runs, in words (for the progress bar and the summary).
    window : int
        Jobs kept in flight at once.
    """

    crash_errors: tuple[type[BaseException], ...] = ()
    description = "in-process"
    window = 1

    def submit(self, fn: Callable, *args: Any) -> cf.Future:
        """Run ``fn(*args)`` now and return its finished future.

        Parameters
        ----------
        fn : callable
            A picklable, module-level function.
        *args
            Its arguments.

        Returns
        -------
        Future
            Holding ``fn``'s result (an exception of ``fn`` propagates at once).
        """
        fut: cf.Future = cf.Future()
        fut.set_result(fn(*args))
        return fut

    def wait_first(self, futures: Iterable[cf.Future]) -> set:
        """The futures that have finished, once at least one has.

        Parameters
        ----------
        futures : iterable of Future
            Futures of this executor.

        Returns
        -------
        set of Future
            Every future given (in this process they are all finished).
        """
        return set(futures)

    def wait_all(self, futures: Iterable[cf.Future]) -> None:
        """Return once every future has finished.

        Parameters
        ----------
        futures : iterable of Future
            Futures of this executor.
        """

    def restart(self) -> None:
        """Replace dead worker processes with fresh ones (nothing to do in this process)."""

    def close(self) -> None:
        """Release the workers."""


class LocalExecutor(InlineExecutor):
    """A pool of spawned worker processes on this machine.

    Parameters
    ----------
    processes : int
        Worker processes, and jobs kept in flight.
    """

    crash_errors = (BrokenProcessPool,)

    def __init__(self, processes: int):
        self.window = processes
        self.description = f"{processes} local process{'es' if processes != 1 else ''}"
        self._pool = self._new_pool()

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        # spawn, not fork: the parent runs threads (progress display) that fork would copy mid-state
        return cf.ProcessPoolExecutor(
            max_workers=self.window, mp_context=multiprocessing.get_context("spawn")
        )

    def submit(self, fn: Callable, *args: Any) -> cf.Future:
        """Queue ``fn(*args)`` on the pool.

        Parameters
        ----------
        fn : callable
            A picklable, module-level function.
        *args
            Its (picklable) arguments.

        Returns
        -------
        Future

        Raises
        ------
        BrokenProcessPool
            When a worker process of the pool died since the last wait.
        """
        return self._pool.submit(fn, *args)

    def wait_first(self, futures: Iterable[cf.Future]) -> set:
        """The futures that have finished, once at least one has.

        Parameters
        ----------
        futures : iterable of Future
            Futures of this pool.

        Returns
        -------
        set of Future
        """
        return cf.wait(list(futures), return_when=cf.FIRST_COMPLETED).done

    def wait_all(self, futures: Iterable[cf.Future]) -> None:
        """Return once every future has finished.

        Parameters
        ----------
        futures : iterable of Future
            Futures of this pool.
        """
        cf.wait(list(futures))

    def restart(self) -> None:
        """Drop the broken pool (cancelling what it still holds) and start a new one."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()

    def close(self) -> None:
        """Shut the pool down, waiting for its processes to exit."""
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(InlineExecutor):
    """A ``dask.distributed`` cluster: an existing one (address) or a LocalCluster started here.

    Parameters
    ----------
    scheduler : str or None
        Address of a running scheduler (``tcp://host:8786``).
    workers : int or None
        Without a scheduler: start a LocalCluster of this many single-threaded worker processes.

    Raises
    ------
    InputError
        When dask.distributed is not installed or the scheduler cannot be reached (20 s).
    """

    def __init__(self, scheduler: str | None, workers: int | None):
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise InputError(
                "running on a Dask cluster needs dask.distributed",
                hint="pip install 'onfh-imaging[distributed]'",
            ) from exc
        self._cluster = None
        if scheduler is not None:
            try:
                self._client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise InputError(
                    f"cannot connect to the Dask scheduler at {scheduler}: {exc}",
                    hint="check the address (tcp://host:8786) and that the scheduler runs",
                ) from exc
            self.description = f"Dask scheduler {scheduler}"
        else:
            self._cluster = LocalCluster(
                n_workers=int(workers), threads_per_worker=1, processes=True, dashboard_address=":0"
            )
            self._client = Client(self._cluster)
            self.description = f"Dask LocalCluster of {workers} worker{'s' if workers != 1 else ''}"
        threads = sum(self._client.nthreads().values()) or 1
        self.window = 2 * threads

    def submit(self, fn: Callable, *args: Any) -> Any:
        """Submit ``fn(*args)`` to the cluster (never cached: each call runs).

        Parameters
        ----------
        fn : callable
            A picklable, module-level function importable on the workers.
        *args
            Its (picklable) arguments.

        Returns
        -------
        distributed.Future
        """
        return self._client.submit(fn, *args, pure=False)

    def wait_first(self, futures: Iterable[Any]) -> set:
        """The futures that have finished, once at least one has.

        Parameters
        ----------
        futures : iterable of distributed.Future
            Futures of this cluster.

        Returns
        -------
        set of distributed.Future
        """
        from distributed import wait

        return set(wait(list(futures), return_when="FIRST_COMPLETED").done)

    def wait_all(self, futures: Iterable[Any]) -> None:
        """Return once every future has finished.

        Parameters
        ----------
        futures : iterable of distributed.Future
            Futures of this cluster.
        """
        from distributed import wait

        wait(list(futures))

    def close(self) -> None:
        """Close the client, and the LocalCluster when this executor started it."""
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(scheduler: str | None, workers: int | None, processes: int | None) -> InlineExecutor:
    """The executor the batch options ask for.

    Parameters
    ----------
    scheduler : str or None
        Address of a running Dask scheduler.
    workers : int or None
        Dask workers of a LocalCluster to start (at least 1).
    processes : int or None
        Local worker processes when no Dask option is given: None for the usable cores, 0 for
        this process.

    Returns
    -------
    InlineExecutor
        A :class:`DaskExecutor`, an :class:`InlineExecutor` or a :class:`LocalExecutor`.

    Raises
    ------
    InputError
        When both Dask options are given, ``workers`` is below 1 or ``processes`` is negative, or as
        :class:`DaskExecutor` raises.
    """
    if scheduler is not None and workers is not None:
        raise InputError("give either a Dask scheduler address or a number of Dask workers, not both")
    if scheduler is not None or workers is not None:
        if workers is not None and workers < 1:
            raise InputError(f"the number of Dask workers must be at least 1, not {workers}")
        return DaskExecutor(scheduler, workers)
    if processes == 0:
        return InlineExecutor()
    n = processes if processes is not None else len(os.sched_getaffinity(0))
    if n < 0:
        raise InputError(f"the number of local processes cannot be negative ({n})")
    return LocalExecutor(n)
