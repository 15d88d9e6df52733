"""How long the command line takes to answer before it does any work.

Runs ``socialcrm --help`` and ``socialcrm --version`` N times each in a fresh process, from an
empty folder, and prints the median and the fastest run. Issue 16 measured 3.7 s for
``--help`` when every domain was imported up front; commands now import what they use.

    .venv/bin/python bench/cli.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def timings(args: list[str], runs: int, cwd: str) -> list[float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALCRM_")}
    spent = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "socialcrm.cli", *args],
            env=env,
            cwd=cwd,
            capture_output=True,
            check=True,
        )
        spent.append(time.perf_counter() - start)
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="socialcrm-bench-cli-") as folder:
        for args in (["--help"], ["--version"]):
            spent = timings(args, runs, folder)
            print(
                f"socialcrm {' '.join(args):10s} median {statistics.median(spent):.2f} s, "
                f"fastest {min(spent):.2f} s ({runs} runs)"
            )
        left = os.listdir(folder)
        print(f"files left in the empty folder: {left or 'none'}")


if __name__ == "__main__":
    main()
