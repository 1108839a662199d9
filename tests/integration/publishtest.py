"""Helpers for the `sluice publish` tests (test_kafka_publish*.py): a feed
catalog of one feed on a topic of the test's own, spreadsheets written by a
real spreadsheet library, and runs of `sluice publish`.

The .xlsx files are written by openpyxl (Debian's python3-openpyxl, which
scripts/deps installs for the system's python3): publish_sheets.py runs in
an interpreter that has it, which need not be the one running the test."""

import json
import os
import subprocess
import sys

import sluicetest as st

HERE = os.path.dirname(os.path.abspath(__file__))

CATALOG = """local sl = require "sluice"
return sl.catalog {
  name = "publish-test",
  timezone = "+08:00",
  departments = {
    sl.department { id = "卫健", name = "市卫生健康委员会", feeds = {
      sl.feed { name = "出生登记", title = "出生医学证明", topic = "%(topic)s", key = "src_id",
                time = "updated_at",
                fields = {
                  src_id     = { type = "string", required = true, title = "记录编号" },
                  name       = { type = "string", required = true, title = "姓名" },
                  id_no      = { type = "string", rule = "cn_id", title = "公民身份号码" },
                  birth      = { type = "date", title = "出生日期" },
                  weight     = { type = "int", title = "体重" },
                  height     = { type = "number", title = "身长" },
                  updated_at = { type = "timestamp", title = "更新时间" },
                } } } },
  },
}
"""

FEED = "卫健/出生登记"
# The columns as a Chinese spreadsheet heads them: the fields' titles.
HEADER = ["记录编号", "姓名", "公民身份号码", "出生日期", "体重", "身长", "更新时间"]


def write_catalog(t, topic):
    return st.write_file(t.path("catalog.lua"), CATALOG % {"topic": topic})


def python_with_openpyxl():
    for py in (sys.executable, "/usr/bin/python3"):
        if subprocess.run([py, "-c", "import openpyxl"], stderr=subprocess.DEVNULL).returncode == 0:
            return py
    st.fail("no python3 with openpyxl (Debian: python3-openpyxl, scripts/deps)")


def write_sheets(spec, path):
    """Writes the files that spec (a JSON-able dict, see publish_sheets.py)
    describes, with openpyxl and the csv module."""
    spec_path = path + ".spec.json"
    with open(spec_path, "w", encoding="utf-8") as f:
        json.dump(spec, f, ensure_ascii=False)
    r = subprocess.run([python_with_openpyxl(), os.path.join(HERE, "publish_sheets.py"), spec_path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
    if r.returncode != 0:
        st.fail("publish_sheets.py failed: %s" % r.stderr[-2000:])


def publish(t, catalog, files, *extra, env=None, timeout=300):
    """Runs `sluice publish` to the end; returns (exit code, stdout, stderr)."""
    cmd = [t.sluice, "publish", "--catalog", catalog, "--feed", FEED] + list(extra) + list(files)
    full = dict(os.environ)
    full.update(env or {})
    st.log("run: %s" % " ".join(cmd))
    r = subprocess.run(cmd, cwd=t.dir, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    out, err = r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")
    st.log("exit %d\n%s%s" % (r.returncode, out, err))
    return r.returncode, out, err


def start_publish(t, catalog, files, *extra):
    """Starts `sluice publish` in the background (a sluicetest Run)."""
    cmd = [t.sluice, "publish", "--catalog", catalog, "--feed", FEED] + list(extra) + list(files)
    t._count += 1
    return st.Run(t, cmd, t.dir, dict(os.environ), "publish-%d" % t._count)


def settled(journal):
    """The rows a publish journal (FILE.publish-state) says are settled; 0
    while there is none."""
    try:
        with open(journal) as f:
            for line in f:
                if line.startswith("settled "):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def summary_count(out, what):
    """The number on the summary line `what` ("published", "skipped"...)."""
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] == what:
            return int(parts[1])
    st.fail("no '%s' line in the summary:\n%s" % (what, out))


def read_rejects(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
