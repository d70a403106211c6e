"""The compiled engine's event loop: the asimpy model's processes as state machines over arrays (numba).

It follows asimpy's scheduling exactly, so that both engines take the same
steps in the same order: events wait in a heap ordered by (time, serial), the
serial counting every scheduling in the order it happened; the process or
callback an event wakes runs at once, and whatever that run wakes (a consumer
handed a copy) runs after it, first woken first, before the clock moves on.
Times are summed as the model sums them (`now + (service + overhead)`), so
that equal inputs give equal floats.

Copies live in arrays indexed by admission. A mailbox is two doubly linked
FIFOs of copies (redeliveries, handed out first, and new copies: a copy can
leave from the middle when another attempt acknowledges it) and a linked FIFO
of the consumers waiting on it. The logs it returns are the ones
`pubsub.metrics` reduces (`pubsub.compiled` wraps them).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# How a subscription routes a copy to a mailbox (`pubsub.dispatch`'s policies without membership changes).
SHARED, ROUND_ROBIN, LEAST_LOADED, BY_KEY = 0, 1, 2, 3
# Where a consumer is: waiting for a copy, waiting for its batch to reach it, working, settling its batch.
WAITING, DELAYED, BUSY, FINISHING = 0, 1, 2, 3
# Heap entries that are callbacks, not processes: `Acknowledgments._expire` and `_return`.
EXPIRE, RETURN = -1, -2
# A copy's settlement.
UNSETTLED, PROCESSED, DEAD = 0, 1, 2


# A heap entry: its time in one array, the rest in a row of another.
SERIAL, OWNER, COPY, DELIVERY = range(4)


@njit(cache=True)
def _before(times, rows, i, j):
    return times[i] < times[j] or (times[i] == times[j] and rows[i, SERIAL] < rows[j, SERIAL])


@njit(cache=True)
def _swap(times, rows, i, j):
    times[i], times[j] = times[j], times[i]
    for k in range(4):
        rows[i, k], rows[j, k] = rows[j, k], rows[i, k]


@njit(cache=True)
def _schedule(times, rows, size, time, serial, owner, copy, delivery):
    """Add an entry (the heap has room: the event loop makes it before each event)."""
    times[size] = time
    rows[size, SERIAL], rows[size, OWNER], rows[size, COPY], rows[size, DELIVERY] = serial, owner, copy, delivery
    i = size
    while i > 0 and _before(times, rows, i, (i - 1) >> 1):
        _swap(times, rows, i, (i - 1) >> 1)
        i = (i - 1) >> 1


@njit(cache=True)
def _pop(times, rows, size):
    """Remove the first entry (read it before calling); returns the new size."""
    size -= 1
    _swap(times, rows, 0, size)
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and _before(times, rows, child + 1, child):
            child += 1
        if not _before(times, rows, child, i):
            break
        _swap(times, rows, i, child)
        i = child
    return size


@njit(cache=True)
def _grown(values, size):
    bigger = np.empty(max(2 * values.size, size + 16), values.dtype)
    bigger[: values.size] = values
    return bigger


@njit(cache=True)
def _grown_rows(rows, size):
    bigger = np.empty((max(2 * rows.shape[0], size + 16), rows.shape[1]), rows.dtype)
    bigger[: rows.shape[0]] = rows
    return bigger


@njit(cache=True)
def _log(boxes, times, count, box, now):
    """Append (box, now) to a log of mailbox events (it has room: the event loop makes it before each event)."""
    boxes[count], times[count] = box, now


@njit(cache=True)
def _least_loaded(first, last, first_consumer, length, busy):
    """`LeastLoaded.route`: the mailbox of the fewest copies waiting plus in service, the lowest on ties."""
    box = first
    best = length[first] + busy[first_consumer]
    for j in range(1, last - first):
        load = length[first + j] + busy[first_consumer + j]
        if load < best:
            best, box = load, first + j
    return box


@njit(cache=True)
def _append(head, tail, prev, after, box, copy):
    prev[copy] = tail[box]
    after[copy] = -1
    if tail[box] < 0:
        head[box] = copy
    else:
        after[tail[box]] = copy
    tail[box] = copy


@njit(cache=True)
def _unlink(head, tail, prev, after, box, copy):
    if prev[copy] < 0:
        head[box] = after[copy]
    else:
        after[prev[copy]] = after[copy]
    if after[copy] < 0:
        tail[box] = prev[copy]
    else:
        prev[after[copy]] = prev[copy]
    prev[copy] = after[copy] = -1


@njit(cache=True)
def _waiting(head, tail, after, box):
    """The consumer waiting longest on `box`, no longer waiting; -1 if none is."""
    waiter = head[box]
    if waiter >= 0:
        head[box] = after[waiter]
        if head[box] < 0:
            tail[box] = -1
        after[waiter] = -1
    return waiter


@njit(cache=True)
def _take(retries_head, retries_tail, items_head, items_tail, prev, after, box):
    """`Mailbox.take`'s choice: the first redelivery waiting, else the first new copy (unlinked); -1 if none."""
    copy = retries_head[box]
    if copy >= 0:
        _unlink(retries_head, retries_tail, prev, after, box, copy)
        return copy
    copy = items_head[box]
    if copy >= 0:
        _unlink(items_head, items_tail, prev, after, box, copy)
    return copy


