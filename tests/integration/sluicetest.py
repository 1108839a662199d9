"""Shared helpers for sluice's integration tests (Python 3 standard library only).

Each tests/integration/test_*.py is one ctest entry, run as
`python3 test_x.py <path-to-sluice>`, and is written as

    import sluicetest as st

    def test(t):                      # t is a sluicetest.Test
        st.write_pipeline(t.dir, PIPELINE)
        run = t.start()               # sluice run pipeline.lua --state-dir <dir>/state
        ...

    st.main(test)

Rules these helpers keep: never sleep a fixed time to synchronise (wait_until
polls an observable condition with a deadline), and every failed assertion
prints both values. On failure the sluice stderr logs are printed, and the
work folder is removed unless SLUICE_TEST_KEEP=1 is set.
"""

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time


class Failure(AssertionError):
    """A test assertion failed; the message says what and shows both values."""


class TooFast(Exception):
    """sluice finished before the test could interrupt it mid-run; the test
    retries with a slower step."""


# ------------------------------------------------------------------ asserts --

def fail(message):
    raise Failure(message)


def _short(value, limit=300):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "... (%d chars)" % len(text)


def assert_eq(actual, expected, what):
    if actual != expected:
        fail("%s: expected %s, actual %s" % (what, _short(expected), _short(actual)))


def assert_ne(actual, unexpected, what):
    if actual == unexpected:
        fail("%s: expected anything but %s, actual %s"
             % (what, _short(unexpected), _short(actual)))


def assert_lt(actual, bound, what):
    if not actual < bound:
        fail("%s: expected < %s, actual %s" % (what, _short(bound), _short(actual)))


def assert_le(actual, bound, what):
    if not actual <= bound:
        fail("%s: expected <= %s, actual %s" % (what, _short(bound), _short(actual)))


def assert_ge(actual, bound, what):
    if not actual >= bound:
        fail("%s: expected >= %s, actual %s" % (what, _short(bound), _short(actual)))


def assert_true(cond, what, detail=""):
    if not cond:
        fail("%s%s" % (what, ": " + detail if detail else ""))


def log(message):
    print("[%8.3f] %s" % (time.monotonic() - _T0, message), flush=True)


_T0 = time.monotonic()


# ------------------------------------------------------------------ waiting --

# Deadlines are bounds on waiting, not what a test asserts: a sluice built
# with ThreadSanitizer runs several times slower, and its tests
# (build-tsan/, tests/CMakeLists.txt) stretch every deadline by this factor.
TIME_SCALE = float(os.environ.get("SLUICE_TEST_TIME_SCALE") or 1)


