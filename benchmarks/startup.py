"""Start-up: each verb's fixed cost before it reads a byte (Python, the dispatcher, the verb's
imports), in fresh interpreters, against the dispatcher alone measured in the same run.

    python benchmarks/startup.py            # median of 5 starts per verb
    python benchmarks/startup.py --repeats 9

Every Snakemake job is one such start, so this is the per-job floor of a run (on SLURM, sbatch
and the job step come on top). Printed per verb: median seconds to import what the verb runs,
the ratio to the peer (``import brainencode.cli``: Python plus the dispatcher), and whether
torch was imported (the verbs that fit or extract need it; the others should not).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from brainencode.cli import VERBS

PROBE = ("import sys, brainencode.cli as c; c.resolve({verb!r}) if {verb!r} else None; "
         "print('torch' in sys.modules)")


def start(verb: str) -> tuple[float, bool]:
    """Seconds for a fresh interpreter to import the verb's function, and whether torch came."""
    began = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", PROBE.format(verb=verb)], check=True,
                            capture_output=True, text=True)
    return time.perf_counter() - began, result.stdout.strip() == "True"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    peer = statistics.median(start("")[0] for _ in range(args.repeats))
    print(f"peer (python + brainencode.cli): {peer:.2f} s, median of {args.repeats}")
    print(f"{'verb':32s} {'s':>6s} {'x peer':>7s}  torch")
    total = 0.0
    for verb in VERBS:
        runs = [start(verb) for _ in range(args.repeats)]
        seconds = statistics.median(s for s, _ in runs)
        total += seconds
        print(f"{verb:32s} {seconds:6.2f} {seconds / peer:7.2f}  {'yes' if runs[0][1] else 'no'}")
    print(f"all {len(VERBS)} verbs once: {total:.1f} s ({total / peer:.1f} x peer)")


if __name__ == "__main__":
    main()
