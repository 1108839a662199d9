"""`sluice explain PIPELINE.lua --member DEPT/FEED/SRC_ID` (issue 11, item
5: why a record is in its entity): after a run into the platform tables,
the record is explained against every other member of its entity, read
back from PostgreSQL (members_of), strongest first, with the full
comparison of the strongest and its waterfall (SVG); a record alone in
its entity says so; a record that is no member, or a step without
`platform`, is a clear error."""

import os
import shutil
import subprocess

import pgtest
import sluicetest as st

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "..", "match", "decisions", "model.json")

PIPELINE = """local sl = require "sluice"
local platform = require "sluice.platform"
return sl.pipeline {
  name = %(name)s,
  sources = { sl.file.source { path = "in.jsonl" } },
  steps = {
    sl.match { domain = %(domain)s, model = "model.json", platform = %(platform)s,
               identity = { dept = sl.match.const("gaj"), feed = sl.match.const("hj"), id = "src_id" },
               compare = { name = { "exact" }, dob = { "exact" } }, block = { "dob" } },
  },
  sinks = platform.sinks { conninfo = %(dsn)s, domain = %(domain)s },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def explain(t, *args):
    p = subprocess.run([t.sluice, "explain", "pipeline.lua"] + list(args), cwd=t.dir,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def body(t, db):
    shutil.copy(MODEL, t.path("model.json"))
    st.write_file(t.path("in.jsonl"),
                  '{"src_id": "1", "name": "alice", "dob": "2000-01-01"}\n'
                  '{"src_id": "2", "name": "alice", "dob": "2000-01-01"}\n'
                  '{"src_id": "3", "name": "alicia", "dob": "2000-01-01"}\n'
                  '{"src_id": "4", "name": "bob", "dob": "1990-05-05"}\n')
    domain = pgtest.lua_str(db.schema)
    db.write_pipeline(t, PIPELINE, domain=domain, platform=pgtest.lua_str(db.dsn))
    r = t.start()
    st.assert_eq(r.wait(60), 0, "exit code of the run")

    rc, out, err = explain(t, "--member", "gaj/hj/1", "--svg", "why.svg")
    st.assert_eq((rc, err), (0, ""), "explain --member of a linked record")
    entity = db.one("SELECT entity_id FROM %s.members WHERE src_id = '1'" % db.schema)
    for want in ("gaj/hj/1 is in entity %s with 1 other member" % entity, "the strongest link: gaj/hj/2",
                 "comparison vector", "decision     link"):
        st.assert_true(want in out, "explain --member says %r" % want, out)
    st.assert_true("gaj/hj/3" not in out, "a record of another entity is not listed", out)
    with open(t.path("why.svg")) as f:
        st.assert_eq(f.read().count('class="field"'), 2, "waterfall bars, one per compared field")

    rc, out, err = explain(t, "--member", "gaj/hj/4")
    st.assert_eq(rc, 0, "explain --member of a record alone (%s)" % err)
    st.assert_true("alone in its entity" in out, "a record alone says so", out)

    rc, out, err = explain(t, "--member", "gaj/hj/99")
    st.assert_eq(rc, 1, "exit code for a record that is no member")
    st.assert_true("gaj/hj/99 is no member" in err, "the error names the record", err)

    rc, out, err = explain(t, "--member", "gaj-1")
    st.assert_eq(rc, 2, "exit code for a malformed identity")

    db.write_pipeline(t, PIPELINE, domain=domain, platform="nil")
    rc, out, err = explain(t, "--member", "gaj/hj/1")
    st.assert_eq(rc, 2, "exit code without platform")
    st.assert_true("no `platform`" in err, "the error says the step has no platform", err)


if __name__ == "__main__":
    st.main(pgtest.with_db("match_explain", body))