def wait_until(predicate, timeout, what, interval=0.01, abort=None):
    """Polls predicate() every `interval` seconds until it returns a true
    value (returned) or `timeout` seconds pass (Failure). If abort() returns a
    true value first (e.g. "sluice exited with code 1"), fails at once with it.
    The timeout is stretched by SLUICE_TEST_TIME_SCALE (TIME_SCALE).
    """
    timeout *= TIME_SCALE
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if abort is not None:
            reason = abort()
            if reason:
                fail("while waiting for %s: %s" % (what, reason))
        if time.monotonic() >= deadline:
            fail("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


# ------------------------------------------------------------------- files --

def write_file(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def write_pipeline(directory, text, name="pipeline.lua"):
    return write_file(os.path.join(directory, name), text)


def count_lines(path):
    """Number of newline-terminated lines in path (0 if it does not exist)."""
    n = 0
    try:
        with open(path, "rb") as f:
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    return n
                n += chunk.count(b"\n")
    except FileNotFoundError:
        return 0


class LineCounter:
    """Counts the lines of a growing file without rereading it on every poll.
    If the file shrinks (a restarted sink cut a torn tail), it counts afresh.
    Meant for pacing a test; the final checks read the whole file."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.lines = 0

    def count(self):
        try:
            with open(self.path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < self.offset:
                    self.offset = 0
                    self.lines = 0
                f.seek(self.offset)
                while True:
                    chunk = f.read(1 << 22)
                    if not chunk:
                        break
                    self.offset += len(chunk)
                    self.lines += chunk.count(b"\n")
        except FileNotFoundError:
            self.offset = 0
            self.lines = 0
        return self.lines


DEPTS = ["health", "civil-affairs", "public-security", "education",
         "human-resources", "market-regulation", "tax", "housing"]
SURNAMES = ["wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao",
            "wu", "zhou", "xu", "sun", "ma", "zhu", "hu", "guo"]
GIVEN = ["wei", "fang", "na", "xiuying", "min", "jing", "li", "qiang",
         "lei", "jun", "yang", "yong", "yan", "jie", "juan", "tao"]


def gen_records(path, n, line_bytes=200):
    """Writes records {"id": 1..n, "name": lower-case, "dept", "pad"} as JSON
    Lines, each line exactly line_bytes long (newline included)."""
    with open(path, "w", encoding="ascii") as f:
        chunk = []
        for i in range(1, n + 1):
            head = '{"id":%d,"name":"%s %s","dept":"%s","pad":"' % (
                i, SURNAMES[i % 16], GIVEN[(i // 16) % 16], DEPTS[(i // 256) % 8])
            chunk.append(head + "x" * max(0, line_bytes - len(head) - 3) + '"}\n')
            if len(chunk) == 10000:
                f.write("".join(chunk))
                chunk = []
        f.write("".join(chunk))


def read_jsonl(path):
    """Returns (records, torn): the parsed lines of path, and a list of
    (line number, text) for lines that are not JSON or not newline-terminated."""
    records, torn = [], []
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return records, torn
    lines = data.split(b"\n")
    last = lines.pop()  # b"" when the file ends with a newline
    if last:
        torn.append((len(lines) + 1, "(no newline) " + last[:200].decode("utf-8", "replace")))
    for number, line in enumerate(lines, 1):
        try:
            records.append(json.loads(line))
        except ValueError:
            torn.append((number, line[:200].decode("utf-8", "replace")))
    return records, torn


def ids_of(records, what="output"):
    ids = []
    for number, rec in enumerate(records, 1):
        if not isinstance(rec, dict) or not isinstance(rec.get("id"), int):
            fail("%s line %d has no integer id: %s" % (what, number, _short(rec)))
        ids.append(rec["id"])
    return ids


def assert_no_torn(torn, what):
    if torn:
        fail("%s: %d torn or unparseable line(s), first: line %d: %s"
             % (what, len(torn), torn[0][0], _short(torn[0][1])))


def segments(ids):
    """Splits a list of ids into maximal runs of consecutive ids (each next id
    is the previous + 1): [[first, last, index of first], ...]."""
    runs = []
    for index, i in enumerate(ids):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i, index])
    return runs


# ---------------------------------------------------------------- pipelines --

# Per-record busy loops of the step, tried in turn when sluice is so fast that
# it finishes a run before the test can interrupt it.
SLOW_LEVELS = (0, 300, 3000)


def upper_pipeline(name, busy_loops=0, batch_size=1000, max_inflight_records=20000):
    """file in.jsonl -> a Lua step that upper-cases name -> file out.jsonl,
    with the DLQ in dlq.jsonl. busy_loops > 0 makes the step slower."""
    busy = ""
    if busy_loops:
        busy = ("local s = 0\n"
                "      for i = 1, %d do s = s + i end\n"
                "      if s < 0 then return nil end\n      " % busy_loops)
    return """local sl = require "sluice"
return sl.pipeline {
  name    = "%(name)s",
  batch_size = %(batch_size)d,
  max_inflight_records = %(max_inflight)d,
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    function (rec)
      %(busy)srec.name = string.upper(rec.name)
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
""" % {"name": name, "batch_size": batch_size,
       "max_inflight": max_inflight_records, "busy": busy}


def reload_pipeline(name, version):
    """in.jsonl, followed -> a step that sets version (a Lua expression) on
    every record -> out.jsonl: the pipeline of the reload tests, where the
    version tells which file a line went through."""
    return """
local sl = require "sluice"
return sl.pipeline {
  name = "%s",
  sources = { sl.file.source { path = "in.jsonl", follow = true, poll_interval = "50ms" } },
  steps = { function (rec) rec.version = %s; return rec end },
  sinks = { sl.file.sink { path = "out.jsonl" } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
""" % (name, version)


def append_ids(t, first, last):
    """Appends the records {"id": first} .. {"id": last} to the test's in.jsonl."""
    with open(t.path("in.jsonl"), "a") as f:
        for i in range(first, last + 1):
            f.write('{"id": %d}\n' % i)


def assert_ids_cover(ids, n, what):
    """Every id is in 1..n, and every id of 1..n is there (duplicates allowed)."""
    seen = bytearray(n + 1)
    for index, i in enumerate(ids):
        if not 1 <= i <= n:
            fail("%s line %d: id %d is outside 1..%d" % (what, index + 1, i, n))
        seen[i] = 1
    missing = [i for i in range(1, n + 1) if not seen[i]]
    if missing:
        fail("%s: %d id(s) missing, first %s" % (what, len(missing), missing[:10]))


def check_upper(records, what="output"):
    """Every record's name is upper-case: the step ran on every record."""
    for number, rec in enumerate(records, 1):
        name = rec.get("name")
        if not isinstance(name, str) or name != name.upper():
            fail("%s line %d: name not upper-cased by the step: %s"
                 % (what, number, _short(rec)))


def assert_refused(t, what, where, why, source, args=("--log-format", "text")):
    """Runs the test's pipeline once: it must refuse to start over an unusable
    checkpoint (exit 3), naming where the checkpoint is, why it cannot be
    used and how to recover (--reset-checkpoint SOURCE).  Returns stderr."""
    r = t.start(args=list(args))
    code = r.wait(60)
    err = r.stderr_text()
    assert_eq(code, 3, "exit code with %s" % what)
    for want in ("%s: unusable checkpoint: %s" % (where, why),
                 "run once with --reset-checkpoint %s" % source):
        assert_true(want in err, "stderr with %s names the problem" % what,
                    "expected %r in:\n%s" % (want, err[-2000:]))
    log("refused: %s" % what)
    return err


def check_refusals(t, cp_path, cases, source, read):
    """For each (what, text, why) of cases: writes text as the checkpoint
    file cp_path; the start must be refused (assert_refused), read() (what
    the pipeline has read so far) must not change, nor the file."""
    before = read()
    for what, text, why in cases:
        log("checkpoint with %s" % what)
        with open(cp_path, "w") as f:
            f.write(text)
        assert_refused(t, what, cp_path, why, source)
        assert_eq(read(), before, "read after a refused start (%s)" % what)
        with open(cp_path) as f:
            assert_eq(f.read(), text, "the checkpoint file after a refused start (%s)" % what)


def check_no_dlq(t):
    n = count_lines(t.path("dlq.jsonl"))
    if n:
        with open(t.path("dlq.jsonl"), encoding="utf-8", errors="replace") as f:
            first = f.readline().rstrip("\n")
        fail("dlq.jsonl: expected no dead letters, actual %d; first: %s" % (n, _short(first)))


# ------------------------------------------------------------ sluice runs --

_live = []


@atexit.register
def _kill_leftovers():
    for run in _live:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()


class Run:
    """One sluice process. Its stdout and stderr go to files in the work folder."""

    def __init__(self, test, args, cwd, env, name, preexec_fn=None):
        self.test = test
        self.args = args
        self.name = name
        self.stderr_path = os.path.join(test.dir, name + ".stderr")
        self.stdout_path = os.path.join(test.dir, name + ".stdout")
        log("start %s: %s" % (name, " ".join(args)))
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, preexec_fn=preexec_fn)
        self.pid = self.proc.pid
        self.started = time.monotonic()
        _live.append(self)
        test.runs.append(self)

    def running(self):
        return self.proc.poll() is None

    def exit_code(self):
        return self.proc.poll()

    def exited(self):
        """For wait_until's abort: a message if the process has exited."""
        code = self.proc.poll()
        return None if code is None else "%s exited with code %s" % (self.name, code)

    def signal(self, sig):
        log("%s: send %s" % (self.name, signal.Signals(sig).name))
        self.proc.send_signal(sig)

    def signal_delivered(self, sig):
        """True once no `sig` sent to the process is pending any more, i.e. one
        of its threads has taken it (read from /proc/PID/status)."""
        bit = 1 << (sig - 1)
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    if line.startswith("ShdPnd:"):
                        return not int(line.split()[1], 16) & bit
        except (FileNotFoundError, ProcessLookupError):
            return True
        return True

    def wait(self, timeout):
        """Waits for exit; returns the exit code (negative: killed by that
        signal). Fails, and kills the process, after `timeout` seconds
        (stretched by TIME_SCALE)."""
        timeout *= TIME_SCALE
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            fail("%s did not exit within %.0f s (killed)" % (self.name, timeout))
        log("%s exited with code %d after %.1f s"
            % (self.name, code, time.monotonic() - self.started))
        return code

    def log_lines(self, *words):
        """Prints the lines of its stderr that contain one of words."""
        for line in self.stderr_text().splitlines():
            if any(w in line for w in words):
                log("%s: %s" % (self.name, line[:300]))

    def stderr_text(self):
        try:
            with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


class Test:
    """A test's context: the sluice binary, a fresh work folder, its runs."""

    def __init__(self, sluice, name):
        self.sluice = sluice
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="sluice-it-%s-" % name)
        self.runs = []
        self._count = 0

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def start(self, pipeline="pipeline.lua", state_dir=None, args=(), env=None,
              command="run", preexec_fn=None):
        """Starts `sluice <command> <pipeline> --state-dir <state_dir> args...`
        in the work folder; state_dir defaults to <work>/state. preexec_fn runs
        in the child before sluice (e.g. to lower a resource limit)."""
        self._count += 1
        cmd = [self.sluice, command, pipeline]
        if command == "run":
            cmd += ["--state-dir", state_dir or self.path("state")]
        cmd += list(args)
        full_env = dict(os.environ)
        full_env.update(env or {})
        return Run(self, cmd, self.dir, full_env, "sluice-%d" % self._count, preexec_fn)

    def reset(self, *names):
        """Removes files or folders of the work folder (e.g. before a retry)."""
        for name in names:
            p = self.path(name)
            if os.path.isdir(p):
                shutil.rmtree(p)
            elif os.path.exists(p):
                os.remove(p)

    def print_logs(self, tail_lines=80):
        for run in self.runs:
            lines = run.stderr_text().splitlines()
            shown = lines[-tail_lines:]
            print("---- %s stderr (%s%d lines) ----"
                  % (run.name, "last %d of " % len(shown) if len(shown) < len(lines) else "",
                     len(lines)))
            print("     command: %s" % " ".join(run.args))
            for line in shown:
                print(line)
        if self.runs:
            print("---- end of sluice logs ----")


# The command line of a test: `test_x.py [<path-to-sluice>] [--soak] [--seed N]`.
# The fault tests (tests/faults/) run a short version by default (what CI
# runs) and the long one with --soak (scripts/soak); --seed replays a seeded
# run. The binary defaults to $SLUICE_BIN, else <repo>/build/sluice.
SOAK = False
SEED = None
_ARGS = None


def parse_args(doc=None, default_seed=None, extra=None, argv=None):
    """Parses the command line above (and what extra(parser) adds) once;
    returns the namespace (sluice, soak, seed, ...) and sets SOAK and SEED.
    sys.argv is left as [script, sluice]."""
    global SOAK, SEED, _ARGS
    import argparse
    argv = sys.argv if argv is None else argv
    ap = argparse.ArgumentParser(prog=os.path.basename(argv[0]),
                                 description=(doc or "").split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sluice", nargs="?",
                    default=os.environ.get("SLUICE_BIN") or os.path.join(
                        os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "sluice"))
    ap.add_argument("--soak", action="store_true", help="the long version (scripts/soak)")
    ap.add_argument("--seed", type=int, default=default_seed, help="replay the run with this seed")
    if extra:
        extra(ap)
    _ARGS = ap.parse_args(argv[1:])
    _ARGS.sluice = os.path.abspath(_ARGS.sluice)
    SOAK, SEED = _ARGS.soak, _ARGS.seed
    sys.argv = [argv[0], _ARGS.sluice]
    return _ARGS


def figure(text):
    """Prints a figure line, which scripts/soak collects."""
    print("figure: %s" % text, flush=True)


# What a sanitizer prints at the head of a report (build-tsan/, build-asan/):
# a test run under one fails on any report a sluice it started printed, even
# when that run was killed or its exit code was not looked at.
SANITIZER_REPORT = ("WARNING: ThreadSanitizer:", "ERROR: AddressSanitizer:",
                    "ERROR: LeakSanitizer:", "SUMMARY: UndefinedBehaviorSanitizer:")


def linked_with(binary, library):
    """Whether `binary` loads a shared library whose name starts with
    `library` (e.g. "libtsan": built with ThreadSanitizer), from ldd."""
    out = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True).stdout
    return any(line.strip().startswith(library) for line in out.splitlines())


def check_no_sanitizer_report(t):
    for run in t.runs:
        if run.running():
            continue
        for line in run.stderr_text().splitlines():
            if any(mark in line for mark in SANITIZER_REPORT):
                fail("%s printed a sanitizer report: expected none, actual %r (its stderr: %s)"
                     % (run.name, line.strip(), run.stderr_path))


def main(test_fn):
    """Runs test_fn(Test) and exits 0 on success, 1 on failure."""
    sluice = (_ARGS or parse_args()).sluice
    name = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    if not os.access(sluice, os.X_OK):
        print("%s: FAIL: sluice binary %s is missing or not executable" % (name, sluice))
        sys.exit(1)
    t = Test(sluice, name)
    log("%s: work folder %s" % (name, t.dir))
    ok = False
    try:
        test_fn(t)
        check_no_sanitizer_report(t)
        ok = True
    except Failure as e:
        print("\n%s: FAIL: %s\n" % (name, e), flush=True)
    except Exception:
        import traceback
        traceback.print_exc()
        print("\n%s: FAIL: the test itself raised an exception\n" % name, flush=True)
    finally:
        _kill_leftovers()
    if not ok:
        t.print_logs()
    if ok or os.environ.get("SLUICE_TEST_KEEP") != "1":
        shutil.rmtree(t.dir, ignore_errors=True)
    else:
        print("work folder kept: %s" % t.dir)
    if ok:
        print("%s: PASS (%.1f s)" % (name, time.monotonic() - _T0))
    sys.exit(0 if ok else 1)


FIU_LIB = "/usr/lib/fiu"   # fiu-utils: libfiu's preload libraries
FIU_PRELOAD = os.path.join(FIU_LIB, "fiu_run_preload.so")


def fiu_env(points, probability=1.0, errno_value=0, seed=1, preload=()):
    """The environment fiu-run would give a sluice run: libfiu's preload
    enabling each fault point (sluice/fault.h: "sluice/io/file.sink.write"
    ...) at random with the probability (1: always), seeded, then the
    preloads given."""
    commands = []
    for name in points:
        c = ("enable name=%s" % name if probability >= 1
             else "enable_random name=%s,probability=%g" % (name, probability))
        if errno_value:
            c += ",failinfo=%d" % errno_value
        commands.append(c)
    return {"FIU_ENABLE": "\n".join(commands), "FIU_CTRL_FIFO": "", "FIU_PRNG_SEED": str(seed),
            "LD_PRELOAD": " ".join([FIU_PRELOAD] + list(preload))}


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(url):
    """(status, body text) of a GET, also for error statuses."""
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def http_answers(url, code=200):
    """Whether a GET of url answers with code; False while nothing listens."""
    try:
        return http_get(url)[0] == code
    except OSError:
        return False


def metric_value(text, series):
    """The value of the first sample in a Prometheus text whose name and
    labels start with series (e.g. 'sluice_up' or 'sluice_x{stage="a"'), or None."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        name = line.rsplit(" ", 1)[0]
        if name == series or name.startswith(series + "{") or (series.endswith('"') and name.startswith(series)):
            return int(line.rsplit(" ", 1)[1])
    return None



def promtool_check_metrics(text):
    """Fails unless `promtool check metrics` (Debian's prometheus) finds the
    Prometheus text exposition text well formed and lint-clean."""
    import shutil
    import subprocess
    promtool = shutil.which("promtool")
    if not promtool:
        fail("promtool is not installed (scripts/deps installs Debian's prometheus)")
    p = subprocess.run([promtool, "check", "metrics"], input=text, text=True, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    assert_eq((p.returncode, p.stdout.strip()), (0, ""), "promtool check metrics")
