import pytest

from sweeps import load, run_sweep

SPEC = """
name = "mini"
description = "a small sweep that every figure applies to"
replications = 3
seed = 11

[scenario]
duration = 2000.0
warmup = 200.0
ack = true
ack_timeout = 20.0

[grid]
group_size = [1, 2]
publish_rate = [0.3, 0.6, 1.2]
dispatch = ["round-robin", "shared"]
failure_prob = [0.0, 0.1]
"""


@pytest.fixture(scope="session")
def mini_results(tmp_path_factory):
    """A finished small sweep's results folder (shared by the analysis tests: they only read it)."""
    root = tmp_path_factory.mktemp("analysis")
    spec = root / "mini.toml"
    spec.write_text(SPEC)
    run_sweep(load(spec), spec, root / "results", workers=2, progress=False)
    return root / "results" / "mini"


@pytest.fixture
def without_figures(monkeypatch):
    """For tests of a report's text and tables: the figures take most of a build and do not change them."""
    from analysis import answers, figures

    monkeypatch.setattr(figures, "draw_all", lambda *args: {})
    for name in ("answer_figure", "one_more_consumer_figure", "dispatch_figure"):
        monkeypatch.setattr(answers, name, lambda *args, **kwargs: None)


@pytest.fixture(scope="session")
def built(mini_results):
    """The mini sweep's report.html, built once with every figure (tests only read it and its folder)."""
    from analysis import reporting
    from analysis.results import load as load_results

    return reporting.build(load_results(mini_results))
