"""Run a Scenario on a real Redis-compatible broker, in real time, with the simulator's own random draws.

Model seconds become real seconds times `time_scale`. Every publisher publishes
open-loop on an absolute schedule (its gaps from `pubsub.randomness`), so a
late publisher cannot hide queueing: latency counts from the scheduled time.
Every message carries its copies' first-attempt work, drawn as the simulator
draws it (`pubsub.work.Work`: each subscription draws in the order its copies
arrive, across all the topics it reads). Every consumer has its own connection,
reads with `XREADGROUP`, sleeps the copy's service time (a redelivery's comes
from its group's retry draws), then fails (no acknowledgment) or acknowledges.
What happened is logged with `clock()` timestamps; `live.measure` turns the
log into the simulator's metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import redis
import redis.asyncio as aioredis

try:  # libuv's loop: a consumer's cost per message measured 0.58-0.77 ms against asyncio's 0.81-0.83, and
    # its spread between 2-second rounds 0.06-0.10 ms against 0.25-0.28
    import uvloop
except ImportError:  # not built for Windows
    uvloop = None  # type: ignore[assignment]

from pubsub import Scenario
from pubsub import randomness as rnd
from pubsub.topology import Topology as Parts
from pubsub.work import Work

from .topology import Topology, refuse_unsupported

# Past its last allowed delivery, an entry still pending is written to the dead-letter stream, then
# acknowledged, in one atomic step: a late attempt's XACK between the claim and this must not count twice.
DEAD_LETTER = """
if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', 'stream', KEYS[1], 'id', ARGV[2])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return 1
"""
# The oldest waiting entry of a group across several streams (its topics, or its partitions), read for a
# consumer: the heads after each stream's last-delivered id compared by scheduled publish time, as the
# simulator's single FIFO would hand them out. Nil when every stream is drained. Never blocks.
OLDEST = """
local best, best_time
for _, key in ipairs(KEYS) do
  local last
  for _, group in ipairs(redis.call('XINFO', 'GROUPS', key)) do
    local info = {}
    for i = 1, #group, 2 do info[group[i]] = group[i + 1] end
    if info['name'] == ARGV[1] then last = info['last-delivered-id'] end
  end
  local head = redis.call('XRANGE', key, '(' .. last, '+', 'COUNT', 1)
  if #head > 0 then
    local fields, at = head[1][2], nil
    for i = 1, #fields, 2 do if fields[i] == 't' then at = tonumber(fields[i + 1]) end end
    if best == nil or at < best_time then best, best_time = key, at end
  end
end
if best == nil then return false end
if ARGV[3] == '1' then
  return redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', 1, 'NOACK', 'STREAMS', best, '>')
end
return redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', 1, 'STREAMS', best, '>')
"""
IDLE_BLOCK_MS = 100  # how long an idle consumer's read blocks when no delivery of its group can expire sooner
CLOSE = 0.001  # s: an expiry this close is waited for on the client's clock (the server's tick is 2 ms)
LEAD = 0.2  # s between the end of set-up and the first scheduled publish
# Every timestamp and deadline of a run: the loop's own clock is whole milliseconds under uvloop.
clock = time.perf_counter


@dataclass
class Attempt:
    """One delivery of a copy to a consumer and what came of it. Times are `clock()`'s, s."""

    topic: int  # the copy's, numbered as pubsub.topology orders topics
    subscription: int  # numbered as pubsub.topology orders subscriptions
    consumer: int
    copy: str  # "<stream> <entry id>": unique within a subscription
    published: float  # the message's scheduled publish time, model s
    delivery: int  # 1 for the first delivery, XPENDING's count after a claim
    taken: float
    ended: float = math.nan
    outcome: str = "unfinished"  # processed | failed | duplicate | suppressed | unfinished


@dataclass
class Log:
    """Everything a live run did, for `live.measure`."""

    scenario: Scenario
    time_scale: float
    start: float  # clock() at model time 0
    published: list[tuple[int, str, float, float]] = field(default_factory=list)  # topic, copy, scheduled (model), at
    attempts: list[Attempt] = field(default_factory=list)
    dead: list[tuple[int, str, float]] = field(default_factory=list)  # subscription, copy, at
    acknowledged: Counter = field(default_factory=Counter)  # subscription -> XACKs that settled a copy
    server: dict = field(default_factory=dict)  # the conservation check, read from the server at the end
    calls: Counter = field(default_factory=Counter)  # server round trips by kind, for diagnosis
    wall_seconds: float = math.nan

    def model_time(self, at: float) -> float:
        return (at - self.start) / self.time_scale


