"""What the metrics and the log context cost on the hot paths, per call, in one process and in
prometheus-client's multi-process mode (several workers).

    python -m bench.instruments

Each mode runs in a child interpreter: the mode is chosen when prometheus-client is imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

N = 200_000

_CHILD = """
import time
from server import logs, metrics

def per_call(fn, n):
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - began) / n)
    return best * 1e9

def context() -> None:
    token = logs.CONVERSATION_ID.set("cv_x")
    logs.CONVERSATION_ID.reset(token)

n = {n}
for name, fn in (("counter increment (a frame in or out)", metrics.FRAMES_OUT.inc),
                 ("histogram observation (an ack)", lambda: metrics.ACK_SECONDS.observe(0.002)),
                 ("gauge increment (a connection)", metrics.CUSTOMER_CONNECTIONS.inc),
                 ("conversation id set and reset (a frame)", context),
                 ("an empty call, for scale", lambda: None)):
    print(f"  {{name:45}} {{per_call(fn, n):7.0f}} ns")
"""


def main() -> None:
    for mode in ("one process", "multi-process"):
        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        with tempfile.TemporaryDirectory() as directory:
            if mode == "multi-process":
                env["PROMETHEUS_MULTIPROC_DIR"] = directory
            began = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", _CHILD.format(n=N)], env=env, capture_output=True,
                                 text=True, check=True)
        print(f"{mode} ({time.perf_counter() - began:.1f} s):\n{out.stdout}", end="")


if __name__ == "__main__":
    main()
