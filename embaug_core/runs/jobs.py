"""A bounded, first-come-first-served queue for heavy work shared by many users.

The dashboard serves every browser session from one process. Training is CPU-bound; if
every session trained at once, all of them (and the pages of everyone else) would slow
to a crawl on a 2-core machine. :class:`WorkQueue` lets at most ``slots`` jobs run at a
time; the others wait in arrival order and are told their position while they wait.
A waiter that gives up (its page was closed or it raised) leaves the queue cleanly.

**When will it start?** A holder reports how long it still needs (:meth:`Slot.report`, e.g. the
training's ETA from its measured epoch times). A waiter's estimated start is simulated from those:
slots free up when their holders' remaining times run out, and each job ahead in the queue takes
as long as the jobs finished so far took on average (or, before any has finished, as long as the
longest running one in total). Unknown (None) until every holder has reported.

**Fair between users.** Each job has an owner (a signed-in user; None in a single-user dashboard). A free
slot goes to the waiting job whose owner was served longest ago (never served first), the first to
arrive among one owner's: one user's queued trainings take turns with everyone else's instead of
going first because they were queued first. With ``per_owner`` set, an owner also holds at most that
many slots at once. One owner alone (every job None) is served first come, first served. A waiter is told
its position in that order; the estimated start, like the position, leaves the cap aside.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["WorkQueue", "Slot", "Job", "default_slots"]

#: What one training of the dashboard is given: 2 cores (the 2-core CI machine runs one training at a
#: time, which keeps its pages responsive) and 1.5 GB, a conservative bound: 4 sessions uploading a
#: 53 MB table and training raised the server's RSS by about 1.7 GB, ~0.4 GB each, when trainings
#: ran in the server; each now runs in its own worker process (:mod:`embaug_core.runs.worker`), whose
#: imports alone take ~0.4 GB.
CORES_PER_TRAINING = 2
BYTES_PER_TRAINING = 1.5e9


def _available_memory() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def default_slots(cores: int | None = None, memory: float | None = None) -> int:
    """Trainings this machine can hold at once, read from the machine: the cores this process may
    use (``sched_getaffinity``) per :data:`CORES_PER_TRAINING`, and the available memory
    (``MemAvailable``) per :data:`BYTES_PER_TRAINING`; the smaller, at least 1."""
    import os

    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    memory = _available_memory() if memory is None else memory
    by_cores = cores // CORES_PER_TRAINING
    by_memory = int(memory // BYTES_PER_TRAINING) if memory else by_cores
    return max(1, min(by_cores, by_memory))


class Slot:
    """A held slot: :meth:`report` how many seconds the job still needs."""

    def __init__(self, queue: WorkQueue):
        self._queue = queue
        self.started = time.monotonic()
        self.remaining: float | None = None
        self.reported_at = self.started

    def report(self, remaining_s: float | None) -> None:
        if remaining_s is not None and remaining_s == remaining_s and remaining_s >= 0:
            with self._queue._cond:
                self.remaining, self.reported_at = float(remaining_s), time.monotonic()

    def left(self, now: float) -> float | None:
        return None if self.remaining is None else max(self.remaining - (now - self.reported_at), 0.0)


class WorkQueue:
    """At most ``slots`` concurrent holders; the rest wait in FIFO order.

    Parameters
    ----------
    slots : int >= 1
    per_owner : int >= 1 or None; the most slots one owner holds at once (None: no cap); see the module
        docstring for the order in which owners are served
    poll_s : how often a waiter re-reports its position (seconds)
    """

    def __init__(self, slots: int = 1, *, per_owner: int | None = None, poll_s: float = 0.5):
        if slots < 1:
            raise ValueError(f"slots must be >= 1; got {slots}.")
        if per_owner is not None and per_owner < 1:
            raise ValueError(f"per_owner must be >= 1 or None; got {per_owner}.")
        self.slots = slots
        self.per_owner = per_owner
        self.poll_s = poll_s
        self._cond = threading.Condition()
        self._active = 0
        self._held_by: dict[object, int] = {}  # owner -> slots held
        self._served: dict[object, int] = {}  # owner -> when it last got a slot (a counter)
        self._turn = 0
        self._waiting: list[tuple[object, object]] = []  # (ticket, owner), in arrival order
        self._holders: list[Slot] = []
        self._durations: list[float] = []  # of finished jobs, seconds

    @property
    def active(self) -> int:
        with self._cond:
            return self._active

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)

    def estimated_start(self, position: int) -> float | None:
        """Seconds until the waiter at ``position`` (1 = next) gets a slot; None while unknown."""
        now = time.monotonic()
        with self._cond:
            free = [h.left(now) for h in self._holders]
            if any(f is None for f in free):
                return None
            durations = list(self._durations)
            totals = [now - h.started + h.left(now) for h in self._holders]
        free += [0.0] * (self.slots - len(free))  # idle slots
        typical = sum(durations) / len(durations) if durations else max(totals, default=0.0)
        free.sort()
        for _ in range(position - 1):  # the jobs ahead take the earliest free slots
            free[0] += typical
            free.sort()
        return free[0]

    def _next(self) -> object | None:
        """The ticket that takes the next free slot: of the owners under the cap, the one served longest
        ago, its first job (call with the lock held)."""
        under = [
            (self._served.get(owner, -1), i, ticket)
            for i, (ticket, owner) in enumerate(self._waiting)
            if self.per_owner is None or owner is None or self._held_by.get(owner, 0) < self.per_owner
        ]
        return min(under, key=lambda x: x[:2])[2] if under else None

    def _position(self, ticket: object) -> int:
        """Where ``ticket`` stands in the order the waiters will be served (1 = next), taking turns as
        :meth:`_next` does, each owner's cap aside (call with the lock held)."""
        served, turn, waiting = dict(self._served), self._turn, list(self._waiting)
        for position in range(1, len(waiting) + 1):
            i = min(range(len(waiting)), key=lambda j: (served.get(waiting[j][1], -1), j))
            picked, owner = waiting.pop(i)
            if picked is ticket:
                return position
            turn += 1
            served[owner] = turn
        raise ValueError("not waiting")

    # long: the wait, the hold and the release, each under the lock, in order
    @contextmanager
    def slot(
        self, on_wait: Callable[[int, float | None], None] | None = None, *, owner: object = None
    ) -> Iterator[Slot]:
        """Hold a slot for the duration of the ``with`` block; yields a :class:`Slot` to report on.

        ``on_wait(position, eta_s)`` (1 = next in line; eta_s from :meth:`estimated_start`, None
        while unknown) is called outside the lock while waiting, at least once and then every
        ``poll_s`` seconds. If it raises, the caller leaves the queue and the exception propagates.
        ``owner``: whose job it is, for the ``per_owner`` cap (None: nobody's, never capped).
        """
        ticket = object()
        with self._cond:
            self._waiting.append((ticket, owner))
        try:
            while True:
                with self._cond:
                    if self._active < self.slots and self._next() is ticket:
                        self._waiting = [w for w in self._waiting if w[0] is not ticket]
                        self._active += 1
                        self._held_by[owner] = self._held_by.get(owner, 0) + 1
                        self._turn += 1
                        self._served[owner] = self._turn
                        break
                    position = self._position(ticket)
                if on_wait is not None:
                    on_wait(position, self.estimated_start(position))
                with self._cond:
                    if not (self._active < self.slots and self._next() is ticket):
                        self._cond.wait(timeout=self.poll_s)
        except BaseException:
            with self._cond:
                self._waiting = [w for w in self._waiting if w[0] is not ticket]
                self._cond.notify_all()
            raise
        held = Slot(self)
        with self._cond:
            self._holders.append(held)
        try:
            yield held
        finally:
            with self._cond:
                self._active -= 1
                self._held_by[owner] -= 1
                self._holders.remove(held)
                self._durations = [*self._durations[-19:], time.monotonic() - held.started]
                self._cond.notify_all()


