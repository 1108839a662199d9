"""faults.sim, long form: the deterministic simulation of the flow
(tests/faults/sim/, docs/internals/simulation.md) over many seeds, and the
check that it catches the bugs planted in sim_mutant1 and sim_mutant2.

  python3 tests/faults/sim.py            10,000 seeds (what CI runs, as faults.sim)
  python3 tests/faults/sim.py --soak     200,000 seeds
  python3 tests/faults/sim.py --seeds N [--from S]

The build folder is build/ beside this repository's root, or
$SLUICE_BUILD_DIR.  Prints the simulator's figure: lines; on a failing seed,
the one-line command that replays it (with its schedule).  Exit 0 when every
seed held and both planted bugs were caught."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(cmd):
    print("$ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sys.stdout.write(p.stdout)
    return p.returncode


def main():
    args = sys.argv[1:]
    seeds, start = "10000", "1"
    if "--soak" in args:
        seeds = "200000"
    if "--seeds" in args:
        seeds = args[args.index("--seeds") + 1]
    if "--from" in args:
        start = args[args.index("--from") + 1]
    build = os.environ.get("SLUICE_BUILD_DIR", os.path.join(ROOT, "build"))
    sim = os.path.join(build, "tests", "sim")
    mutants = [os.path.join(build, "tests", "sim_mutant%d" % i) for i in (1, 2)]
    for exe in [sim] + mutants:
        if not os.access(exe, os.X_OK):
            print("no %s: build first (scripts/build)" % exe)
            return 1
    failed = run([sim, "--seeds", seeds, "--from", start]) != 0
    for mutant in mutants:
        if run([mutant, "--seeds", "10000", "--expect-failure"]) != 0:
            print("%s: the planted bug went unseen" % mutant)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
