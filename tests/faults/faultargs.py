"""The command line shared by the fault tests that run a sluice binary:

  X.py [SLUICE] [--soak] [--seed N]

SLUICE defaults to $SLUICE_BIN, else build/sluice under the repository
root (scripts/soak runs `python3 tests/faults/X.py --soak` from there)."""

import argparse
import os
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def parse(doc, default_seed, extra=None):
    """The parsed arguments (sluice, soak, seed, and those extra(parser)
    adds); leaves sys.argv as sluicetest.main wants it: [script, sluice]."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sluice", nargs="?",
                    default=os.environ.get("SLUICE_BIN") or os.path.join(REPO, "build", "sluice"))
    ap.add_argument("--soak", action="store_true", help="the long version the issue asks for")
    ap.add_argument("--seed", type=int, default=default_seed, help="the random sequence's seed")
    if extra:
        extra(ap)
    args = ap.parse_args()
    sys.argv = [sys.argv[0], args.sluice]
    return args
