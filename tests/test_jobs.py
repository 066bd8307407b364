import threading
import time

import pytest

from embaug_core.runs.jobs import WorkQueue


def test_at_most_slots_run_and_order_is_first_come_first_served():
    q = WorkQueue(slots=2, poll_s=0.01)
    running, peak, order = [0], [0], []
    lock = threading.Lock()
    gate = threading.Event()

    def job(i):
        with q.slot():
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
                order.append(i)
            gate.wait(5)
            time.sleep(0.01)
            with lock:
                running[0] -= 1

    threads = []
    for i in range(6):
        t = threading.Thread(target=job, args=(i,))
        t.start()
        threads.append(t)
        time.sleep(0.02)  # arrive in order
    time.sleep(0.1)
    assert q.active == 2 and q.waiting == 4
    gate.set()
    for t in threads:
        t.join(5)
    assert peak[0] == 2
    assert order == list(range(6))
    assert q.active == 0 and q.waiting == 0


def test_waiters_are_told_their_position_and_can_leave():
    q = WorkQueue(slots=1, poll_s=0.01)
    release = threading.Event()
    positions = []

    def holder():
        with q.slot():
            release.wait(5)

    t = threading.Thread(target=holder)
    t.start()
    time.sleep(0.05)

    class Gone(Exception):
        pass

    def leave_after_two(pos, eta):
        positions.append(pos)
        if len(positions) >= 2:
            raise Gone

    with pytest.raises(Gone):
        with q.slot(on_wait=leave_after_two):
            pass
    assert positions[:2] == [1, 1] and q.waiting == 0  # the one who left is out of the queue
    release.set()
    t.join(5)
    with q.slot():
        assert q.active == 1


def test_bad_slots():
    with pytest.raises(ValueError):
        WorkQueue(0)


def test_a_waiter_is_told_when_it_will_start():
    """One slot; the holder reports 30 s left: the next waiter starts in about 30 s, the one after it
    in about 60 s (a job ahead takes as long as the running one in total, none having finished)."""
    import threading

    from embaug_core.runs.jobs import WorkQueue

    q = WorkQueue(slots=1, poll_s=0.05)
    holding, release = threading.Event(), threading.Event()

    def hold():
        with q.slot() as s:
            assert q.estimated_start(1) is None  # nothing reported yet
            s.report(30.0)
            holding.set()
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    holding.wait(5)
    assert q.estimated_start(1) == pytest.approx(30.0, abs=0.5)
    assert q.estimated_start(2) == pytest.approx(60.0, abs=1.0)
    seen = []

    def waiting(position, eta):
        seen.append((position, eta))
        release.set()

    with q.slot(on_wait=waiting):
        pass
    assert seen[0][0] == 1 and seen[0][1] == pytest.approx(30.0, abs=0.5)
    t.join(5)
    # with two slots and one idle, a waiter at position 1 starts at once
    q2 = WorkQueue(slots=2)
    assert q2.estimated_start(1) == 0.0


def test_training_slots_follow_the_machine():
    from embaug_core.runs.jobs import default_slots

    assert default_slots(cores=2, memory=24e9) == 1  # this CI machine: one training uses both cores
    assert default_slots(cores=16, memory=128e9) == 8
    assert default_slots(cores=16, memory=4e9) == 2  # memory-bound
    assert default_slots(cores=1, memory=1e9) == 1  # never 0
    assert default_slots() >= 1


def _queued_in_order(q: WorkQueue, owners: list, hold, *, on_wait=None) -> tuple[list, list]:
    """Start one job per owner, in this order (each queued before the next). A job holds its slot until
    ``hold`` is set: one Event for all, or a list of one per job. ``on_wait(i, position, eta)``: job i's
    waiting callback. Returns (start order, threads)."""
    started, threads = [], []
    lock = threading.Lock()
    holds = hold if isinstance(hold, list) else [hold] * len(owners)

    def job(i, owner):
        told = None if on_wait is None else (lambda position, eta: on_wait(i, position, eta))
        with q.slot(on_wait=told, owner=owner):
            with lock:
                started.append(i)
            holds[i].wait(5)

    for i, owner in enumerate(owners):
        t = threading.Thread(target=job, args=(i, owner))
        t.start()
        threads.append(t)
        deadline = time.time() + 2
        while q.active + q.waiting < i + 1 and time.time() < deadline:
            time.sleep(0.005)
    return started, threads


def test_one_users_queued_trainings_take_turns_with_another_users():
    # one slot; ana queues three trainings, then ben one: ben's goes second, not fourth
    q = WorkQueue(slots=1, poll_s=0.01)
    steps = [threading.Event() for _ in range(4)]
    started, threads = _queued_in_order(q, ["ana", "ana", "ana", "ben"], steps)
    for i in range(4):  # release the running one; see who comes next
        while len(started) < i + 1:
            time.sleep(0.005)
        steps[started[-1]].set()
    for t in threads:
        t.join(5)
    assert started == [0, 3, 1, 2]


def test_the_per_user_cap_leaves_slots_to_the_others():
    # two slots, at most one per user: ana's second training waits although a slot is free, ben's starts
    q = WorkQueue(slots=2, per_owner=1, poll_s=0.01)
    hold = threading.Event()
    started, threads = _queued_in_order(q, ["ana", "ana", "ben"], hold)
    deadline = time.time() + 2
    while len(started) < 2 and time.time() < deadline:
        time.sleep(0.005)
    time.sleep(0.05)
    assert sorted(started) == [0, 2] and q.active == 2 and q.waiting == 1
    hold.set()
    for t in threads:
        t.join(5)
    assert sorted(started) == [0, 1, 2] and q.active == 0


def test_without_owners_the_queue_stays_first_come_first_served_and_the_cap_is_checked():
    # three jobs of nobody queue behind a running one: they start in arrival order, and None is never capped
    q = WorkQueue(slots=3, per_owner=1, poll_s=0.01)
    blocker_q = WorkQueue(slots=1, poll_s=0.01)
    hold = threading.Event()
    started, threads = _queued_in_order(blocker_q, ["x", None, None, None], hold)
    assert started == [0] and blocker_q.waiting == 3  # queued behind the first, in order
    hold.set()
    for t in threads:
        t.join(5)
    assert started == [0, 1, 2, 3]
    hold2 = threading.Event()
    started2, threads2 = _queued_in_order(q, [None, None, None], hold2)
    deadline = time.time() + 2
    while q.active < 3 and time.time() < deadline:
        time.sleep(0.005)
    assert q.active == 3  # all three at once: the cap is for owners, not for nobody's jobs
    hold2.set()
    for t in threads2:
        t.join(5)
    with pytest.raises(ValueError, match="per_owner"):
        WorkQueue(slots=2, per_owner=0)


def test_a_waiter_is_told_its_place_in_the_turns_not_in_arrival_order():
    q = WorkQueue(slots=1, poll_s=0.01)
    hold = threading.Event()
    seen = {}
    _, threads = _queued_in_order(
        q, ["ana", "ana", "ana", "ben"], hold, on_wait=lambda i, position, eta: seen.__setitem__(i, position)
    )
    time.sleep(0.05)
    assert seen == {1: 2, 2: 3, 3: 1}  # ben's, queued last, goes next
    hold.set()
    for t in threads:
        t.join(5)
