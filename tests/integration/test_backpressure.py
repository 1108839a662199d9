"""Backpressure bounds memory: 2,000,000 records through a Lua step into a file
sink with max_inflight_records = 4096 complete with every record, and the
process's peak RSS neither exceeds a fixed bound nor grows with the input.

How peak RSS is measured: while sluice runs, /proc/PID/status is polled for
VmHWM (the high-water mark of the resident set); the child is reaped with
wait4, whose ru_maxrss is the same high-water mark at exit, so a peak between
two polls is not missed.  The larger of the two counts.

Why the bounds hold for a working runtime, and fail for a broken one:
  - Reading a file is much faster than a Lua step, so without backpressure the
    source would read ahead and queue most of the 200 MB input in memory
    (each record is 100 bytes of text plus its sl_record and fields, ~400 B).
  - With at most 4096 records in flight (4 batches of 1024) what is held is
    about 4 batches x (1024 x ~400 B + their encoded copies) ~ 3 MiB, plus the
    1 MiB read buffer, three Lua states (the loop's and two workers') of a few
    MiB each, libuv's thread pool and the binary: 20-40 MiB in all.
  - LIMIT_MIB = 150 leaves room for allocator slack and slower machines, and
    is still far below the ~500 MiB an unbounded queue of 2M records needs.
  - The same pipeline on 200,000 records must peak within GROWTH_MIB = 30 of
    the 2M run: memory must not scale with the input (an unbounded queue of
    1.8M more records would add hundreds of MiB).

The fixed bound is for a plain build (build/, where scripts/test runs the
integration tests).  Under AddressSanitizer (libasan mapped into the process)
the shadow memory and the quarantine add a few hundred MiB whatever the input,
so there only the growth is checked.

Budget: generating the input and the two runs take well under 60 s on 2 cores.
"""

import os
import time

import sluicetest as st

BIG_N = 2_000_000
SMALL_N = 200_000
LINE_BYTES = 100
MAX_INFLIGHT = 4096
LIMIT_MIB = 150
GROWTH_MIB = 30


PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name                 = "backpressure",
  max_inflight_records = %d,
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    function (rec)
      rec.name = string.upper(rec.name)
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
""" % MAX_INFLIGHT


def vm_hwm_kib(pid):
    """VmHWM of pid in KiB, or None once the process is gone (or a zombie)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def has_asan(pid):
    """Whether AddressSanitizer's runtime is mapped into pid."""
    try:
        with open("/proc/%d/maps" % pid) as f:
            return any("libasan" in line or "libclang_rt.asan" in line for line in f)
    except (FileNotFoundError, ProcessLookupError):
        return False


def run_and_measure(t, n, timeout=50):
    """Runs the pipeline on n records; returns (peak RSS in MiB, seconds,
    whether the binary runs under AddressSanitizer)."""
    t.reset("in.jsonl", "out.jsonl", "dlq.jsonl", "state")
    st.gen_records(t.path("in.jsonl"), n, line_bytes=LINE_BYTES)
    st.write_pipeline(t.dir, PIPELINE)
    run = t.start()
    started = time.monotonic()
    polled_kib, polls, asan = 0, 0, None
    while True:
        # Reap with wait4 (not Popen.poll) to get the child's ru_maxrss.
        pid, status, usage = os.wait4(run.pid, os.WNOHANG)
        if pid == run.pid:
            run.proc.returncode = os.waitstatus_to_exitcode(status)
            break
        kib = vm_hwm_kib(run.pid)
        if asan is None and kib is not None:
            asan = has_asan(run.pid)
        if kib is not None:
            polled_kib = max(polled_kib, kib)
            polls += 1
        if time.monotonic() - started > timeout:
            run.proc.kill()
            st.fail("%d records: sluice did not finish within %d s" % (n, timeout))
        time.sleep(0.005)
    elapsed = time.monotonic() - started
    st.log("%d records: exit %d after %.1f s; VmHWM polled %d times, max %.1f MiB; "
           "ru_maxrss %.1f MiB" % (n, run.proc.returncode, elapsed, polls,
                                   polled_kib / 1024, usage.ru_maxrss / 1024))
    st.assert_eq(run.proc.returncode, 0, "%d records: sluice exit code" % n)
    st.assert_ge(polls, 1, "%d records: times VmHWM was read while sluice ran" % n)
    check_output(t, n)
    return max(polled_kib, usage.ru_maxrss) / 1024, elapsed, bool(asan)


def check_output(t, n):
    """Every record arrived once, in order, through the step."""
    st.check_no_dlq(t)
    expected_id = 1
    with open(t.path("out.jsonl"), "rb") as f:
        for line in f:
            # The step changed the record, so the sink wrote it from its fields,
            # in their order: {"id":N,"name":"...",...
            if not line.startswith(b'{"id":') or not line.endswith(b"}\n"):
                st.fail("out.jsonl line %d is not a whole record: %r" % (expected_id, line[:120]))
            comma = line.index(b",", 6)
            got = int(line[6:comma])
            if got != expected_id:
                st.fail("out.jsonl line %d: expected id %d, actual id %d"
                        % (expected_id, expected_id, got))
            name_at = line.index(b'"name":"', comma) + 8
            name = line[name_at:line.index(b'"', name_at)]
            if name != name.upper():
                st.fail("out.jsonl line %d: name not upper-cased by the step: %r"
                        % (expected_id, name))
            expected_id += 1
    st.assert_eq(expected_id - 1, n, "records in out.jsonl")


def test(t):
    big_mib, big_s, asan = run_and_measure(t, BIG_N)
    small_mib, small_s, _ = run_and_measure(t, SMALL_N, timeout=30)
    st.log("peak RSS: %d records %.1f MiB (%.1f s), %d records %.1f MiB (%.1f s)"
           % (BIG_N, big_mib, big_s, SMALL_N, small_mib, small_s))
    if asan:
        st.log("AddressSanitizer build: the %d MiB bound is not checked, only the growth"
               % LIMIT_MIB)
    else:
        st.assert_lt(round(big_mib, 1), LIMIT_MIB,
                     "peak RSS of the %d-record run, MiB" % BIG_N)
    st.assert_le(round(abs(big_mib - small_mib), 1), GROWTH_MIB,
                 "peak RSS difference between %d and %d records, MiB" % (BIG_N, SMALL_N))


st.main(test)
