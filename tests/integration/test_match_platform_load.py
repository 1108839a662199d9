"""sl_match_platform_load and sl_match_platform_load_entities
(plugins/match/platform_pg.c) against the
project's server, through its command-line driver match_platform_dump: the
rows of <domain>.members come out as they went in (tabs, newlines, carriage
returns, backslashes and quotes in text and in jsonb, Chinese, NULLs, empty
strings), every row once; an empty table gives no rows; a domain without
the table, or no server, is a clear error without the password."""

import json
import os
import random
import subprocess

import pgtest
import sluicetest as st


def dump(t, dsn, domain, *mode):
    exe = os.path.join(os.path.dirname(t.sluice), "tests", "match_platform_dump")
    p = subprocess.run([exe, dsn, domain] + list(mode), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8", "replace")


def lit(v):
    """A SQL literal of v (None: NULL) in dollar quotes, which take every byte as is."""
    if v is None:
        return "NULL"
    assert "$v$" not in v
    return "$v$" + v + "$v$"


def test(t):
    db = pgtest.Db("platform_load")
    try:
        body(t, db)
    finally:
        db.drop()


def body(t, db):
    s = db.schema
    # Made by hand without the constraints of platform.ddl, so that NULLs
    # can be tried in every column.
    db.sql("CREATE TABLE %s.members (dept text, feed text, src_id text, entity_id text, "
           "decision text, probability float8, vals jsonb, updated_at timestamptz)" % s)

    rc, out, err = dump(t, db.dsn, s)
    st.assert_eq((rc, out, err), (0, "", ""), "an empty table: no rows, no error")

    rows = [
        ["gaj", "hukou", "1", "P0000000000000001",
         {"name": "张三", "addr": "拱北\t\"口岸\"\n2楼\\3号\r", "phone": None, "n": 1.5}],
        ["mzj", None, "", "P0000000000000001", {}],
        ["a\tb", "c\nd", "e\\f", "g\rh", {"k": ["x\\y", {"deep": None}]}],
        [None, None, None, None, None],
        ["wjw", "vacc", "\\N", "P\\.", {"s": "\\N"}],
    ]
    rnd = random.Random(11)
    for i in range(5000):
        rows.append(["d%d" % (i % 7), "f%d" % (i % 3), str(i), "P%016x" % rnd.getrandbits(64),
                     {"name": "名%d" % i, "i": i}])
    for lo in range(0, len(rows), 500):   # one psql argument stays small
        values = ",\n".join("(%s, %s, %s, %s, %s::jsonb)" % (
            lit(r[0]), lit(r[1]), lit(r[2]), lit(r[3]),
            lit(None if r[4] is None else json.dumps(r[4], ensure_ascii=False)))
            for r in rows[lo:lo + 500])
        db.sql("INSERT INTO %s.members (dept, feed, src_id, entity_id, vals) VALUES %s"
               % (s, values))

    rc, out, err = dump(t, db.dsn, s)
    st.assert_eq((rc, err), (0, ""), "exit code and stderr of the load")
    got = [json.loads(line) for line in out.splitlines()]
    got = [g[:4] + [None if g[4] is None else json.loads(g[4])] for g in got]
    key = lambda r: json.dumps(r, sort_keys=True)
    st.assert_eq(len(got), len(rows), "rows delivered")
    got_keys = {key(g) for g in got}
    missing = [r for r in rows if key(r) not in got_keys]
    st.assert_eq(missing[:3], [], "rows not delivered as written")
    st.assert_eq(sorted(map(key, got)), sorted(map(key, rows)), "every row exactly once")
    # The empty string and NULL are told apart (the driver prints "" and null).
    st.assert_true(["mzj", None, "", "P0000000000000001", {}] in got, "NULL and empty string",
                   str([g for g in got if g[0] == "mzj"]))

    rc, out, err = dump(t, db.dsn, s + "_nosuch")
    st.assert_eq(rc, 1, "exit code for a domain without tables")
    st.assert_true("has no table %s_nosuch.members" % s in err and "platform.ddl" in err,
                   "the error names the table and the way to make it", err)

    rc, out, err = dump(t, db.dsn, "Bad-Name")
    st.assert_eq(rc, 1, "exit code for a domain that is no identifier")
    st.assert_true("not a lower-case SQL identifier" in err, "the error says why", err)

    # Entities: id, status, merged_into, version (sl_match_platform_load_entities).
    rc, out, err = dump(t, db.dsn, s, "--entities")
    st.assert_eq(rc, 1, "exit code without an entities table")
    st.assert_true("has no table %s.entities" % s in err, "the error names the table", err)
    db.sql("CREATE TABLE %s.entities (entity_id text, status text, merged_into text, "
           "version bigint)" % s)
    rc, out, err = dump(t, db.dsn, s, "--entities")
    st.assert_eq((rc, out, err), (0, "", ""), "an empty entities table")
    db.sql("INSERT INTO %s.entities VALUES ('P1', 'active', NULL, 9223372036854775807), "
           "('P2', 'merged', 'P1', 3), ('P\t3', 'active', '', 1)" % s)
    rc, out, err = dump(t, db.dsn, s, "--entities")
    st.assert_eq((rc, err), (0, ""), "exit code and stderr of the entities load")
    got = sorted((json.loads(line) for line in out.splitlines()), key=json.dumps)
    want = [["P1", "active", None, 9223372036854775807], ["P2", "merged", "P1", 3],
            ["P\t3", "active", "", 1]]
    st.assert_eq(got, sorted(want, key=json.dumps), "entity rows")
    db.sql("INSERT INTO %s.entities VALUES ('P4', 'active', NULL, NULL)" % s)
    rc, out, err = dump(t, db.dsn, s, "--entities")
    st.assert_eq(rc, 1, "exit code for an entity without a version")
    st.assert_true("row" in err and "has no version" in err, "the error says which row and why", err)

    bad = "host=127.0.0.1 port=1 dbname=x user=u password=s3cret connect_timeout=5"
    rc, out, err = dump(t, bad, s)
    st.assert_eq(rc, 1, "exit code without a server")
    st.assert_true("cannot connect to the platform database" in err and "s3cret" not in err,
                   "the error says the connection failed, without the password", err)


if __name__ == "__main__":
    st.main(test)
