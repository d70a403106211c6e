"""The chapter's system runs as a named topology, prints its trace, and Email falls behind."""

import subprocess
import sys

from pubsub import demo, simulate


def test_demo_prints_the_services_a_trace_and_each_subscription():
    out = subprocess.run(
        [sys.executable, "-m", "pubsub.demo", "--duration", "40"], capture_output=True, text=True, check=True
    ).stdout
    for name in ("OrderService", "UserService", "inventory", "email", "analytics"):
        assert name in out
    assert "published orders#" in out and "took user-activity#" in out
    assert "analytics/c0" in out
    assert "After 40 simulated seconds" in out


def test_email_falls_behind_while_the_others_keep_up():
    parts = simulate(demo.scenario(duration=500.0)).by_subscription
    assert parts.loc["email", "backlog_final"] > 50
    assert parts.loc["inventory", "backlog_final"] < 5
    assert parts.loc["analytics", "published"] > parts.loc["inventory", "published"]  # it reads both topics
