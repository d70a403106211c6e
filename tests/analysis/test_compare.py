"""`python -m analysis compare A B`: cells matched by their grid, paired by seed, what moved and what did not."""

from analysis.__main__ import main
from analysis.compare import compare
from analysis.results import load as load_results
from sweeps import load, run_sweep

SPEC = """
name = "{name}"
replications = 4
seed = {seed}
[scenario]
duration = 2000.0
warmup = 200.0
dispatch = "shared"
publish_rate = 0.5
ack = true
failure_prob = 0.05
ack_timeout = {timeout}
[grid]
group_size = [1, 2]
"""


def _sweep(tmp_path, name: str, timeout: float, seed: int = 1):
    spec = tmp_path / f"{name}.toml"
    spec.write_text(SPEC.format(name=name, timeout=timeout, seed=seed))
    run_sweep(load(spec), spec, tmp_path / "results", workers=1, progress=False)
    assert main(["report", str(tmp_path / "results" / name)]) == 0
    return load_results(tmp_path / "results" / name)


def test_a_setting_change_is_paired_by_seed_and_its_effects_found(tmp_path, without_figures, capsys):
    before, after = _sweep(tmp_path, "slow-retries", 30.0), _sweep(tmp_path, "fast-retries", 2.0)
    found = compare(before, after)
    assert found.matched_on == ["group_size"] and found.changes["paired"].all()
    p99 = found.changes.set_index(["group_size", "metric"]).loc[(1, "latency_p99")]
    assert p99["moved"] and p99["change_high"] < 0  # shorter timeouts: a lower p99, beyond its interval
    published_alike = found.changes[found.changes["metric"] == "dropped"]
    assert not published_alike["moved"].any()  # nothing is dropped in either: nothing moved
    assert found.answers["changed"].any()  # 30 s retries meet no target; 2 s ones do
    capsys.readouterr()
    assert main(["compare", str(before.folder), str(after.folder)]) == 0
    out = capsys.readouterr().out
    assert "paired by seed" in out and "capacity answers changed" in out and "latency_p99" in out
    assert (after.folder / "compare-slow-retries" / "compare.html").exists()


def test_different_seeds_are_compared_unpaired(tmp_path, without_figures):
    before, after = _sweep(tmp_path, "a", 30.0, seed=1), _sweep(tmp_path, "b", 30.0, seed=99)
    found = compare(before, after)
    assert not found.changes["paired"].any()
    assert not found.answers["changed"].any()  # the same system: the same answers
