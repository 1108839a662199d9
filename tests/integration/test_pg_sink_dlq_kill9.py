"""pg.sink as the only sink (it stores the source's position with the rows),
some rows rejected by PostgreSQL (NOT NULL): after a kill -9 and a restart
every input row is in the table (once) or in the dead-letter topic.

The rejected rows are found by bisection inside the transaction that also
stores the position; they must be durable in the dead-letter sink before
that transaction commits, or a kill -9 between the COMMIT and the
dead-letter sink's durability loses them (the restart resumes after them).
The timing is forced, not hoped for: the dead-letter sink is a kafka.sink
with linger.ms = 10000, so a dead letter takes about 10 s to be durable;
the source follows its file, so that sluice is still running when killed.

  after_commit:   kill -9 as soon as the stored checkpoint covers the file;
  before_commit:  kill -9 once the bisection is logged, while the
                  transaction waits for its dead letters: the restart writes
                  everything again, and no row may be written twice;
  connection:     the server ends the session of that waiting transaction:
                  sluice writes it again, and the dead letters already on
                  their way are not sent a second time."""

import json
import signal

import kafkatest as kt
import pgtest
import sluicetest as st

N = 1000
BAD = set(range(50, N + 1, 100))     # ids whose name is null: 23502 NOT NULL

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  batch_size = 1000,
  sources = { sl.file.source { path = "in.jsonl", name = "src", follow = true } },
  sinks = { sl.pg.sink { dsn = %(dsn)s, table = %(table)s, mode = "insert",
                         columns = { "id", "name" } } },
  dlq = sl.kafka.sink { brokers = "%(b)s", topic = "%(dlq)s",
                        librdkafka = { ["linger.ms"] = "10000" } },
}
"""


def test(t):
    db = pgtest.Db("sink_dlq_kill9")
    try:
        body(t, db)
    finally:
        db.drop()


def checkpoint_line(db, name):
    cp = db.checkpoint(name)
    return json.loads(cp)["line"] if cp else 0


def setup(t, db, b, case):
    name = "%s_%s" % (db.schema, case)
    table = "r_" + case
    dlq = kt.unique("pg-dlq-" + case)
    # No unique key: a row written twice would show.
    db.sql("CREATE TABLE %s (id int, name text NOT NULL)" % db.t(table))
    db.write_pipeline(t, PIPELINE, name=name, table=table, b=b, dlq=dlq)
    return name, table, dlq


def run_to_end(t, db, case, name, run=None):
    """Waits (starting sluice if run is None) until the stored checkpoint
    covers the file, then stops sluice with SIGTERM."""
    run = run or t.start()
    # "running": its signal handlers are in place.
    st.wait_until(lambda: "running pipeline.lua" in run.stderr_text()
                  and checkpoint_line(db, name) == N, 120,
                  "%s: the checkpoint at the end of the file" % case,
                  interval=0.1, abort=run.exited)
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(60), 0, "%s: exit code after SIGTERM" % case)


def check(db, b, case, table, dlq):
    """Every row once in the table or in the dead-letter topic; returns the
    ids of the dead letters, in topic order."""
    rows = [int(r[0]) for r in db.sql("SELECT id FROM %s" % db.t(table))]
    twice = sorted(i for i in set(rows) if rows.count(i) > 1)
    st.assert_eq(twice, [], "%s: rows written twice" % case)
    dead = kt.ids_in(b, dlq) if kt.partitions(b, dlq) else []
    lost = sorted(set(range(1, N + 1)) - set(rows) - set(dead))
    st.assert_eq(lost, [], "%s: rows in neither the table nor the dead-letter topic" % case)
    st.assert_eq(sorted(set(rows) & BAD), [], "%s: rejected rows in the table" % case)
    st.assert_eq(len(rows), N - len(BAD), "%s: rows in the table" % case)
    return dead


def killed(t, db, b, case, kill_when):
    """Kills sluice with -9 once kill_when(run, name) holds, restarts it to
    the end and checks that every row is somewhere."""
    name, table, dlq = setup(t, db, b, case)
    run = t.start()
    st.wait_until(lambda: kill_when(run, name), 120, "%s: the moment to kill" % case,
                  interval=0.05, abort=run.exited)
    run.signal(signal.SIGKILL)
    st.assert_eq(run.wait(30), -signal.SIGKILL, "%s: exit status of the killed run" % case)
    st.log("%s: killed with %d rows in the table, checkpoint line %d, %d dead letters"
           % (case, db.count(table), checkpoint_line(db, name), kt.end_offsets(b, dlq)))
    run_to_end(t, db, case, name)
    check(db, b, case, table, dlq)


def waiting_session(db, table):
    """The pid of the session idle for over a second in a transaction that
    wrote to table: waiting for its dead letters (the bisection's commands
    follow each other within milliseconds)."""
    return db.one("SELECT a.pid FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
                  "WHERE l.relation = '%s'::regclass AND a.state = 'idle in transaction' "
                  "AND a.state_change < clock_timestamp() - interval '1 second'" % db.t(table))


def connection_lost(t, db, b):
    case = "connection"
    name, table, dlq = setup(t, db, b, case)
    run = t.start()
    pid = st.wait_until(lambda: waiting_session(db, table), 120,
                        "%s: the transaction waiting for its dead letters" % case,
                        interval=0.05, abort=run.exited)
    db.sql("SELECT pg_terminate_backend(%s)" % pid)
    run_to_end(t, db, case, name, run)
    st.assert_true("lost the connection" in run.stderr_text(),
                   "%s: sluice saw the session end" % case)
    dead = check(db, b, case, table, dlq)
    st.assert_eq(sorted(dead), sorted(BAD), "%s: dead letters, each once" % case)


def body(t, db):
    b = kt.bootstrap()
    with open(t.path("in.jsonl"), "w") as f:
        for i in range(1, N + 1):
            f.write(json.dumps({"id": i, "name": None if i in BAD else "n%d" % i}) + "\n")
    killed(t, db, b, "after_commit", lambda run, name: checkpoint_line(db, name) == N)
    killed(t, db, b, "before_commit",
           lambda run, name: "isolating the bad rows" in run.stderr_text())
    connection_lost(t, db, b)


st.main(test)
