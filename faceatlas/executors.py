"""Where a scan's per-photo work runs when it leaves this machine: a Dask cluster.

The executor maps one picklable module-level function over tasks and yields the results
in the order they complete, to the one process that writes the catalog (as the local
process pool of ``pipeline`` does). The function must be
pure (a file in, records out), as :func:`faceatlas.pipeline.process_file` is, so a task
that is run twice (a Dask worker died half-way and the scheduler ran it elsewhere) gives
the same records.

``scheduler`` names the executor:

- ``None``: nothing here; the scan uses its local processes (the default).
- ``"local:N"``: a Dask ``LocalCluster`` of N one-thread worker processes on this machine.
- ``"tcp://HOST:PORT"``: a running Dask scheduler (``dask scheduler``) and its workers
  (``dask worker tcp://HOST:PORT --nthreads 1``), which must read the photos at the same
  paths (a shared file system) and have faceatlas installed.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from faceatlas.exceptions import FaceAtlasError, InputError

Failed = Callable[[Any, str], Any]

_SCHEDULER = re.compile(r"^(?:tcp://[^\s:/]+:\d{1,5}|local:\d+)$")
#: Tasks in flight per worker thread: enough to hide the round trip, few enough that a
#: million-photo scan never holds a million futures.
IN_FLIGHT_PER_THREAD = 4
#: Files per Dask task at most (about a second of work): see :func:`batch_size`.
MAX_BATCH = 32


#: Dask settings for a scan cluster. Dask's defaults sample every worker's stack 100 times a
#: second (the profiler), check the event loop 50 times a second and the memory 10 times:
#: 127 ms of CPU per second for a scheduler with one idle worker, measured on the 2-core
#: machine of docs/benchmarks.md, 12 ms with these; a scan's tasks need none of it.
CLUSTER_SETTINGS = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
}


def cluster_environment() -> dict[str, str]:
    """:data:`CLUSTER_SETTINGS` as the environment of ``dask scheduler`` and ``dask worker``."""
    return {
        "DASK_" + key.upper().replace(".", "__").replace("-", "_"): str(value)
        for key, value in CLUSTER_SETTINGS.items()
    }


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
        _adaptive_malloc()
        _READY = True


# glibc's mallopt parameters, and the values its adaptive thresholds reach at most
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_MAX = 32 << 20


def _adaptive_malloc() -> None:
    """Undo the ``MALLOC_TRIM_THRESHOLD_`` Dask's nanny gives its workers.

    Setting it turns glibc's adaptive mmap threshold off: every array over 128 KB (each
    decoded photo, each resized copy) is then mapped and unmapped again, which cost 450 page
    faults and 1.4 ms of CPU more per LFW photo (+10 %; 14.7 -> 16.1 ms, measured on the
    machine of docs/benchmarks.md). The thresholds glibc adapts to on its own are set back,
    so freed photos are reused by the next one; a worker still returns free memory over
    64 MB to the system.
    """
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ or not sys.platform.startswith("linux"):
        return
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)
        libc.mallopt(_M_TRIM_THRESHOLD, 2 * _MMAP_THRESHOLD_MAX)
    except (OSError, AttributeError):  # not glibc (musl has no mallopt): nothing to undo
        pass


def _call_on_worker(fn: Callable[[Any], Any], batch: Sequence[Any]) -> list[Any]:
    """One task on a Dask worker: a batch of files; the process is set up once.

    The models are cached per process and OpenCV's networks are not thread-safe, so a
    worker started with several threads still runs one face model call at a time
    (start workers with ``--nthreads 1`` and one process per core instead).
    """
    init_worker()
    with _ONE_AT_A_TIME:
        return [fn(task) for task in batch]


def batch_size(n_tasks: int, threads: int) -> int:
    """Files per Dask task: up to :data:`MAX_BATCH`, and at least 8 tasks per thread.

    One task per photo would cost the scheduler more than the photo's work once a
    cluster has a few dozen cores (its few milliseconds per task against about 30 ms of
    work per photo); batches keep that share small, and enough tasks per thread keep the
    workers evenly busy to the end.
    """
    return max(1, min(MAX_BATCH, n_tasks // (8 * max(1, threads))))


# -- the executors ------------------------------------------------------------------------------
def dask_pool(
    client: Any,
    fn: Callable[[Any], Any],
    tasks: Sequence[Any],
    failed: Failed,
    *,
    batch: int | None = None,
) -> Iterator[Any]:
    """Map ``fn`` over tasks on a Dask cluster, in batches, a bounded number in flight.

    Results come back batch by batch as they complete. A batch whose worker died is run
    again elsewhere by the scheduler; a batch that killed
    ``distributed.scheduler.allowed-failures`` workers in a row (a file that crashes the
    decoder) or raised is split into single files, and a single file that fails so comes
    back as ``failed(task, reason)``, so the scan records it and goes on. A single file
    whose worker kept dying gets one more try with nothing else in flight first: Dask blames
    every task a dying worker held, so a good file queued beside the bad one was reported
    failed with it.
    """
    from distributed import as_completed

    if not tasks:
        return
    threads = sum(client.nthreads().values()) or 1
    size = batch or batch_size(len(tasks), threads)
    window = max(2, IN_FLIGHT_PER_THREAD * threads)
    batches = [list(range(i, min(i + size, len(tasks)))) for i in range(0, len(tasks), size)]
    retry: list[list[int]] = []  # single files of a batch that failed
    alone: list[list[int]] = []  # single files whose workers died: once more, on their own
    which: dict[Any, list[int]] = {}

    def submit() -> Any | None:
        if retry:
            items = retry.pop()
        elif batches:
            items = batches.pop(0)
        elif alone and not which:
            items = alone.pop()
        else:
            return None
        # pure=False: a task is its files' work now, never a cached answer of an old run
        future = client.submit(_call_on_worker, fn, [tasks[i] for i in items], pure=False)
        which[future] = items
        return future

    tried_alone: set[int] = set()
    running = as_completed([f for f in (submit() for _ in range(window)) if f is not None])
    for future in running:
        items = which.pop(future)
        try:
            results = future.result()
        except Exception as exc:  # noqa: BLE001 - KilledWorker or the task's own error
            if len(items) > 1:
                retry += [[i] for i in reversed(items)]
                results = []
            elif type(exc).__name__ == "KilledWorker" and items[0] not in tried_alone:
                tried_alone.add(items[0])
                alone.append(items)
                results = []
            else:
                results = [failed(tasks[items[0]], f"{type(exc).__name__}: {exc}")]
        future.release()
        while len(which) < window:
            nxt = submit()
            if nxt is None:
                break
            running.add(nxt)
        yield from results


class Executor:
    """``map(fn, tasks, failed)`` on a Dask cluster; a context manager around it.

    With ``scheduler=None`` it holds nothing: the caller runs its own local processes
    (``pipeline._run_pool``).
    """

    def __init__(self, scheduler: str | None = None) -> None:
        self.scheduler = None if scheduler is None else check_scheduler(scheduler)
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
                import dask

                with dask.config.set(CLUSTER_SETTINGS):  # the nannies pass it on
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
        """Results of ``fn`` over ``tasks``, in completion order (after :meth:`start`)."""
        if self.client is None:
            raise RuntimeError("Executor.map needs a started Dask executor")
        return dask_pool(self.client, fn, tasks, failed)

    def describe(self) -> str:
        if self.client is None:
            return "not started"
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


__all__ = ["Executor", "SchedulerError", "batch_size", "check_scheduler", "dask_pool"]