class StreamState:
    """What the consumers reading the same streams for one group share in this process.

    When each unsettled delivery may expire: an idle consumer blocks on the
    server only until the next of these, then asks the server (XAUTOCLAIM)
    whether anything expired; the server decides.
    """

    def __init__(self, timeout: float):
        # A delivery the client received at t was made on the server before t, so at t + timeout the
        # server's idle time (in whole milliseconds, as is the timeout) is at least the timeout.
        self.timeout = timeout
        self._heap: list[tuple[float, str, int]] = []
        self._current: dict[str, int] = {}  # copy -> its latest delivery, while unsettled
        self._settled: set[str] = set()

    def delivered(self, copy: str, delivery: int, at: float) -> None:
        if copy in self._settled:
            return  # claimed just before a late attempt acknowledged it: nothing left to expire
        self._current[copy] = delivery
        heapq.heappush(self._heap, (at + self.timeout, copy, delivery))

    def settled(self, copy: str) -> None:
        self._current.pop(copy, None)
        self._settled.add(copy)

    def next(self) -> float | None:
        heap = self._heap
        while heap and self._current.get(heap[0][1]) != heap[0][2]:
            heapq.heappop(heap)  # settled, or delivered again since
        return heap[0][0] if heap else None

    def next_stream(self) -> str | None:
        """The stream of the delivery that expires next; None if none is unsettled (another consumer of the
        group may have settled it since this one looked)."""
        return self._heap[0][1].split()[0] if self.next() is not None else None

    def postpone(self) -> None:
        """The next deadline passed but the server had nothing to claim yet: look again a little later."""
        if self.next() is not None:
            at, copy, delivery = heapq.heappop(self._heap)
            heapq.heappush(self._heap, (at + 0.001, copy, delivery))


Plan = list[tuple[float, int]]  # (publish time in model s, key) of each message of one publisher


async def sleep_until(deadline: float) -> None:
    """Sleep until `clock()` reads `deadline`, within a few microseconds.

    The loop's timers wake up to a millisecond late (epoll's timeouts and
    libuv's clock are whole milliseconds), by an amount that depends on what
    else the loop is doing; so sleep coarsely, then yield to the loop until the
    deadline.
    """
    coarse = deadline - clock() - 0.0015
    if coarse > 0:
        await asyncio.sleep(coarse)
    while clock() < deadline:
        await asyncio.sleep(0)


def schedule(scenario: Scenario, topic: int, publisher: int) -> Plan:
    """(publish time in model s, key) of every message the simulator's publisher would publish."""
    parts = Parts.of(scenario)
    part = parts.topics[topic]
    gaps = rnd.arrival_gaps(part, publisher)
    keys = rnd.message_keys(part, publisher) if parts.keyed(part.name) else itertools.repeat(0)
    out: Plan = []
    now = 0.0
    while True:
        now += next(gaps)
        if now > scenario.duration:
            return out
        out.append((now, next(keys)))


