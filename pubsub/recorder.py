"""What a run counts and logs while it runs: plain counters and compact arrays."""

from array import array
from collections import defaultdict

COUNTS = (
    "published",
    "delivered",
    "processed",
    "redelivered",
    "duplicates",
    "suppressed",
    "dropped",
    "dead_lettered",
    "lost",
    "crashes",
)


class Tally:
    """One subscription's counters; `published` counts the copies offered to it (its topics' messages).

    Its first successes go to the run's log, marked with the subscription's index there.
    """

    def __init__(self, log: "Recorder", index: int, topics: tuple[str, ...]) -> None:
        self.delivered = 0
        self.processed = 0
        self.redelivered = 0
        self.duplicates = 0
        self.suppressed = 0
        self.dropped = 0
        self.dead_lettered = 0
        self.lost = 0
        self.crashes = 0
        self._log = log
        self._index = index
        self._topics = topics

    @property
    def published(self) -> int:
        # Every message of its topics offers it a copy (a dropped one is counted after): counted once per
        # message, by the run, not once more per copy.
        messages = self._log.messages
        return sum(messages[topic] for topic in self._topics)

    def first_success(self, published_at: float, started_at: float, finished_at: float, delivery: int) -> None:
        self.processed += 1
        log = self._log
        log.published_at.append(published_at)
        log.started_at.append(started_at)
        log.finished_at.append(finished_at)
        log.owner.append(self._index)
        log.delivery.append(delivery)

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNTS}


class Recorder:
    """A run's messages published, the counters of each subscription (`tally`), and one row per copy's first
    success in the order they happened: publish, start of the successful attempt, completion, which
    subscription's copy it was, and which of its deliveries the attempt was on.

    The rows are reduced to latency and throughput once, at the end of the run;
    a count read here is the run's total (messages published, and every
    subscription's counters summed).
    """

    def __init__(self) -> None:
        self.messages: defaultdict[str, int] = defaultdict(int)  # published, by topic
        self.tallies: list[Tally] = []
        self.published_at = array("d")
        self.started_at = array("d")
        self.finished_at = array("d")
        self.owner = array("l")  # the index of the subscription whose copy succeeded
        self.delivery = array("i")  # 1: on its first delivery

    @property
    def published(self) -> int:
        return sum(self.messages.values())

    def tally(self, topics: tuple[str, ...]) -> Tally:
        """Counters for one more subscription, of `topics`."""
        tally = Tally(self, len(self.tallies), topics)
        self.tallies.append(tally)
        return tally

    def counts(self) -> dict[str, int]:
        totals = {name: sum(getattr(t, name) for t in self.tallies) for name in COUNTS}
        return {**totals, "published": self.published}

    def __getattr__(self, name: str) -> int:
        # The run's total of a subscription counter (`recorder.delivered`), for readers; subscriptions count.
        if name in COUNTS:
            return sum(getattr(t, name) for t in self.__dict__.get("tallies", ()))
        raise AttributeError(name)
