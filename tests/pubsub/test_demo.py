"""The chapter's scenario runs, prints its trace, and balances its books."""

import subprocess
import sys

from pubsub import demo


def test_demo_prints_the_five_services_and_a_trace():
    out = subprocess.run(
        [sys.executable, "-m", "pubsub.demo", "--duration", "40"], capture_output=True, text=True, check=True
    ).stdout
    for name in ("OrderService", "UserService", "Inventory", "Email", "Analytics"):
        assert name in out
    assert "published orders#" in out and "took user-activity#" in out
    assert "After 40 simulated seconds" in out


def test_demo_conserves_copies_and_email_falls_behind():
    summary = demo.run(duration=500.0, trace=demo.PrintTrace(quiet=True))
    accounted = (
        summary["processed"]
        + summary["backlog_final"]
        + summary["in_flight_final"]
        + summary["dropped"]
        + summary["dead_lettered"]
    )
    assert summary["copies_offered"] == accounted
    waiting = summary["waiting"]
    assert waiting["orders/Email"] > 50
    assert waiting["orders/Inventory"] < 5
