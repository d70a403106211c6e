"""The compiled engine's event loop: the asimpy model's processes as state machines over arrays (numba).

It follows asimpy's scheduling exactly, so that both engines take the same
steps in the same order: events wait in a heap ordered by (time, serial), the
serial counting every scheduling in the order it happened; the process an
event wakes runs at once, and whatever that run wakes (a consumer handed a
copy) runs after it, first woken first, before the clock moves on. Times are
summed as the model sums them (`now + (service + overhead)`), so that equal
inputs give equal floats.

Copies live in arrays indexed by admission; a mailbox is a linked FIFO of
copies, with a linked FIFO of the consumers waiting on it. The logs it returns
are the ones `pubsub.metrics` reduces (`pubsub.compiled` wraps them).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# How a subscription routes a copy to a mailbox (`pubsub.dispatch`'s policies without membership changes).
SHARED, ROUND_ROBIN, LEAST_LOADED, BY_KEY = 0, 1, 2, 3
# Where a consumer is parked.
WAITING, DELAYED, BUSY = 0, 1, 2


@njit(cache=True)
def _heap_push(times, serials, owners, size, time, serial, owner):
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if times[parent] < time or (times[parent] == time and serials[parent] < serial):
            break
        times[i], serials[i], owners[i] = times[parent], serials[parent], owners[parent]
        i = parent
    times[i], serials[i], owners[i] = time, serial, owner
    return size + 1


@njit(cache=True)
def _heap_pop(times, serials, owners, size):
    """Remove the first entry (read it at index 0 before calling); returns the new size."""
    size -= 1
    time, serial, owner = times[size], serials[size], owners[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        right = child + 1
        if right < size and (
            times[right] < times[child] or (times[right] == times[child] and serials[right] < serials[child])
        ):
            child = right
        if time < times[child] or (time == times[child] and serial < serials[child]):
            break
        times[i], serials[i], owners[i] = times[child], serials[child], owners[child]
        i = child
    times[i], serials[i], owners[i] = time, serial, owner
    return size


@njit(cache=True)
def run(
    until,
    warmup,
    publisher_topic,
    gap_start,
    gaps,
    keys,
    topic_sub_start,
    topic_subs,
    sub_dispatch,
    sub_consumer_start,
    sub_mailbox_start,
    sub_capacity,
    sub_delay,
    sub_overhead,
    sub_route_start,
    route_consumer,
    sub_service_start,
    services,
    copies,
):
    """Run to `until`; publisher p publishes after each of `gaps[gap_start[p]:gap_start[p + 1]]` (keys alike);
    subscription s's copies take `services[sub_service_start[s]:]` in admission order."""
    publishers = publisher_topic.size
    subscriptions = sub_dispatch.size
    consumers = sub_consumer_start[subscriptions]
    mailboxes = sub_mailbox_start[subscriptions]
    topics = topic_sub_start.size - 1

    consumer_sub = np.empty(consumers, np.int64)
    inbox = np.empty(consumers, np.int64)
    for s in range(subscriptions):
        for c in range(sub_consumer_start[s], sub_consumer_start[s + 1]):
            consumer_sub[c] = s
            own = sub_mailbox_start[s + 1] - sub_mailbox_start[s] > 1 or sub_dispatch[s] != SHARED
            inbox[c] = sub_mailbox_start[s] + (c - sub_consumer_start[s] if own else 0)

    # Copies, by admission.
    copy_published = np.empty(copies, np.float64)
    copy_service = np.empty(copies, np.float64)
    copy_next = np.full(copies, -1, np.int64)
    admitted = 0
    served = np.zeros(subscriptions, np.int64)  # first-attempt draws taken, per subscription

    # Mailboxes: queued copies and waiting consumers, both linked FIFOs.
    head = np.full(mailboxes, -1, np.int64)
    tail = np.full(mailboxes, -1, np.int64)
    length = np.zeros(mailboxes, np.int64)
    getter_head = np.full(mailboxes, -1, np.int64)
    getter_tail = np.full(mailboxes, -1, np.int64)
    getter_next = np.full(consumers, -1, np.int64)
    entered_box = np.empty(copies, np.int64)
    entered_at = np.empty(copies, np.float64)
    left_box = np.empty(copies, np.int64)
    left_at = np.empty(copies, np.float64)
    entered = 0
    left = 0

    # Consumers.
    state = np.full(consumers, WAITING, np.int64)
    current = np.full(consumers, -1, np.int64)
    attempt_start = np.zeros(consumers, np.float64)  # the attempt's `now`: when its service began
    busy = np.zeros(consumers, np.int64)
    busy_since = np.zeros(consumers, np.float64)
    busy_time = np.zeros(consumers, np.float64)

    # Counters and the log of first successes.
    messages = np.zeros(topics, np.int64)
    delivered = np.zeros(subscriptions, np.int64)
    processed = np.zeros(subscriptions, np.int64)
    dropped = np.zeros(subscriptions, np.int64)
    success_published = np.empty(copies, np.float64)
    success_started = np.empty(copies, np.float64)
    success_finished = np.empty(copies, np.float64)
    success_owner = np.empty(copies, np.int64)
    successes = 0
    next_member = np.zeros(subscriptions, np.int64)  # round-robin's turn

    # Scheduling: a heap of (time, serial, process) and a FIFO of woken processes (consumer, copy handed).
    processes = consumers + publishers  # a process is a consumer c or a publisher consumers + p
    heap_time = np.empty(processes, np.float64)
    heap_serial = np.empty(processes, np.int64)
    heap_owner = np.empty(processes, np.int64)
    heap_size = 0
    serial = 0
    ready_consumer = np.empty(processes + 1, np.int64)
    ready_copy = np.empty(processes + 1, np.int64)
    ready_first = 0
    ready_count = 0
    gap_next = gap_start[:-1].copy()

    # At 0 every consumer finds its mailbox empty and waits on it, in build order; each publisher waits its gap.
    for c in range(consumers):
        box = inbox[c]
        if getter_tail[box] < 0:
            getter_head[box] = c
        else:
            getter_next[getter_tail[box]] = c
        getter_tail[box] = c
    for p in range(publishers):
        if gap_next[p] < gap_start[p + 1]:
            heap_size = _heap_push(
                heap_time, heap_serial, heap_owner, heap_size, gaps[gap_next[p]], serial, consumers + p
            )
            serial += 1

    now = 0.0
    while heap_size > 0:
        if heap_time[0] > until:
            break
        now = heap_time[0]
        owner = heap_owner[0]
        heap_size = _heap_pop(heap_time, heap_serial, heap_owner, heap_size)
        wake_consumer = -1
        if owner >= consumers:  # a publisher publishes, then waits for its next gap
            p = owner - consumers
            k = gap_next[p]
            topic = publisher_topic[p]
            messages[topic] += 1
            for i in range(topic_sub_start[topic], topic_sub_start[topic + 1]):
                s = topic_subs[i]
                first = sub_mailbox_start[s]
                policy = sub_dispatch[s]
                if policy == SHARED:
                    box = first
                elif policy == ROUND_ROBIN:
                    box = first + next_member[s]
                    next_member[s] = (next_member[s] + 1) % (sub_mailbox_start[s + 1] - first)
                elif policy == LEAST_LOADED:
                    box = first
                    best = length[first] + busy[sub_consumer_start[s]]
                    for j in range(1, sub_mailbox_start[s + 1] - first):
                        load = length[first + j] + busy[sub_consumer_start[s] + j]
                        if load < best:
                            best, box = load, first + j
                else:
                    box = first + route_consumer[sub_route_start[s] + keys[k]]
                copy = admitted
                admitted += 1
                copy_published[copy] = now
                copy_service[copy] = services[sub_service_start[s] + served[s]]
                served[s] += 1
                if sub_capacity[s] >= 0 and length[box] >= sub_capacity[s]:
                    dropped[s] += 1
                    continue
                waiter = getter_head[box]
                if waiter >= 0:  # handed to the consumer waiting longest, which runs once this publish is done
                    getter_head[box] = getter_next[waiter]
                    if getter_head[box] < 0:
                        getter_tail[box] = -1
                    getter_next[waiter] = -1
                    slot = (ready_first + ready_count) % ready_consumer.size
                    ready_consumer[slot] = waiter
                    ready_copy[slot] = copy
                    ready_count += 1
                else:
                    if tail[box] < 0:
                        head[box] = copy
                    else:
                        copy_next[tail[box]] = copy
                    tail[box] = copy
                    length[box] += 1
                    entered_box[entered] = box
                    entered_at[entered] = now
                    entered += 1
            gap_next[p] = k + 1
            if k + 1 < gap_start[p + 1]:
                heap_size = _heap_push(heap_time, heap_serial, heap_owner, heap_size, now + gaps[k + 1], serial, owner)
                serial += 1
        else:
            wake_consumer = owner

        while True:  # the woken consumer, then every consumer woken meanwhile, in order
            c = wake_consumer
            copy = -1
            if c < 0:
                if ready_count == 0:
                    break
                c = ready_consumer[ready_first]
                copy = ready_copy[ready_first]
                ready_first = (ready_first + 1) % ready_consumer.size
                ready_count -= 1
            wake_consumer = -1
            s = consumer_sub[c]
            if state[c] == DELAYED:  # the copy has reached it: the attempt starts
                attempt_start[c] = now
                state[c] = BUSY
                heap_size = _heap_push(
                    heap_time, heap_serial, heap_owner, heap_size, now + (copy_service[current[c]] + sub_overhead[s]),
                    serial, c,
                )  # fmt: skip
                serial += 1
                continue
            if state[c] == BUSY:  # its attempt ended: a first success
                end = now
                busy[c] = 0
                start = attempt_start[c]
                if end > warmup:
                    busy_time[c] += end - (start if start > warmup else warmup)
                done = current[c]
                processed[s] += 1
                success_published[successes] = copy_published[done]
                success_started[successes] = start
                success_finished[successes] = end
                success_owner[successes] = s
                successes += 1
                current[c] = -1
                box = inbox[c]
                copy = head[box]
                if copy < 0:  # nothing waiting: wait on the mailbox
                    state[c] = WAITING
                    if getter_tail[box] < 0:
                        getter_head[box] = c
                    else:
                        getter_next[getter_tail[box]] = c
                    getter_tail[box] = c
                    continue
                head[box] = copy_next[copy]
                if head[box] < 0:
                    tail[box] = -1
                copy_next[copy] = -1
                length[box] -= 1
                left_box[left] = box
                left_at[left] = now
                left += 1
            # Take `copy`: one delivery; the attempt starts when the copy can have reached the consumer.
            delivered[s] += 1
            current[c] = copy
            busy[c] = 1
            start = now
            reach = copy_published[copy] + sub_delay[s]
            if sub_delay[s] != 0.0 and reach > now:
                start = reach
            busy_since[c] = start
            if start > now:
                state[c] = DELAYED
                heap_size = _heap_push(heap_time, heap_serial, heap_owner, heap_size, now + (start - now), serial, c)
            else:
                state[c] = BUSY
                attempt_start[c] = now
                heap_size = _heap_push(
                    heap_time, heap_serial, heap_owner, heap_size, now + (copy_service[copy] + sub_overhead[s]),
                    serial, c,
                )  # fmt: skip
            serial += 1

    return (
        messages,
        delivered,
        processed,
        dropped,
        length,
        busy,
        busy_since,
        busy_time,
        success_published[:successes],
        success_started[:successes],
        success_finished[:successes],
        success_owner[:successes],
        entered_box[:entered],
        entered_at[:entered],
        left_box[:left],
        left_at[:left],
    )
