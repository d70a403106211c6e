"""Calibration: measured costs make the simulator predict the real broker; without them it is optimistic."""

import pytest

from live import measure, runner
from live.calibrate import Calibration, calibrate
from pubsub import Scenario, simulate
from pubsub.topology import Topology

SCALE = 0.02


@pytest.fixture(scope="module")
def calibration(server):
    return calibrate(server.url, SCALE, rounds=1)


def test_costs_are_positive_and_acknowledgments_cost_a_round_trip(calibration):
    assert 0 < calibration.service_overhead_noack < calibration.service_overhead_ack < 0.02
    assert 0 <= calibration.delivery_delay < 0.02
    fields = calibration.fields(True, SCALE)
    assert fields == {
        "delivery_delay": calibration.delivery_delay / SCALE,
        "service_overhead": calibration.service_overhead_ack / SCALE,
        "redelivery_overhead": calibration.redelivery_overhead / SCALE,
    }
    assert calibration.fields(False, SCALE)["redelivery_overhead"] == 0.0  # nothing comes back without acks


def test_a_claim_costs_more_than_a_read_but_less_than_a_whole_message(calibration):
    # Measured here at 0.33-0.42 ms a round: a heavier reply than XREADGROUP's, in the same single round trip.
    assert 0 < calibration.redelivery_overhead < calibration.service_overhead_ack


def test_a_short_case_agrees_with_the_calibrated_simulation(server, calibration):
    s = Scenario(dispatch="shared", group_size=2, publish_rate=1.3, duration=300.0, warmup=20.0, seed=7)
    real = measure.summarize(runner.run(s, server.url, SCALE))
    calibrated = simulate(calibration.applied(s, SCALE)).summary
    uncalibrated = simulate(s).summary
    # Loose bounds for one short run; `python -m live check` holds the tight ones.
    for metric, bound in (("latency_mean", 0.15), ("latency_p50", 0.2), ("latency_p99", 0.25)):
        assert calibrated[metric] == pytest.approx(real[metric], rel=bound), metric
    assert uncalibrated["latency_mean"] < real["latency_mean"]
    assert abs(calibrated["latency_mean"] - real["latency_mean"]) < abs(
        uncalibrated["latency_mean"] - real["latency_mean"]
    )


def test_each_subscription_of_a_named_topology_takes_the_costs_of_its_own_calls():
    measured = Calibration(delivery_delay=0.001, service_overhead_ack=0.003, service_overhead_noack=0.002,
                           redelivery_overhead=0.0005, publish_to_receive=0.0, samples=10)  # fmt: skip
    s = Scenario(
        topics={"orders": {}},
        subscriptions={"email": {"topics": ["orders"], "ack": True}, "audit": {"topics": ["orders"]}},
        dispatch="shared",
    )
    email, audit = Topology.of(measured.applied(s, 0.01)).subscriptions
    assert (email.settings.service_overhead, audit.settings.service_overhead) == pytest.approx((0.3, 0.2))
    assert email.settings.delivery_delay == audit.settings.delivery_delay == pytest.approx(0.1)
    assert (email.settings.redelivery_overhead, audit.settings.redelivery_overhead) == pytest.approx((0.05, 0.0))


def test_a_calibration_for_consumers_without_acknowledgments_measures_only_their_costs(server):
    found = calibrate(server.url, SCALE, rounds=1, ack=False)
    assert found.service_overhead_ack is None and found.redelivery_overhead is None
    assert 0 < found.service_overhead_noack < 0.02 and 0 <= found.delivery_delay < 0.02
    assert found.fields(False, SCALE)["service_overhead"] == found.service_overhead_noack / SCALE
    with pytest.raises(ValueError, match="ack=True"):
        found.fields(True, SCALE)
