"""faults.corrupt_state: every kind of saved state sluice keeps, cut short,
garbage, of the wrong types or edited by hand, stops the start with a
message naming the file (or the sluice.checkpoints row), what is wrong and
how to recover; nothing is read and the state is left as it was.

The cases live in the integration tests, one per kind of state; this
script runs them and prints the figure (cases by kind):

  file.source checkpoint     tests/integration/test_checkpoint_corrupt.py
  pg.source checkpoint       tests/integration/test_checkpoint_corrupt_pg.py
  pg.cdc checkpoint, slot    tests/integration/test_checkpoint_corrupt_cdc.py
  Lua source state           tests/integration/test_checkpoint_corrupt_lua.py
  sluice publish journal     tests/integration/test_kafka_publish_journal_corrupt.py
  stateful finish marker     build/tests/test_engine_stateful (unit)

Each integration test logs "refused: CASE" per refused start.  They are
registered in ctest on their own (labels integration, kafka); this script
is for scripts/soak and by hand, so CI does not run them twice.  --soak
changes nothing: the cases are the same.

  python3 tests/faults/corrupt_state.py [--soak] [SLUICE]"""

import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
KINDS = [
    ("file.source", "test_checkpoint_corrupt.py"),
    ("pg.source", "test_checkpoint_corrupt_pg.py"),
    ("pg.cdc", "test_checkpoint_corrupt_cdc.py"),
    ("Lua source", "test_checkpoint_corrupt_lua.py"),
    ("publish journal", "test_kafka_publish_journal_corrupt.py"),
]
MARKER_TEST = "a_finish_marker_edited_by_hand_stops_the_start"
MARKER_CASES = 3   # the marker_refused calls of that unit test


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sluice", nargs="?", default=os.path.join(REPO, "build", "sluice"))
    ap.add_argument("--soak", action="store_true", help="the same cases (accepted for scripts/soak)")
    args = ap.parse_args()
    t0 = time.monotonic()
    counts, failed = [], []
    for kind, script in KINDS:
        p = subprocess.run([sys.executable, os.path.join(REPO, "tests", "integration", script), args.sluice],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
        n = len(re.findall(r"\] refused: ", p.stdout))
        print("%-16s %3d cases  %s" % (kind, n, "ok" if p.returncode == 0 else "FAILED"), flush=True)
        if p.returncode != 0:
            failed.append(kind)
            print(p.stdout[-4000:])
        counts.append((kind, n))
    unit = os.path.join(os.path.dirname(os.path.abspath(args.sluice)), "tests", "test_engine_stateful")
    p = subprocess.run([unit], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    ok = p.returncode == 0 and ("ok   " + MARKER_TEST) in p.stdout
    print("%-16s %3d cases  %s" % ("finish marker", MARKER_CASES, "ok" if ok else "FAILED"), flush=True)
    if not ok:
        failed.append("finish marker")
        print(p.stdout[-4000:])
    counts.append(("finish marker", MARKER_CASES))
    total = sum(n for _, n in counts)
    print("figure: corrupt state: %d cases (%s) in %.0f s, %s" % (
        total, ", ".join("%s %d" % c for c in counts), time.monotonic() - t0,
        "every one refused naming the file, nothing read" if not failed
        else "FAILED: " + ", ".join(failed)), flush=True)
    sys.exit(1 if failed else 0)


main()
