"""What the compiled engine's compilation costs: its first call in a fresh process, cold and warm.

Cold: numba's on-disk cache is empty, so the kernel is compiled. Warm: a new
process finds the cache that the cold one wrote, as every sweep worker does
after the first run on a machine. Each is the first `simulate` call's time
minus the same call's time once loaded (its run itself), in a fresh process.

    python -m benchmarks.compile
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

PROBE = """
import json, time
from pubsub import Scenario, simulate
scenario = Scenario(dispatch="shared", group_size=2, publish_rate=1.5, ack=True, failure_prob=0.1, duration=500.0)
started = time.perf_counter()
simulate(scenario, engine="compiled")
first = time.perf_counter() - started
started = time.perf_counter()
simulate(scenario, engine="compiled")
print(json.dumps({"first": first, "again": time.perf_counter() - started}))
"""


def first_call(cache: str) -> dict[str, float]:
    """The first and second call's seconds in a fresh process whose numba cache is `cache`."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
        cold = first_call(cache)
        warm = first_call(cache)
    for name, times in (("cold (empty cache)", cold), ("warm (cache on disk)", warm)):
        cost = times["first"] - times["again"]
        first, again = times["first"], times["again"]
        print(f"{name:<22} first call {first:.3f} s, again {again:.3f} s: compiling or loading {cost:.3f} s")


if __name__ == "__main__":
    main()