class Job:
    """``work`` run in a thread of its own once it holds a slot of ``queue``; any thread may poll it.

    The dashboard starts a training as a job, so the training belongs to the server, not to the
    page that asked for it: a page that is left, rerun or reloaded stops only its own waiting, and
    the training goes on (and is saved, :mod:`embaug_core.runs.worker`).

    ``work(progress)`` gets a callable to report progress objects with an ``eta_s`` (seconds left;
    also reported to the queue, for the waiters' estimates); its return value becomes
    :attr:`result`, what it raises :attr:`error`.

    Attributes
    ----------
    waiting : (position, eta_s) while waiting for a slot (as :meth:`WorkQueue.slot` reports), else None
    progress : the last progress object reported, or None
    result, error : set when :attr:`done` is set
    asked, started, ended : ``time.monotonic()`` when it was created, got its slot, ended (None until then)
    done : threading.Event
    """

    def __init__(self, queue: WorkQueue, work: Callable, *, name: str = "embaug-job", owner: object = None):
        self.waiting: tuple[int, float | None] | None = None
        self.progress = None
        self.result = None
        self.error: BaseException | None = None
        self.asked = time.monotonic()
        self.started: float | None = None
        self.ended: float | None = None
        self.done = threading.Event()
        self._queue, self._work, self._owner = queue, work, owner
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def _run(self) -> None:
        try:
            with self._queue.slot(on_wait=self._wait, owner=self._owner) as held:
                self.started, self.waiting = time.monotonic(), None

                def progress(p) -> None:
                    held.report(getattr(p, "eta_s", None))
                    self.progress = p

                self.result = self._work(progress)
        except BaseException as exc:  # kept for whoever polls; a job's thread has no one else to tell
            self.error = exc
        finally:
            self.ended = time.monotonic()
            self.done.set()

    def _wait(self, position: int, eta_s: float | None) -> None:
        self.waiting = (position, eta_s)
