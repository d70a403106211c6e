"""Collects deliveries per CPU second from each benchmark and prints ratios to the baselines."""

RATES: dict[str, float] = {}


def record(benchmark, name: str, deliveries: int) -> None:
    """Deliveries per second of the best round, kept in extra_info and for the closing table."""
    best = benchmark.stats.stats.min
    benchmark.extra_info["deliveries"] = deliveries
    benchmark.extra_info["deliveries_per_second"] = deliveries / best
    benchmark.extra_info["microseconds_per_delivery"] = 1e6 * best / deliveries
    RATES[name] = deliveries / best


def pytest_terminal_summary(terminalreporter):
    if not RATES:
        return
    tr = terminalreporter
    tr.section("cost per delivery (best round, CPU time) and ratio to the baselines")
    baselines = {b: RATES[b] for b in ("asimpy_minimal_mm1", "simpy_minimal_mm1") if b in RATES}
    header = f"{'benchmark':<24} {'µs/delivery':>12}" + "".join(f" {'vs ' + b.split('_')[0]:>10}" for b in baselines)
    tr.write_line(header)
    for name, rate in RATES.items():
        ratios = "".join(f" {base / rate:>10.2f}" for base in baselines.values())
        tr.write_line(f"{name:<24} {1e6 / rate:>12.2f}{ratios}")
    tr.write_line("ratio = cost relative to the baseline's (below 1: cheaper per delivery than the baseline)")
    engines = [(name, name.replace("compiled_", "simulate_", 1)) for name in RATES if name.startswith("compiled_")]
    if engines:
        tr.write_line("")
        tr.write_line(f"{'workload':<24} {'asimpy engine µs':>17} {'compiled µs':>12} {'speed-up':>9}")
        for compiled, reference in engines:
            if reference in RATES:
                slow, fast = 1e6 / RATES[reference], 1e6 / RATES[compiled]
                tr.write_line(f"{compiled[9:]:<24} {slow:>17.3f} {fast:>12.3f} {slow / fast:>8.1f}×")
