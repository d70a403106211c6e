"""The same Scenario on a real Redis-compatible broker (Redis Streams), with the simulator's random draws.

python -m live calibrate | check [--quick] | run SPEC
"""
