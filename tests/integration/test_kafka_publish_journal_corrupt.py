"""A `sluice publish` journal (<file>.publish-state) that cannot be used
stops the run: exit 2, naming the journal, what is wrong and how to
recover, and nothing sent.  Starting over would send again every row the
topic already has (the new journal would look for them only from the
topic's current end); a settled count read as 0 or as a guess could skip
rows.  Cases: cut short, empty, garbage, another first line, an edited
settled count, hash or partition list, a line twice, one missing, an
unknown line, a folder in its place.  Deleting the journal sends the file
from its first row (the summary then says so)."""

import os

import kafkatest as kt
import publishtest as pt
import sluicetest as st

N = 20
GOOD = None   # the journal after the first run, filled in by test()


def rows():
    return "".join('{"src_id":"J%03d","name":"n%d","weight":3000}\n' % (i, i) for i in range(1, N + 1))


def edit(old, new):
    return lambda text: text.replace(old, new, 1)


CASES = [
    ("a file cut short", lambda text: text[:-3], "it is cut short"),
    ("an empty file", lambda text: "", "it is empty"),
    ("binary garbage", lambda text: "\x00\x01garbage\n", "it is not text (it holds a NUL byte)"),
    ("text garbage", lambda text: "garbage\n", "its first line is not \"sluice-publish 1\""),
    ("another first line", edit("sluice-publish 1", "sluice-publish 2"),
     "its first line is not \"sluice-publish 1\""),
    ("a settled count that is no number", edit("settled %d" % N, "settled lots"),
     '"settled" is "lots", not a whole number of rows'),
    ("a negative settled count", edit("settled %d" % N, "settled -1"),
     '"settled" is "-1", not a whole number of rows'),
    ("a hash edited", lambda text: text.replace("hash ", "hash zz", 1), '"hash" is "zz'),
    ("a partition list edited", lambda text: text.replace("from", "from x:y", 1),
     '"from x:y" is not a partition:offset pair'),
    ("a line twice", lambda text: text + "topic other\n", '"topic" appears twice'),
    ("a line missing", lambda text: "".join(l for l in text.splitlines(True) if not l.startswith("feed ")),
     "it lacks a line"),
    ("an unknown line", lambda text: text + "sent 5\n", 'unknown line "sent 5"'),
]


def refused(t, catalog, what, why):
    journal = "rows.jsonl.publish-state"
    code, out, err = pt.publish(t, catalog, ["rows.jsonl"], "--no-progress")
    st.assert_eq(code, 2, "exit code with %s" % what)
    for want in ("rows.jsonl: unusable journal %s: %s" % (journal, why),
                 "To send the file from its first row, delete %s" % journal):
        st.assert_true(want in err, "stderr with %s names the problem" % what,
                       "expected %r in:\n%s" % (want, err[-2000:]))
    st.assert_true("nothing was sent" in out, "the summary with %s" % what, out)
    st.log("refused: %s" % what)


def test(t):
    b = kt.bootstrap()
    os.environ["SLUICE_KAFKA_BOOTSTRAP"] = b
    topic = kt.unique("publish-journal") + ".v1"
    catalog = pt.write_catalog(t, topic)
    st.write_file(t.path("rows.jsonl"), rows())
    code, out, _ = pt.publish(t, catalog, ["rows.jsonl"], "--no-progress")
    st.assert_eq(code, 0, "exit code of the first run")
    st.assert_eq(kt.count(b, topic), N, "messages after the first run")
    journal = t.path("rows.jsonl.publish-state")
    with open(journal) as f:
        good = f.read()
    st.assert_true(good.startswith("sluice-publish 1\n") and "settled %d\n" % N in good,
                   "the journal after the first run", good)

    for what, change, why in CASES:
        st.log("journal with %s" % what)
        text = change(good)
        with open(journal, "w") as f:
            f.write(text)
        refused(t, catalog, what, why)
        with open(journal) as f:
            st.assert_eq(f.read(), text, "the journal after a refused run (%s)" % what)
    os.remove(journal)
    os.mkdir(journal)
    refused(t, catalog, "a folder for a journal", "cannot read it: ")
    os.rmdir(journal)
    st.assert_eq(kt.count(b, topic), N, "messages after the refused runs")

    # The journal as it was: nothing to send.  Deleted: the file again.
    with open(journal, "w") as f:
        f.write(good)
    code, out, _ = pt.publish(t, catalog, ["rows.jsonl"], "--no-progress")
    st.assert_eq((code, pt.summary_count(out, "published")), (0, 0), "exit code and rows sent with the journal restored")
    os.remove(journal)
    code, out, _ = pt.publish(t, catalog, ["rows.jsonl"], "--no-progress")
    st.assert_eq((code, pt.summary_count(out, "published")), (0, N), "exit code and rows sent without a journal")
    st.assert_eq(kt.count(b, topic), 2 * N, "messages after the journal was deleted")


st.main(test)
