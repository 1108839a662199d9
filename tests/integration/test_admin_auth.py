"""Where the admin endpoint listens and who may ask it: host names and
bracketed IPv6 literals are accepted; an address beyond loopback without a
bearer token is refused at start (exit 2), as is an address that does not
parse; with a token (from a file or $SLUICE_ADMIN_TOKEN), /metrics and
/status answer 401 with WWW-Authenticate: Bearer unless the request carries
it, while /health and /ready stay open for probes."""

import signal
import socket
import urllib.error
import urllib.request

import sluicetest as st

PIPELINE = """
local sl = require "sluice"
return sl.pipeline {
  name = "auth",
  sources = { sl.file.source { path = "in.jsonl", follow = true, poll_interval = "50ms" } },
  sinks = { sl.file.sink { path = "out.jsonl" } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""

TOKEN = "s3cr3t-t0ken-0123456789abcdef"


def get(url, token=None):
    """(status, body, WWW-Authenticate header) of a GET."""
    req = urllib.request.Request(url)
    if token is not None:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode(), r.headers.get("WWW-Authenticate")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers.get("WWW-Authenticate")


def serving(t, listen, env=None, args=()):
    """Starts sluice with --admin listen; returns the run once it serves."""
    run = t.start(args=["--admin", listen, "--log-format", "text"] + list(args), env=env)
    st.wait_until(lambda: "admin endpoint on http://" in run.stderr_text(), 30,
                  "the admin endpoint of %s" % listen, abort=run.exited)
    return run


def stop(run):
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(60), 0, "exit code after SIGTERM")


def refused(t, listen, why, env=None, args=()):
    run = t.start(args=["--admin", listen] + list(args), env=env)
    st.assert_eq(run.wait(30), 2, "exit code of --admin %s %s" % (listen, " ".join(args)))
    st.assert_true(why in run.stderr_text(), "--admin %s: the error says '%s'" % (listen, why),
                   run.stderr_text()[-600:])


def test(t):
    st.write_file(t.path("in.jsonl"), '{"id": 1}\n')
    st.write_pipeline(t.dir, PIPELINE)
    no_token = {"SLUICE_ADMIN_TOKEN": ""}

    # Loopback by name and as an IPv6 literal: no token needed.
    port = st.free_port()
    run = serving(t, "localhost:%d" % port, env=no_token)
    st.assert_eq(get("http://127.0.0.1:%d/status" % port)[0], 200, "/status on localhost")
    stop(run)
    port = st.free_port()
    run = serving(t, "[::1]:%d" % port, env=no_token)
    st.assert_eq(get("http://[::1]:%d/health" % port)[:2], (200, "ok\n"), "/health on [::1]")
    st.assert_eq(get("http://[::1]:%d/metrics" % port)[0], 200, "/metrics on [::1]")
    stop(run)

    # Beyond loopback without a token, or an address that does not parse.
    port = st.free_port()
    for listen in ("0.0.0.0:%d" % port, ":%d" % port, "[::]:%d" % port):
        refused(t, listen, "bearer token", env=no_token)
    refused(t, "nonsense", "expected HOST:PORT", env=no_token)
    refused(t, "127.0.0.1:99999", "expected HOST:PORT", env=no_token)
    st.write_file(t.path("short.token"), "short\n")
    refused(t, "0.0.0.0:%d" % port, "at least 16", args=["--admin-token-file", "short.token"])
    refused(t, "0.0.0.0:%d" % port, "No such file",
            args=["--admin-token-file", "missing.token"])

    # A token from a file (with its newline), on every IPv4 address.
    st.write_file(t.path("admin.token"), TOKEN + "\n")
    port = st.free_port()
    run = serving(t, "0.0.0.0:%d" % port, env=no_token,
                  args=["--admin-token-file", "admin.token"])
    base = "http://127.0.0.1:%d" % port
    st.assert_eq(get(base + "/health")[:2], (200, "ok\n"), "/health without a token")
    st.assert_eq(get(base + "/ready")[:2], (200, "ready\n"), "/ready without a token")
    for path in ("/metrics", "/status"):
        code, _, challenge = get(base + path)
        st.assert_eq((code, challenge), (401, 'Bearer realm="sluice"'), path + " without a token")
        st.assert_eq(get(base + path, TOKEN + "x")[0], 401, path + " with a wrong token")
        st.assert_eq(get(base + path, TOKEN[:-1])[0], 401, path + " with a token's prefix")
        st.assert_eq(get(base + path, TOKEN)[0], 200, path + " with the token")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /status HTTP/1.1\r\nauthorization:   bearer " + TOKEN.encode()
                  + b"  \r\n\r\n")
        answer = s.recv(4096).decode(errors="replace")
    st.assert_true(answer.startswith("HTTP/1.1 200"),
                   "header name and scheme in any case, spaces around", answer[:200])
    stop(run)

    # The token from the environment, on every IPv6 (and IPv4) address.
    port = st.free_port()
    run = serving(t, "[::]:%d" % port, env={"SLUICE_ADMIN_TOKEN": TOKEN})
    st.assert_eq(get("http://[::1]:%d/metrics" % port)[0], 401, "/metrics without a token on [::]")
    st.assert_eq(get("http://[::1]:%d/metrics" % port, TOKEN)[0], 200, "/metrics with the token")
    stop(run)


st.main(test)