class LiveRun:
    """One Scenario on the server at `url`; `run()` returns the log.

    `plans` replaces the publishers' schedules ((topic, publisher) -> plan), for
    calibration's micro-measurements; by default they are the Scenario's draws.
    """

    def __init__(
        self, scenario: Scenario, url: str, time_scale: float, plans: dict[tuple[int, int], Plan] | None = None
    ):
        refuse_unsupported(scenario)
        if not time_scale > 0:
            raise ValueError(f"time_scale must be positive, got {time_scale}")
        self.scenario = scenario
        self.url = url
        self.scale = time_scale
        self.topology = Topology(scenario, f"pubsub-live:{uuid.uuid4().hex[:12]}")
        self.parts = self.topology.parts  # the simulator's topics and subscriptions, whose draws the run uses
        self.settings = [part.settings for part in self.parts.subscriptions]
        self.plans = plans or {}
        self.stopping = False
        self.timeout_ms = [max(1, round(s.ack_timeout * time_scale * 1000)) for s in self.settings]
        self.topic_of = {stream: t for t in range(len(self.parts.topics)) for stream in self.topology.streams(t)}
        self.held: dict[tuple[int, int], list[tuple[str, str, dict, int]]] = {}  # read together, taken in turn

    def run(self) -> Log:
        if uvloop is not None:
            return uvloop.run(self._main())
        return asyncio.run(self._main())

    async def _connect(self) -> aioredis.Redis:
        conn = aioredis.Redis.from_url(self.url, decode_responses=True)
        await conn.ping()  # connect now, not during the measured run
        return conn

    async def _main(self) -> Log:
        s, top = self.scenario, self.topology
        admin = await self._connect()
        connections = [admin]
        try:
            self.oldest = admin.register_script(OLDEST)
            for g in range(len(self.settings)):
                for stream in top.subscription_streams(g):
                    await admin.xgroup_create(stream, top.group(g), id="0", mkstream=True)
            consumers = []
            for g, settings in enumerate(self.settings):
                states: dict[tuple[str, ...], StreamState] = {}
                # The group's redeliveries draw from its retry streams, in order.
                retries = Work.of(self.parts.subscriptions[g])
                for i in range(settings.group_size):
                    streams = tuple(top.consumer_streams(g, i))
                    state = states.setdefault(streams, StreamState(self.timeout_ms[g] / 1000))
                    conn = await self._connect()
                    connections.append(conn)
                    consumers.append((conn, g, i, list(streams), state, retries))
            publishers = []
            for t, by_publisher in enumerate(self.entries()):
                for entries in by_publisher:
                    conn = await self._connect()
                    connections.append(conn)
                    publishers.append((conn, t, entries))

            log = Log(s, self.scale, clock() + LEAD)
            started = time.perf_counter()
            tasks = [asyncio.create_task(self._consume(log, *c)) for c in consumers]
            tasks += [asyncio.create_task(self._publish(log, conn, t, entries)) for conn, t, entries in publishers]
            await asyncio.sleep(log.start + s.duration * self.scale - clock())
            self.stopping = True
            await asyncio.gather(*tasks)
            log.wall_seconds = time.perf_counter() - started
            log.server = await self._conservation(admin, log)
            return log
        finally:
            self.stopping = True
            with contextlib.suppress(redis.RedisError):  # a server that went away keeps nothing to remove
                await self._remove_keys(admin)
            for conn in connections:
                await conn.aclose()

    def entries(self) -> list[list[list[tuple[float, str, dict]]]]:
        """Per topic, per publisher: (publish time, stream, fields) of each of its messages.

        Each message carries, per subscription g that reads its topic, its copy's
        first attempt: service time `w<g>` (model s) and failure `x<g>`, drawn as
        the simulator draws them: each subscription in the order its copies
        arrive, across all its topics, so that the same copy does the same work here.
        """
        s, parts = self.scenario, self.parts
        works = [Work.of(part) for part in parts.subscriptions]
        readers = [[g for g, part in enumerate(parts.subscriptions) if t.name in part.topics] for t in parts.topics]
        messages = []
        for t, topic in enumerate(parts.topics):
            for p in range(topic.settings.publishers):
                plan = self.plans[t, p] if (t, p) in self.plans else schedule(s, t, p)
                messages += [(at, t, p, key) for at, key in plan]
        entries: list[list[list[tuple[float, str, dict]]]] = [
            [[] for _ in range(topic.settings.publishers)] for topic in parts.topics
        ]
        for at, t, p, key in sorted(messages):
            fields: dict = {"t": repr(at), "k": key}
            for g in readers[t]:
                service, fails = works[g].first()
                fields[f"w{g}"], fields[f"x{g}"] = repr(service), int(fails)
            entries[t][p].append((at, self.topology.stream_for_key(t, key), fields))
        return entries

    async def _publish(self, log: Log, conn: aioredis.Redis, topic: int, entries) -> None:
        for at, stream, fields in entries:
            await sleep_until(log.start + at * self.scale)
            entry = await conn.xadd(stream, fields)
            log.published.append((topic, f"{stream} {entry}", at, clock()))

    async def _consume(
        self, log: Log, conn: aioredis.Redis, sub: int, index: int, streams: list[str], state, retries: Work
    ) -> None:
        settings = self.settings[sub]
        while not self.stopping:
            entry = await self._next_entry(log, conn, sub, index, streams, state)
            if entry is None:
                continue
            stream, entry_id, fields, delivery = entry
            copy = f"{stream} {entry_id}"
            attempt = Attempt(self.topic_of[stream], sub, index, copy, float(fields["t"]), delivery, clock())
            log.attempts.append(attempt)
            if self.stopping:
                break  # delivered after the end: left pending, as the simulator leaves it in flight
            if settings.ack:
                state.delivered(copy, delivery, attempt.taken)
            if delivery == 1:
                service, fails = float(fields[f"w{sub}"]), fields[f"x{sub}"] == "1"
            else:
                service, fails = retries.retry(poison=False)  # (poison is refused on a real broker)
            await sleep_until(attempt.taken + service * self.scale)
            if fails:
                attempt.ended, attempt.outcome = clock(), "failed"
                continue
            attempt.outcome = await self._settle(log, conn, sub, stream, entry_id) if settings.ack else "processed"
            attempt.ended = clock()
            if settings.ack:  # acknowledged now, or before (a duplicate): either way no longer pending
                state.settled(copy)

    async def _next_entry(self, log: Log, conn: aioredis.Redis, sub: int, index: int, streams: list[str], state):
        """The next (stream, entry id, fields, delivery count) for this consumer, None if none came or it was
        dead-lettered.

        As in the simulator, a copy back for redelivery (its delivery expired) is
        handed out before new copies: expired deliveries are claimed first. Of
        several streams, the oldest waiting entry is read.
        """
        ack = self.settings[sub].ack
        held = self.held.get((sub, index))
        if held:
            return held.pop(0)
        top = self.topology
        group, name = top.group(sub), top.consumer(index)
        due = state.next() if ack else None
        if due is None:
            block: int | None = IDLE_BLOCK_MS
        elif due <= clock():
            return await self._claim(log, conn, sub, name, state)
        elif due - clock() <= CLOSE:
            block = None  # a copy already waiting is taken now; else the expiry is waited for below
        else:  # block until a copy comes, or until the next delivery of this stream is about to expire
            block = max(1, min(IDLE_BLOCK_MS, math.floor((due - clock() - CLOSE) * 1000)))
        if len(streams) > 1:  # the oldest head first; blocking on all of them only when all are drained
            found = await self.oldest(keys=streams, args=[group, name, 0 if ack else 1], client=conn)
            log.calls["read oldest" if found else "empty read oldest"] += 1
            if found:
                return self._entry(found, unparsed=True)[0]
        found = await conn.xreadgroup(group, name, dict.fromkeys(streams, ">"), count=1, block=block, noack=not ack)
        log.calls["read" if found else "empty read"] += 1
        if not found:
            if block is None and due is not None:
                # The server wakes blocked readers on its own clock tick: the last moments are waited for here.
                await sleep_until(due)
                return await self._claim(log, conn, sub, name, state)
            return None
        first, *rest = self._entry(found)
        if rest:  # entries came on several streams at once (a blocked read woke as they did): taken in turn
            log.calls["several in one read"] += 1
            self.held[sub, index] = sorted(rest, key=lambda entry: float(entry[2]["t"]))
        return first

    @staticmethod
    def _entry(found, unparsed: bool = False) -> list[tuple[str, str, dict, int]]:
        """An XREADGROUP reply as (stream, entry id, fields, delivery 1), oldest first. (A script's reply comes
        `unparsed`: each entry's fields as a flat list.)"""
        if unparsed:
            found = [(stream, [(i, dict(zip(f[::2], f[1::2]))) for i, f in items]) for stream, items in found]
        entries = [(stream, entry_id, fields, 1) for stream, items in found for entry_id, fields in items]
        return sorted(entries, key=lambda entry: float(entry[2]["t"]))

    async def _settle(self, log: Log, conn, sub: int, stream: str, entry_id: str) -> str:
        """Acknowledge a successful attempt (recording the id first if idempotent): one round trip."""
        group, idempotent = self.topology.group(sub), self.settings[sub].idempotent
        if idempotent:
            pipe = conn.pipeline(transaction=False)
            pipe.sadd(self.topology.done(sub), entry_id)
            pipe.xack(stream, group, entry_id)
            first, acked = await pipe.execute()
        else:
            first, acked = 1, await conn.xack(stream, group, entry_id)
        if acked:
            log.acknowledged[sub] += 1
            return "processed"
        return "suppressed" if idempotent and not first else "duplicate"

    async def _claim(self, log: Log, conn, sub: int, name: str, state: StreamState):
        """An expired delivery claimed for this consumer (None if there was none), or dead-lettered past its limit.

        The claim and the delivery counts of this consumer's pending entries travel in one round trip.
        """
        group, timeout = self.topology.group(sub), self.timeout_ms[sub]
        stream = state.next_stream()
        if stream is None:
            return None
        pipe = conn.pipeline(transaction=False)
        pipe.xautoclaim(stream, group, name, timeout, "0-0", count=1)
        pipe.xpending_range(stream, group, "-", "+", 1000, consumername=name)
        (cursor, claimed, *_), mine = await pipe.execute()
        log.calls["claim"] += 1
        while not claimed and cursor != "0-0":  # page the cursor to the end
            cursor, claimed, *_ = await conn.xautoclaim(stream, group, name, timeout, cursor, count=1)
            log.calls["claim page"] += 1
            mine = []
        if not claimed:
            log.calls["empty claim"] += 1
            state.postpone()
            return None
        entry_id, fields = claimed[0]
        delivery = next((p["times_delivered"] for p in mine if p["message_id"] == entry_id), None)
        if delivery is None:
            pending = await conn.xpending_range(stream, group, entry_id, entry_id, 1)
            if not pending:
                return None  # acknowledged in between, by an attempt that outlasted its timeout
            delivery = pending[0]["times_delivered"]
        limit = self.settings[sub].max_deliveries
        if limit is not None and delivery > limit:
            moved = await conn.eval(DEAD_LETTER, 2, stream, self.topology.dead_letters(sub), group, entry_id)
            copy = f"{stream} {entry_id}"
            state.settled(copy)
            if moved:  # else a late attempt acknowledged it since the claim
                log.dead.append((sub, copy, clock()))
            return None
        return stream, entry_id, fields, delivery

    async def _conservation(self, admin: aioredis.Redis, log: Log) -> dict:
        """Per subscription, read from the server: published = acknowledged + pending + waiting + dead-lettered."""
        top = self.topology
        groups = []
        for g, settings in enumerate(self.settings):
            published = pending = waiting = read = 0
            for stream in top.subscription_streams(g):
                published += await admin.xlen(stream)
                (info,) = [i for i in await admin.xinfo_groups(stream) if i["name"] == top.group(g)]
                pending += info["pending"]
                waiting += info["lag"]
                read += info["entries-read"] or 0
            dead = await admin.xlen(top.dead_letters(g))
            if settings.ack:
                acknowledged = log.acknowledged[g]
            else:  # NOACK: the server acknowledges at delivery; every delivery must have reached a consumer
                acknowledged = sum(a.subscription == g for a in log.attempts)
                pending += read - acknowledged  # nonzero only if the consumers lost a delivery
            groups.append(
                {
                    "subscription": top.group(g),
                    "published": published,
                    "acknowledged": acknowledged,
                    "pending": pending,
                    "waiting": waiting,
                    "dead_lettered": dead,
                    "holds": published == acknowledged + pending + waiting + dead,
                }
            )
        return {"groups": groups, "holds": all(g["holds"] for g in groups)}

    async def _remove_keys(self, admin: aioredis.Redis) -> None:
        keys = [key async for key in admin.scan_iter(match=f"{self.topology.prefix}:*", count=1000)]
        if keys:
            await admin.unlink(*keys)


def run(scenario: Scenario, url: str, time_scale: float) -> Log:
    """Run `scenario` on the server at `url`; the log of what happened."""
    return LiveRun(scenario, url, time_scale).run()