@njit(cache=True)
def _dead_letter(copy, s, settled, flying, in_flight, dead_lettered):
    """`Subscription.dead_letter`: settled as dead, out of flight, counted."""
    settled[copy] = DEAD
    in_flight[s] -= flying[copy]
    flying[copy] = False
    dead_lettered[s] += 1


@njit(cache=True)
def _retry_delay(deliveries, delay, exponential, delay_max):
    """`pubsub.retries.Retries.delay_after` (`delay_max` < 0: none)."""
    if not exponential:
        return delay
    wait = delay * 2.0 ** min(deliveries - 1, 1023)
    return wait if delay_max < 0 else min(wait, delay_max)


@njit(cache=True)
def run(
    until,
    warmup,
    publisher_topic,
    gap_start,
    gaps,
    keys,
    poison,
    topic_sub_start,
    topic_subs,
    sub_dispatch,
    sub_consumer_start,
    sub_mailbox_start,
    sub_capacity,
    sub_delay,
    sub_overhead,
    sub_redelivery_overhead,
    sub_batch_size,
    sub_batch_overhead,
    sub_ack,
    sub_timeout,
    sub_max_deliveries,
    sub_idempotent,
    sub_nack,
    sub_retry_delay,
    sub_exponential,
    sub_retry_delay_max,
    sub_route_start,
    route_consumer,
    sub_service_start,
    services,
    first_fails,
    sub_retry_start,
    retry_services,
    retry_fails,
    copies,
):
    """Run to `until`. Publisher p publishes after each of `gaps[gap_start[p]:gap_start[p + 1]]` (its keys and
    poison flags alike); subscription s's copies take `services[sub_service_start[s]:]` and `first_fails` in
    admission order, its redeliveries `retry_services[sub_retry_start[s]:]` and `retry_fails` in the order they
    are taken. The last value returned is False if some subscription ran out of retry draws (run again with
    more)."""
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
            inbox[c] = sub_mailbox_start[s] + (0 if sub_dispatch[s] == SHARED else c - sub_consumer_start[s])

    # Copies, by admission (32-bit where that suffices: a run of ten million copies must fit in memory).
    copy_sub = np.empty(copies, np.int32)
    copy_published = np.empty(copies, np.float64)
    copy_service = np.empty(copies, np.float64)
    copy_fails = np.zeros(copies, np.bool_)
    copy_poison = np.zeros(copies, np.bool_)
    copy_home = np.empty(copies, np.int32)
    copy_deliveries = np.zeros(copies, np.int32)
    copy_running = np.zeros(copies, np.int32)
    copy_settled = np.zeros(copies, np.int8)
    copy_doomed = np.zeros(copies, np.bool_)
    copy_outstanding = np.zeros(copies, np.int32)
    copy_in_flight = np.zeros(copies, np.bool_)
    copy_box = np.full(copies, -1, np.int32)  # the mailbox it waits in
    copy_retrying = np.zeros(copies, np.bool_)  # waits among its mailbox's redeliveries
    copy_prev = np.full(copies, -1, np.int32)
    copy_next = np.full(copies, -1, np.int32)
    admitted = 0
    served = np.zeros(subscriptions, np.int64)  # first-attempt draws taken, per subscription
    retried = np.zeros(subscriptions, np.int64)  # retry draws taken

    # Mailboxes: redeliveries and new copies, both linked FIFOs, and the consumers waiting, a third.
    items_head = np.full(mailboxes, -1, np.int64)
    items_tail = np.full(mailboxes, -1, np.int64)
    retries_head = np.full(mailboxes, -1, np.int64)
    retries_tail = np.full(mailboxes, -1, np.int64)
    length = np.zeros(mailboxes, np.int64)
    getter_head = np.full(mailboxes, -1, np.int64)
    getter_tail = np.full(mailboxes, -1, np.int64)
    getter_next = np.full(consumers, -1, np.int64)
    log_size = max(copies, 16)  # grown as needed: redeliveries wait again
    entered_box = np.empty(log_size, np.int32)
    entered_at = np.empty(log_size, np.float64)
    left_box = np.empty(log_size, np.int32)
    left_at = np.empty(log_size, np.float64)
    entered = 0
    left = 0

    # Consumers.
    state = np.full(consumers, WAITING, np.int64)
    # Its batch (one copy, without batches): each attempt's copy, delivery and outcome, and how long it lasts.
    widest = max(1, sub_batch_size.max()) if subscriptions else 1
    batch_copy = np.full((consumers, widest), -1, np.int64)
    batch_delivery = np.zeros((consumers, widest), np.int64)
    batch_fails = np.zeros((consumers, widest), np.bool_)
    batch_count = np.zeros(consumers, np.int64)
    batch_settled = np.zeros(consumers, np.int64)  # attempts of the ended batch settled so far
    batch_length = np.zeros(consumers, np.float64)
    attempt_start = np.zeros(consumers, np.float64)  # the attempt's `now`: when its service began
    busy = np.zeros(consumers, np.int64)
    busy_since = np.zeros(consumers, np.float64)
    busy_time = np.zeros(consumers, np.float64)

    # Counters and the log of first successes.
    messages = np.zeros(topics, np.int64)
    delivered = np.zeros(subscriptions, np.int64)
    processed = np.zeros(subscriptions, np.int64)
    redelivered = np.zeros(subscriptions, np.int64)
    duplicates = np.zeros(subscriptions, np.int64)
    suppressed = np.zeros(subscriptions, np.int64)
    dropped = np.zeros(subscriptions, np.int64)
    dead_lettered = np.zeros(subscriptions, np.int64)
    in_flight = np.zeros(subscriptions, np.int64)
    success_published = np.empty(copies, np.float64)
    success_started = np.empty(copies, np.float64)
    success_finished = np.empty(copies, np.float64)
    success_owner = np.empty(copies, np.int64)
    success_delivery = np.empty(copies, np.int32)
    successes = 0
    next_member = np.zeros(subscriptions, np.int64)  # round-robin's turn

    # Scheduling: a heap of (time; serial, owner: a process or EXPIRE/RETURN, copy, delivery), and a FIFO of the
    # consumers woken by a copy handed to them (with the copy).
    heap_time = np.empty(consumers + publishers + 16, np.float64)
    heap = np.empty((heap_time.size, 4), np.int64)
    heap_size = 0
    serial = 0
    ready_consumer = np.empty(consumers + 1, np.int64)
    ready_copy = np.empty(consumers + 1, np.int64)
    ready_first = 0
    ready_count = 0
    gap_next = gap_start[:-1].copy()
    enough = True

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
            _schedule(heap_time, heap, heap_size, gaps[gap_next[p]], serial, consumers + p, -1, 0)
            heap_size += 1
            serial += 1

    # What one event can add at most, so that room is made once per event, not at every push (helpers that
    # returned grown arrays cost more than the pushes). A consumer settles and takes at most one batch per
    # event: to the heap, its batch's returns and timeouts and its wake-up, and the publisher its next publish;
    # to the logs, each subscription a new copy waiting, each consumer a batch coming back and a batch leaving
    # (taken, or withdrawn once acknowledged).
    heap_room = 2 + consumers * (2 * widest + 1)
    log_room = 2 + subscriptions + 2 * consumers * widest
    now = 0.0
    while heap_size > 0 and enough:
        if heap_time[0] > until:
            break
        if heap_size + heap_room > heap_time.size:
            heap_time, heap = _grown(heap_time, heap_size + heap_room), _grown_rows(heap, heap_size + heap_room)
        if entered + log_room > entered_at.size:
            entered_at, entered_box = _grown(entered_at, entered + log_room), _grown(entered_box, entered + log_room)
        if left + log_room > left_at.size:
            left_at, left_box = _grown(left_at, left + log_room), _grown(left_box, left + log_room)
        now = heap_time[0]
        owner, event_copy, event_delivery = heap[0, OWNER], heap[0, COPY], heap[0, DELIVERY]
        heap_size = _pop(heap_time, heap, heap_size)
        # The event's own work may put copies in mailboxes, which hands them to waiting consumers: those run after
        # it, in order. A copy coming back (`Subscription.redeliver`) is `back`; `then` the consumer that goes on.
        back = -1
        then = -1
        if owner == EXPIRE:  # `Acknowledgments._expire`
            copy = event_copy
            if copy_settled[copy] == UNSETTLED and copy_outstanding[copy] == event_delivery:
                copy_outstanding[copy] = 0
                s = copy_sub[copy]
                if 0 <= sub_max_deliveries[s] <= copy_deliveries[copy]:
                    if copy_running[copy] > 0:
                        copy_doomed[copy] = True
                    else:
                        _dead_letter(copy, s, copy_settled, copy_in_flight, in_flight, dead_lettered)
                else:
                    back = copy
        elif owner == RETURN:  # `Acknowledgments._return`
            if copy_settled[event_copy] == UNSETTLED:
                back = event_copy
        elif owner >= consumers:  # a publisher publishes, then waits for its next gap
            p = owner - consumers
            k = gap_next[p]
            topic = publisher_topic[p]
            messages[topic] += 1
            for i in range(topic_sub_start[topic], topic_sub_start[topic + 1]):
                s = topic_subs[i]
                first, last = sub_mailbox_start[s], sub_mailbox_start[s + 1]
                policy = sub_dispatch[s]
                if policy == SHARED:
                    box = first
                elif policy == ROUND_ROBIN:
                    box = first + next_member[s]
                    next_member[s] = (next_member[s] + 1) % (last - first)
                elif policy == LEAST_LOADED:
                    box = _least_loaded(first, last, sub_consumer_start[s], length, busy)
                else:
                    box = first + route_consumer[sub_route_start[s] + keys[k]]
                copy = admitted
                admitted += 1
                draw = sub_service_start[s] + served[s]
                served[s] += 1
                copy_sub[copy], copy_published[copy], copy_home[copy] = s, now, box
                copy_service[copy], copy_fails[copy], copy_poison[copy] = (
                    services[draw],
                    first_fails[draw] or poison[k],
                    poison[k],
                )
                if sub_capacity[s] >= 0 and length[box] >= sub_capacity[s]:
                    dropped[s] += 1
                    continue
                waiter = _waiting(getter_head, getter_tail, getter_next, box)
                if waiter >= 0:  # handed to the consumer waiting longest, which runs once this publish is done
                    slot = (ready_first + ready_count) % ready_consumer.size
                    ready_consumer[slot], ready_copy[slot] = waiter, copy
                    ready_count += 1
                else:
                    _append(items_head, items_tail, copy_prev, copy_next, box, copy)
                    copy_box[copy], copy_retrying[copy] = box, False
                    length[box] += 1
                    _log(entered_box, entered_at, entered, box, now)
                    entered += 1
            gap_next[p] = k + 1
            if k + 1 < gap_start[p + 1]:
                _schedule(heap_time, heap, heap_size, now + gaps[k + 1], serial, owner, -1, 0)
                heap_size += 1
                serial += 1
        else:
            then = owner

        while True:  # the event's own work, then every consumer woken meanwhile, in order
            if back >= 0:  # `Subscription.redeliver`: out of flight, back to its mailbox among the redeliveries
                copy = back
                back = -1
                s = copy_sub[copy]
                in_flight[s] -= copy_in_flight[copy]
                copy_in_flight[copy] = False
                box = copy_home[copy]  # its route, under every policy but least-loaded, whose route is of now
                if sub_dispatch[s] == LEAST_LOADED:
                    box = _least_loaded(
                        sub_mailbox_start[s], sub_mailbox_start[s + 1], sub_consumer_start[s], length, busy
                    )
                waiter = _waiting(getter_head, getter_tail, getter_next, box)
                if waiter >= 0:
                    slot = (ready_first + ready_count) % ready_consumer.size
                    ready_consumer[slot], ready_copy[slot] = waiter, copy
                    ready_count += 1
                else:
                    _append(retries_head, retries_tail, copy_prev, copy_next, box, copy)
                    copy_box[copy], copy_retrying[copy] = box, True
                    length[box] += 1
                    _log(entered_box, entered_at, entered, box, now)
                    entered += 1
                continue
            c = then
            then = -1
            copy = -1
            if c < 0:
                if ready_count == 0:
                    break
                c, copy = ready_consumer[ready_first], ready_copy[ready_first]
                ready_first = (ready_first + 1) % ready_consumer.size
                ready_count -= 1
            s = consumer_sub[c]
            if state[c] == DELAYED:  # the batch has reached it: the attempts start
                attempt_start[c] = now
                state[c] = BUSY
                _schedule(heap_time, heap, heap_size, now + batch_length[c], serial, c, -1, 0)
                heap_size += 1
                serial += 1
                continue
            if state[c] == BUSY:  # its batch ended
                busy[c] = 0
                start = attempt_start[c]
                if now > warmup:
                    busy_time[c] += now - (start if start > warmup else warmup)
                state[c] = FINISHING
                batch_settled[c] = 0
            if state[c] == FINISHING:  # `Subscription.finished` for each attempt, in order
                start = attempt_start[c]
                while batch_settled[c] < batch_count[c] and back < 0:
                    j = batch_settled[c]
                    batch_settled[c] += 1
                    done = batch_copy[c, j]
                    ok = not batch_fails[c, j]
                    copy_running[done] -= 1
                    first_success = False
                    if not sub_ack[s]:
                        first_success = True
                    elif copy_settled[done] != UNSETTLED:
                        if ok:
                            if sub_idempotent[s]:
                                suppressed[s] += 1
                            else:
                                duplicates[s] += 1
                    elif ok:
                        box = copy_box[done]
                        if box >= 0:  # redelivered meanwhile and waiting: withdrawn
                            if copy_retrying[done]:
                                _unlink(retries_head, retries_tail, copy_prev, copy_next, box, done)
                            else:
                                _unlink(items_head, items_tail, copy_prev, copy_next, box, done)
                            copy_box[done] = -1
                            length[box] -= 1
                            _log(left_box, left_at, left, box, now)
                            left += 1
                        first_success = True
                    elif copy_doomed[done]:
                        if copy_running[done] == 0:
                            _dead_letter(done, s, copy_settled, copy_in_flight, in_flight, dead_lettered)
                    elif sub_nack[s] and copy_outstanding[done] == batch_delivery[c, j]:  # `Acknowledgments._nack`
                        copy_outstanding[done] = 0
                        if 0 <= sub_max_deliveries[s] <= copy_deliveries[done]:
                            if copy_running[done] > 0:
                                copy_doomed[done] = True
                            else:
                                _dead_letter(done, s, copy_settled, copy_in_flight, in_flight, dead_lettered)
                        else:
                            wait = _retry_delay(copy_deliveries[done], sub_retry_delay[s], sub_exponential[s],
                                                sub_retry_delay_max[s])  # fmt: skip
                            returns = now + wait
                            if returns > now:
                                _schedule(heap_time, heap, heap_size, returns, serial, RETURN, done, 0)
                                heap_size += 1
                                serial += 1
                            else:  # back at once; then this consumer goes on with its batch
                                back, then = done, c
                    if first_success:
                        copy_settled[done] = PROCESSED
                        in_flight[s] -= copy_in_flight[done]
                        copy_in_flight[done] = False
                        processed[s] += 1
                        success_published[successes] = copy_published[done]
                        success_started[successes] = start
                        success_finished[successes] = now
                        success_owner[successes] = s
                        success_delivery[successes] = batch_delivery[c, j]
                        successes += 1
                if back >= 0:
                    continue
                state[c] = WAITING
            box = inbox[c]
            if copy < 0:  # after a batch: the next copy waiting (redeliveries first), or wait for one
                copy = _take(retries_head, retries_tail, items_head, items_tail, copy_prev, copy_next, box)
                if copy < 0:
                    if getter_tail[box] < 0:
                        getter_head[box] = c
                    else:
                        getter_next[getter_tail[box]] = c
                    getter_tail[box] = c
                    continue
                copy_box[copy] = -1
                length[box] -= 1
                _log(left_box, left_at, left, box, now)
                left += 1
            # Up to a batch of waiting copies, then `Subscription.taken` for each: one delivery, whose timeout
            # starts now. The batch starts when its last copy can have reached the consumer.
            count = 0
            batch_copy[c, 0] = copy
            while count + 1 < sub_batch_size[s]:
                more = _take(retries_head, retries_tail, items_head, items_tail, copy_prev, copy_next, box)
                if more < 0:
                    break
                count += 1
                batch_copy[c, count] = more
                copy_box[more] = -1
                length[box] -= 1
                _log(left_box, left_at, left, box, now)
                left += 1
            batch_count[c] = count + 1
            lasts = sub_batch_overhead[s]
            start = now
            for j in range(count + 1):
                copy = batch_copy[c, j]
                delivered[s] += 1
                copy_deliveries[copy] += 1
                copy_running[copy] += 1
                delivery = copy_deliveries[copy]
                redelivered[s] += delivery > 1
                in_flight[s] += not copy_in_flight[copy]
                copy_in_flight[copy] = True
                if sub_ack[s]:
                    copy_outstanding[copy] = delivery
                    expires = now + sub_timeout[s]
                    _schedule(heap_time, heap, heap_size, expires, serial, EXPIRE, copy, delivery)
                    heap_size += 1
                    serial += 1
                if delivery == 1:
                    service, fails = copy_service[copy], copy_fails[copy]
                else:  # `Work.retry`
                    draw = sub_retry_start[s] + retried[s]
                    if draw == sub_retry_start[s + 1]:
                        enough = False
                        break
                    retried[s] += 1
                    service = retry_services[draw] + sub_redelivery_overhead[s]
                    fails = retry_fails[draw] or copy_poison[copy]
                batch_delivery[c, j], batch_fails[c, j] = delivery, fails
                lasts += service + sub_overhead[s]
                reach = copy_published[copy] + sub_delay[s]
                if sub_delay[s] != 0.0 and reach > start:
                    start = reach
            if not enough:
                break
            batch_length[c] = lasts
            busy[c] = 1
            busy_since[c] = start
            if start > now:
                state[c] = DELAYED
                wake = now + (start - now)
            else:
                state[c] = BUSY
                attempt_start[c] = now
                wake = now + lasts
            _schedule(heap_time, heap, heap_size, wake, serial, c, -1, 0)
            heap_size += 1
            serial += 1

    return (
        messages,
        delivered,
        processed,
        redelivered,
        duplicates,
        suppressed,
        dropped,
        dead_lettered,
        in_flight,
        length,
        busy,
        busy_since,
        busy_time,
        success_published[:successes],
        success_started[:successes],
        success_finished[:successes],
        success_owner[:successes],
        success_delivery[:successes],
        entered_box[:entered],
        entered_at[:entered],
        left_box[:left],
        left_at[:left],
        enough,
    )
