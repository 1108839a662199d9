"""Threads (issue 14, item 9): the integration suite under ThreadSanitizer,
with zero reports.

Runs the integration tests of a build-tsan/ tree (scripts/build --tsan) one
at a time, each as ctest would (its command, working folder, environment
and timeout, read from `ctest --show-only=json-v1`): TSAN_OPTIONS with
halt_on_error, so a sluice that sees a race stops with exit code 66, and
sluicetest fails a test on any report a sluice it started printed.  A
report counts once per test that printed one.  A test labelled timing
(a time or memory limit that TSan's slowness misses) passes here unless it
printed a report.

  python3 tests/faults/tsan_integration.py [BUILD_DIR] [--soak] [--only REGEX]

BUILD_DIR defaults to build-tsan/ (or $SLUICE_TSAN_BUILD).  The short
version runs the tests whose sluice has the most threads at work (workers,
lanes, Kafka's threads, the PostgreSQL sink, the admin endpoint, taps,
reloads); --soak runs every integration test but the three-broker cluster
(label kafka-cluster, ~1.5 GB).  The services are the ones the integration
tests find (SLUICE_PG_DSN, SLUICE_KAFKA_BOOTSTRAP, else <repo>/.run/).

Prints one line per test and the figure:
  figure: tsan: integration N tests, N passed, N reports
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# The short version: one test per threaded part of sluice.
SHORT = [
    "test_admin", "test_tap", "test_tap_slow_client", "test_reload_admin", "test_reload",
    "test_backpressure", "test_kafka_dlq", "test_kafka_eos_group", "test_pg_sink_modes",
    "test_pg_cdc", "test_stateful_tick_sigterm", "test_quality_scorecard",
]
REPORT = "WARNING: ThreadSanitizer:"


def integration_tests(build):
    out = subprocess.run(["ctest", "--show-only=json-v1", "-L", "^integration$"], cwd=build,
                         stdout=subprocess.PIPE, check=True, text=True).stdout
    tests = []
    for t in json.loads(out)["tests"]:
        props = {p["name"]: p["value"] for p in t.get("properties", [])}
        if "kafka-cluster" in props.get("LABELS", []) or "command" not in t:
            continue
        env = dict(os.environ)
        env.update(v.split("=", 1) for v in props.get("ENVIRONMENT", []))
        tests.append({"name": t["name"], "command": t["command"],
                      "timing": "timing" in props.get("LABELS", []),
                      "cwd": props.get("WORKING_DIRECTORY", build), "env": env,
                      "timeout": float(props.get("TIMEOUT", 1500))})
    return tests


def run(test):
    """(passed, reported, seconds, output) of one test."""
    t0 = time.monotonic()
    try:
        proc = subprocess.run(test["command"], cwd=test["cwd"], env=test["env"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, errors="replace", timeout=test["timeout"])
        code, out = proc.returncode, proc.stdout
    except subprocess.TimeoutExpired as e:
        code = None
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        out += "\ntimed out after %.0f s" % test["timeout"]
    return code == 0, REPORT in out, time.monotonic() - t0, out


def main(argv):
    ap = argparse.ArgumentParser(prog="tsan_integration.py")
    ap.add_argument("build", nargs="?")
    ap.add_argument("--soak", action="store_true", help="every integration test")
    ap.add_argument("--only", help="only the tests whose name matches this regex")
    a = ap.parse_args(argv[1:])
    args, soak = [a.build] if a.build else [], a.soak
    build = os.path.abspath(args[0] if args else
                            os.environ.get("SLUICE_TSAN_BUILD") or os.path.join(REPO, "build-tsan"))
    if not os.path.exists(os.path.join(build, "CTestTestfile.cmake")):
        print("tsan_integration: FAIL: %s is not a build tree (scripts/build --tsan)" % build)
        return 1
    cache = open(os.path.join(build, "CMakeCache.txt")).read()
    if not re.search(r"^SLUICE_TSAN:BOOL=ON$", cache, re.M):
        print("tsan_integration: FAIL: %s is not built with SLUICE_TSAN=ON" % build)
        return 1
    tests = integration_tests(build)
    if not soak:
        tests = [t for t in tests if t["name"].split(".", 1)[1] in SHORT]
    if a.only:
        tests = [t for t in tests if re.search(a.only, t["name"])]
    passed = reports = 0
    t0 = time.monotonic()
    for test in tests:
        ok, reported, took, out = run(test)
        note = "  (ThreadSanitizer report)" if reported else ""
        if test["timing"] and not ok and not reported:
            # Label timing (tests/CMakeLists.txt): its verdict is a time or
            # memory limit TSan's slowness misses; here only a report counts.
            ok, note = True, "  (timing: its own verdict missed under TSan, no report)"
        passed += ok
        reports += reported
        print("%-4s %-44s %6.1f s%s" % ("ok" if ok else "FAIL", test["name"], took, note),
              flush=True)
        if not ok:
            print("\n".join("    | " + line for line in out.splitlines()[-150:]), flush=True)
    print("\nfigure: tsan: integration %d tests, %d passed, %d reports (%.0f s)"
          % (len(tests), passed, reports, time.monotonic() - t0))
    return 0 if passed == len(tests) and reports == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
