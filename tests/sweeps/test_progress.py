"""Progress outside a terminal: a line every few seconds with runs done, rate and time left; nothing if asked."""

import io

from sweeps.progress import Progress


def test_a_pipe_gets_lines_of_runs_done_rate_and_time_left():
    stream = io.StringIO()  # not a terminal
    progress = Progress("default", every=0.0, stream=stream)
    progress.add(4)
    for _ in range(3):
        progress.update()
    progress.add(2)  # a precision round adds runs
    progress.update()
    progress.close()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("default: 1/4 runs (25%), ") and "runs/s, about" in lines[0]
    assert lines[3].startswith("default: 4/6 runs (67%)")
    assert lines[-1].startswith("default: 4/6 runs")  # and one at the end
    assert progress.bar is None


def test_lines_come_no_more_often_than_asked():
    stream = io.StringIO()
    progress = Progress("default", every=3600.0, stream=stream)
    progress.add(100)
    for _ in range(100):
        progress.update()
    assert stream.getvalue() == ""
    progress.close()
    assert stream.getvalue().startswith("default: 100/100 runs (100%)")


def test_nothing_is_printed_when_progress_is_off():
    stream = io.StringIO()
    progress = Progress("default", show=False, every=0.0, stream=stream)
    progress.add(2)
    progress.update()
    progress.close()
    assert stream.getvalue() == ""
