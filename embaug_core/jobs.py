"""A bounded, first-come-first-served queue for heavy work shared by many users.

The dashboard serves every browser session from one process. Training is CPU-bound; if
every session trained at once, all of them (and the pages of everyone else) would slow
to a crawl on a 2-core machine. :class:`WorkQueue` lets at most ``slots`` jobs run at a
time; the others wait in arrival order and are told their position while they wait.
A waiter that gives up (its page was closed or it raised) leaves the queue cleanly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["WorkQueue"]


class WorkQueue:
    """At most ``slots`` concurrent holders; the rest wait in FIFO order.

    Parameters
    ----------
    slots : int >= 1
    poll_s : how often a waiter re-reports its position (seconds)
    """

    def __init__(self, slots: int = 1, *, poll_s: float = 0.5):
        if slots < 1:
            raise ValueError(f"slots must be >= 1; got {slots}.")
        self.slots = slots
        self.poll_s = poll_s
        self._cond = threading.Condition()
        self._active = 0
        self._waiting: list[object] = []

    @property
    def active(self) -> int:
        with self._cond:
            return self._active

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)

    @contextmanager
    def slot(self, on_wait: Callable[[int], None] | None = None) -> Iterator[None]:
        """Hold a slot for the duration of the ``with`` block.

        ``on_wait(position)`` (1 = next in line) is called outside the lock while waiting,
        at least once and then every ``poll_s`` seconds. If it raises, the caller leaves
        the queue and the exception propagates.
        """
        ticket = object()
        with self._cond:
            self._waiting.append(ticket)
        try:
            while True:
                with self._cond:
                    if self._active < self.slots and self._waiting[0] is ticket:
                        self._waiting.pop(0)
                        self._active += 1
                        break
                    position = self._waiting.index(ticket) + 1
                if on_wait is not None:
                    on_wait(position)
                with self._cond:
                    if not (self._active < self.slots and self._waiting[0] is ticket):
                        self._cond.wait(timeout=self.poll_s)
        except BaseException:
            with self._cond:
                if ticket in self._waiting:
                    self._waiting.remove(ticket)
                self._cond.notify_all()
            raise
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()
