"""What a run counts and logs while it runs: plain counters and compact arrays."""

from array import array


class Recorder:
    """Counters for the count metrics a run tallies as it goes, and one row per copy's first success.

    The rows (publish, start of the successful attempt, completion) are reduced
    to latency and throughput once, at the end of the run.
    """

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

    def __init__(self) -> None:
        self.published = 0
        self.delivered = 0
        self.processed = 0
        self.redelivered = 0
        self.duplicates = 0
        self.suppressed = 0
        self.dropped = 0
        self.dead_lettered = 0
        self.lost = 0
        self.crashes = 0
        self.published_at = array("d")
        self.started_at = array("d")
        self.finished_at = array("d")

    def first_success(self, published_at: float, started_at: float, finished_at: float) -> None:
        self.processed += 1
        self.published_at.append(published_at)
        self.started_at.append(started_at)
        self.finished_at.append(finished_at)

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.COUNTS}
