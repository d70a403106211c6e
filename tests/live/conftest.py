import pytest

from live.server import running


@pytest.fixture(scope="session")
def server():
    """A real server for the whole session: the bundled Valkey (or one on PATH), stopped at the end."""
    with running() as started:
        yield started
