"""What a run counts and logs while it runs: plain counters and compact arrays."""

from array import array


class Recorder:
    """Counters for MODEL.md's count metrics, and one row per copy's first success.

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
    )

    def __init__(self):
        for name in self.COUNTS:
            setattr(self, name, 0)
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
