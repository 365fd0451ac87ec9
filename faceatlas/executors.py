"""Where a scan's per-photo work runs: local worker processes, or a Dask cluster.

Both executors map one picklable module-level function over tasks and yield the results in
the order they complete, to the one process that writes the catalog. The function must be
pure (a file in, records out), as :func:`faceatlas.pipeline.process_file` is, so a task
that is run twice (a Dask worker died half-way and the scheduler ran it elsewhere) gives
the same records.

``scheduler`` names the executor:

- ``None``: ``jobs`` local processes (the default; inline for one job).
- ``"local:N"``: a Dask ``LocalCluster`` of N one-thread worker processes on this machine.
- ``"tcp://HOST:PORT"``: a running Dask scheduler (``dask scheduler``) and its workers
  (``dask worker tcp://HOST:PORT --nthreads 1``), which must read the photos at the same
  paths (a shared file system) and have faceatlas installed.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from faceatlas.exceptions import FaceAtlasError, InputError

Failed = Callable[[Any, str], Any]

_SCHEDULER = re.compile(r"^(?:tcp://[^\s:/]+:\d{1,5}|local:\d+)$")
#: Tasks in flight per worker thread: enough to hide the round trip, few enough that a
#: million-photo scan never holds a million futures.
IN_FLIGHT_PER_THREAD = 4


class SchedulerError(FaceAtlasError):
    """The Dask scheduler cannot be reached or the cluster cannot be started."""


def check_scheduler(spec: str) -> str:
    """Validate ``tcp://HOST:PORT`` or ``local:N`` (N >= 1); returns it unchanged."""
    if not isinstance(spec, str) or not _SCHEDULER.match(spec):
        raise InputError(
            f"scheduler must be tcp://HOST:PORT (a running `dask scheduler`) or local:N "
            f"(N local worker processes), got {spec!r}"
        )
    if spec.startswith("local:") and int(spec.split(":")[1]) < 1:
        raise InputError(f"scheduler local:N needs N >= 1 worker processes, got {spec!r}")
    return spec


# -- what every worker process does once ------------------------------------------------------
_READY = False
_ONE_AT_A_TIME = threading.Lock()


def init_worker() -> None:
    """One process per core does the parallelism; threads inside each would fight over cores."""
    global _READY
    if not _READY:
        import cv2

        cv2.setNumThreads(1)
        _READY = True


def _call_on_worker(fn: Callable[[Any], Any], task: Any) -> Any:
    """A task on a Dask worker: set the process up once; one task at a time per process.

    The models are cached per process and OpenCV's networks are not thread-safe, so a
    worker started with several threads still runs one face model call at a time
    (start workers with ``--nthreads 1`` and one process per core instead).
    """
    init_worker()
    with _ONE_AT_A_TIME:
        return fn(task)


# -- the executors ------------------------------------------------------------------------------
def local_pool(fn: Callable[[Any], Any], tasks: Sequence[Any], jobs: int) -> Iterator[Any]:
    """Map ``fn`` over tasks in ``jobs`` processes (inline for one job or few tasks)."""
    if jobs <= 1 or len(tasks) < 2:
        init_worker()
        yield from map(fn, tasks)
        return
    # forkserver: workers start from a clean process, so no OpenMP or BLAS thread state
    # of the parent is inherited (a known cause of hangs with fork).
    ctx = multiprocessing.get_context("forkserver")
    with ctx.Pool(min(jobs, len(tasks)), initializer=init_worker) as pool:
        yield from pool.imap_unordered(fn, tasks, chunksize=1)


def dask_pool(
    client: Any, fn: Callable[[Any], Any], tasks: Sequence[Any], failed: Failed
) -> Iterator[Any]:
    """Map ``fn`` over tasks on a Dask cluster, a bounded number in flight, as completed.

    A task whose worker died is run again elsewhere by the scheduler; one that killed
    ``distributed.scheduler.allowed-failures`` workers in a row (a file that crashes the
    decoder) or raised comes back as ``failed(task, reason)`` so the scan records it and
    goes on.
    """
    from distributed import as_completed

    if not tasks:
        return
    threads = sum(client.nthreads().values()) or 1
    window = max(2, IN_FLIGHT_PER_THREAD * threads)
    pending = iter(enumerate(tasks))
    which: dict[Any, int] = {}

    def submit() -> Any | None:
        item = next(pending, None)
        if item is None:
            return None
        i, task = item
        # pure=False: a task is its file's work now, never a cached answer of an old run
        future = client.submit(_call_on_worker, fn, task, pure=False)
        which[future] = i
        return future

    running = as_completed([f for f in (submit() for _ in range(window)) if f is not None])
    for future in running:
        i = which.pop(future)
        try:
            result = future.result()
        except Exception as exc:  # noqa: BLE001 - KilledWorker or the task's own error
            result = failed(tasks[i], f"{type(exc).__name__}: {exc}")
        future.release()
        nxt = submit()
        if nxt is not None:
            running.add(nxt)
        yield result


class Executor:
    """``map(fn, tasks, failed)`` on the chosen workers; a context manager around the cluster."""

    def __init__(self, scheduler: str | None = None, jobs: int = 1) -> None:
        self.scheduler = None if scheduler is None else check_scheduler(scheduler)
        self.jobs = jobs
        self.client: Any = None
        self._cluster: Any = None

    def __enter__(self) -> Executor:
        return self.start()

    def start(self) -> Executor:
        """Connect to the scheduler or start the local cluster (nothing for local processes)."""
        if self.scheduler is None or self.client is not None:
            return self
        try:
            import distributed
        except ImportError:
            raise SchedulerError(
                f"scheduler {self.scheduler}: Dask is not installed (pip install 'faceatlas[dask]')"
            ) from None
        try:
            if self.scheduler.startswith("local:"):
                self._cluster = distributed.LocalCluster(
                    n_workers=int(self.scheduler.split(":")[1]),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",  # any free port, never a clash
                )
                self.client = distributed.Client(self._cluster)
            else:
                self.client = distributed.Client(self.scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            self.close()
            raise SchedulerError(
                f"cannot reach the Dask scheduler at {self.scheduler}: {' '.join(str(exc).split())}"
            ) from None
        return self

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any], failed: Failed) -> Iterator[Any]:
        """Results of ``fn`` over ``tasks``, in completion order."""
        if self.client is None:
            return local_pool(fn, tasks, self.jobs)
        return dask_pool(self.client, fn, tasks, failed)

    def describe(self) -> str:
        if self.client is None:
            return f"{self.jobs} local process{'es' if self.jobs != 1 else ''}"
        workers = self.client.nthreads()
        return f"Dask {self.scheduler}: {len(workers)} workers, {sum(workers.values())} threads"

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.client is not None:
                self.client.close()
        with contextlib.suppress(Exception):
            if self._cluster is not None:
                self._cluster.close()
        self.client = self._cluster = None

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["Executor", "SchedulerError", "check_scheduler", "dask_pool", "local_pool"]
