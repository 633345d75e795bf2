"""The log as an admin's tools read it: every line of the real server's
stderr parses by the format in docs/admin.md, text a client sends stays
inside its own quoted value whatever it holds, long lines keep their fixed
fields, and the documented fail2ban filter bans the real peer, never an
address a client wrote into its text."""

import base64
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import ROOT, Client, dot_stuff, make_message

PEER = b"127.0.0.1"
FORGED = b"203.0.113."
ALICE = "alice@example.com"

# ---- a parser of the documented format ----

HEAD = re.compile(rb"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) "
                  rb"(debug|info|warn|error) ([a-z0-9]+)(?:\[([0-9a-f]+)\])?")
KEY = re.compile(rb"[a-z0-9_]+=")
BARE = re.compile(rb"[\x21\x23-\x3c\x3e-\x5b\x5d-\x7e]+")
QUOTED_CHAR = re.compile(rb'[\x20\x21\x23-\x5b\x5d-\x7e]|\\"|\\\\|\\x[0-9a-f]{2}')


class Line:
    def __init__(self, raw, level, proto, conn, event, fields):
        self.raw, self.level, self.proto, self.conn = raw, level, proto, conn
        self.event, self.fields = event, fields

    def all(self, key):
        return [v for k, v in self.fields if k == key]

    def get(self, key):
        vals = self.all(key)
        assert len(vals) == 1, "%s: %d %s= fields" % (self.raw, len(vals),
                                                       key)
        return vals[0]

    def keys(self):
        return [k for k, _ in self.fields]


def parse_quoted(raw, i):
    """The value of the quoted string at raw[i] (its opening quote) and the
    index after its closing quote."""
    out = bytearray()
    i += 1
    while True:
        if raw[i:i + 1] == b'"':
            return bytes(out), i + 1
        m = QUOTED_CHAR.match(raw, i)
        assert m, "bad byte in quoted value at %d: %r" % (i, raw)
        tok = m.group()
        if tok.startswith(b"\\x"):
            out.append(int(tok[2:], 16))
        elif tok.startswith(b"\\"):
            out += tok[1:]
        else:
            out += tok
        i = m.end()


def parse(raw):
    """One log line (bytes, no newline) as a Line; AssertionError when any
    part of it does not follow the format."""
    m = HEAD.match(raw)
    assert m, "bad line start: %r" % raw
    level, proto, conn = m.group(2), m.group(3), m.group(4)
    i, event, fields = m.end(), None, []
    w = re.compile(rb" ([a-z][a-z-]*)(?= |$)").match(raw, i)
    if w:
        event, i = w.group(1), w.end()
    while i < len(raw):
        assert raw[i:i + 1] == b" ", "no space before field at %d: %r" % (
            i, raw)
        k = KEY.match(raw, i + 1)
        assert k, "bad key at %d: %r" % (i + 1, raw)
        key, i = k.group()[:-1], k.end()
        if raw[i:i + 1] == b'"':
            value, i = parse_quoted(raw, i)
        else:
            v = BARE.match(raw, i)
            assert v, "bad bare value at %d: %r" % (i, raw)
            value, i = v.group(), v.end()
        assert i == len(raw) or raw[i:i + 1] == b" ", raw
        fields.append((key.decode(), value))
    return Line(raw, level, proto, conn, event and event.decode(), fields)


def log_lines(srv):
    """Every line of the server's log, parsed; each must parse."""
    with open(srv.log_path, "rb") as f:
        data = f.read()
    assert data == b"" or data.endswith(b"\n"), data[-200:]
    return [parse(raw) for raw in data.split(b"\n")[:-1]]


def wait_lines(srv, pred, count=1, timeout=10):
    """The parsed log once at least `count` of its lines satisfy `pred`;
    what is there when the wait runs out otherwise (checks then fail)."""
    deadline = time.time() + timeout
    while True:
        lines = log_lines(srv)
        if sum(1 for l in lines if pred(l)) >= count or \
                time.time() > deadline:
            return lines
        time.sleep(0.05)


# What each event may carry (docs/admin.md, "Events"); a cut text value
# adds KEY_len.
TEXT = {"helo", "from", "to", "user"}
EVENTS = {
    ("smtp", "connect"): {"client"},
    ("smtp", "reject"): {"client", "code", "size", "user", "cause", "helo",
                         "from", "to", "to_more"},
    ("smtp", "message"): {"id", "client", "size", "result", "user",
                          "queued", "cause", "helo", "from", "to",
                          "to_more"},
    ("smtp", "login"): {"client", "result", "user"},
    ("smtp", "drop"): {"client", "result"},
    ("smtp", "disconnect"): {"client", "messages", "errors", "end"},
    ("pop3", "connect"): {"client"},
    ("pop3", "login"): {"client", "result", "mech", "user"},
    ("pop3", "auth-error"): {"client", "mech", "cause"},
    ("pop3", "drop"): {"client", "result"},
    ("pop3", "disconnect"): {"client", "retrieved", "deleted", "end",
                             "user"},
    ("smtp", "tls"): {"client", "version", "cipher", "bits"},
    ("pop3", "tls"): {"client", "version", "cipher", "bits"},
    ("smtp", "tls-failed"): {"client", "reason"},
    ("pop3", "tls-failed"): {"client", "reason"},
}
ONCE = {"client", "result", "id", "size", "code", "from", "helo", "user"}


def check_session_lines(lines):
    """Every smtp/pop3 connection line: a known event, only its own keys,
    exactly one client= and it is the real peer, no fixed key twice, and
    no forged address in any fixed field."""
    checked = 0
    for l in lines:
        if l.conn is None or l.proto.decode() not in ("smtp", "pop3"):
            continue
        if l.level == b"debug":
            continue
        allowed = EVENTS.get((l.proto.decode(), l.event))
        assert allowed is not None, "unknown event: %r" % l.raw
        allowed = allowed | {k + "_len" for k in allowed & TEXT}
        assert set(l.keys()) <= allowed, l.raw
        assert l.all("client") == [PEER], l.raw
        for k in ONCE:
            assert len(l.all(k)) <= 1, l.raw
        for k, v in l.fields:
            if k not in TEXT:
                assert FORGED not in v, l.raw
        checked += 1
    return checked


def events(lines, proto, event):
    return [l for l in lines if l.proto == proto and l.event == event]


# ---- driving the protocols ----

def smtp_open(port):
    c = Client(port)
    code, text = c.reply()
    assert code == 220, text
    return c


def raw_cmd(c, data):
    """Send bytes and a CRLF; the SMTP reply code."""
    c.send(data + b"\r\n")
    return c.reply()[0]


def smtp_attempt(port, helo, sender, rcpt):
    """One SMTP session with the given raw HELO argument, MAIL FROM and
    RCPT TO addresses, then a message to alice if MAIL was accepted.
    Returns the reply codes by command and the message's queue id."""
    codes, qid = {}, None
    with smtp_open(port) as c:
        codes["helo"] = raw_cmd(c, b"EHLO " + helo)
        codes["mail"] = raw_cmd(c, b"MAIL FROM:<" + sender + b">")
        codes["rcpt"] = raw_cmd(c, b"RCPT TO:<" + rcpt + b">")
        if codes["mail"] == 250:
            assert raw_cmd(c, b"RCPT TO:<alice@example.com>") == 250
            assert raw_cmd(c, b"DATA") == 354
            c.send(dot_stuff(make_message("forged")))
            code, text = c.reply()
            assert code == 250, text
            qid = text.split()[-1].encode()
        raw_cmd(c, b"QUIT")
    return codes, qid


def pop3_attempt(port, user=None, plain_user=None, password=b"wrong"):
    """A failed POP3 login with USER/PASS or AUTH PLAIN; returns the
    status line of the login."""
    with Client(port) as c:
        assert c.line().startswith(b"+OK")
        if user is not None:
            c.send(b"USER " + user + b"\r\n")
            status = c.line()
            if status.startswith(b"+OK"):
                c.send(b"PASS " + password + b"\r\n")
                status = c.line()
        else:
            ir = base64.b64encode(b"\0" + plain_user + b"\0" + password)
            c.send(b"AUTH PLAIN " + ir + b"\r\n")
            status = c.line()
        c.send(b"QUIT\r\n")
        c.line()
        return status


# Each is text a client controls, made to look like fields; they leave the
# genuine fields untouched only if the log quotes them.
FORGE_CLIENT = b"client=203.0.113.77 result=too-many-errors"
SMTP_VECTORS = [
    # (HELO argument, MAIL FROM address, RCPT TO address)
    (b"x\tclient=203.0.113.10\tresult=too-many-errors",
     b'"a ' + FORGE_CLIENT + b'"@example.net',
     b'"b client=203.0.113.78 result=auth-failed "@example.com'),
    (b'h"client=203.0.113.11',
     b'"a\\" ' + FORGE_CLIENT + b' \\"x"@example.net',
     b'"c\\\\\\" client=203.0.113.79"@example.com'),
    (b"\xff\x80client=203.0.113.12\xc3\xa9",
     b'"' + FORGE_CLIENT + b' "@example.net',
     b"nobody=client=203.0.113.80@example.com"),
    (b"\xff" * 300, b'"' + b"=" * 60 + b'"@' + b"d" * 60 + b".example.net",
     b'"' + b" " * 60 + b'"@example.com'),
    # A lone CR, a NUL, an escape: the server may refuse these; whatever
    # it logs must still parse.
    (b"a\rclient=203.0.113.13", b"a\x00client=203.0.113.14@example.net",
     b"\x1bclient=203.0.113.15@example.com"),
]


def test_smtp_forgery(server):
    sent = [(v,) + smtp_attempt(server.smtp_port, *v) for v in SMTP_VECTORS]
    lines = wait_lines(server, lambda l: l.event == "disconnect",
                       count=len(sent))
    assert check_session_lines(lines) > 0
    messages = {l.get("id"): l for l in events(lines, b"smtp", "message")}
    rejected = [v for l in events(lines, b"smtp", "reject")
                for v in l.all("to")]
    delivered = 0
    for (helo, sender, rcpt), codes, qid in sent:
        if codes["rcpt"] == 550:
            # Refused as unknown: logged with the text the client sent.
            mark = re.search(rb"client=[0-9.]+|=+| +", rcpt).group()
            assert any(mark in v for v in rejected), (rcpt, rejected)
        if qid is None:
            continue
        delivered += 1
        l = messages[qid]
        assert l.get("result") == b"delivered", l.raw
        assert l.all("to") == [b"<alice@example.com>"], l.raw
        assert int(l.get("size")) > 0
        # The text comes back from the log as it was sent, or cut with
        # its length beside it.
        h = l.get("helo")
        if l.all("helo_len"):
            assert int(l.get("helo_len")) == len(helo[:255]), l.raw
            assert h.endswith(b"...") and helo.startswith(h[:-3]), l.raw
        else:
            assert h == helo, l.raw
        frm = l.get("from")
        assert frm.startswith(b"<") and frm.endswith(b">"), l.raw
        if FORGE_CLIENT in sender:
            assert FORGE_CLIENT in frm, l.raw
    assert delivered == 4
    assert sum(1 for _, codes, _ in sent if codes["rcpt"] == 550) == 4


def test_smtp_too_many_errors(server):
    with smtp_open(server.smtp_port) as c:
        raw_cmd(c, b"EHLO client=203.0.113.20")
        for _ in range(20):
            code = raw_cmd(c, b"XFOO client=203.0.113.21 "
                              b"result=too-many-errors")
            if code == 421:
                break
        assert code == 421
    lines = wait_lines(server, lambda l: l.proto == b"smtp" and
                       l.event == "disconnect")
    check_session_lines(lines)
    [drop] = events(lines, b"smtp", "drop")
    assert drop.keys() == ["client", "result"], drop.raw
    assert drop.get("result") == b"too-many-errors"


POP3_USERS = [
    b"y client=203.0.113.66 result=auth-failed",
    b"y\" client=203.0.113.67 result=auth-failed \"",
    b"\\\" client=203.0.113.68",
    b"\x1b[31mclient=203.0.113.69\xff",
    b"\x7fclient=203.0.113.70\x01",
    b"\xff" * 380,
]


def test_pop3_forgery(server):
    logged = []
    # USER takes one word; AUTH PLAIN carries any bytes but NUL.
    attempts = [dict(plain_user=n) for n in POP3_USERS] + \
        [dict(user=n) for n in POP3_USERS if b" " not in n] + \
        [dict(user=b"a\rclient=203.0.113.71"),
         dict(user=b"a\x00client=203.0.113.72")]
    for a in attempts:
        status = pop3_attempt(server.pop3_port, **a)
        if status.startswith(b"-ERR [AUTH]"):
            # A login was tried, so it must be in the log.
            logged.append(a.get("user") or a.get("plain_user"))
    assert len(logged) >= len(POP3_USERS)
    lines = wait_lines(server, lambda l: l.proto == b"pop3" and
                       l.event == "disconnect", count=len(attempts))
    check_session_lines(lines)
    users = []
    for l in events(lines, b"pop3", "login"):
        assert l.keys()[:2] == ["client", "result"], l.raw
        assert l.get("result") == b"auth-failed", l.raw
        u = l.get("user")
        if l.all("user_len"):
            assert u.endswith(b"...") and int(l.get("user_len")) > len(u)
            users.append(("cut", u[:-3]))
        else:
            users.append(("whole", u))
    for name in logged:
        assert any(name == u if how == "whole" else name.startswith(u)
                   for how, u in users), (name, users)


def test_many_recipients(server):
    """300 recipients: the line keeps id, client, size and result, lists
    the first recipients in order and counts the rest."""
    rcpts = ["alice+%03d-%s@example.com" % (i, "r" * 50) for i in range(300)]
    with smtp_open(server.smtp_port) as c:
        assert raw_cmd(c, b"EHLO client.test") == 250
        assert raw_cmd(c, b"MAIL FROM:<sender@example.org>") == 250
        for r in rcpts:
            c.send(b"RCPT TO:<%s>\r\n" % r.encode())
        for r in rcpts:
            assert c.reply()[0] == 250, r
        assert raw_cmd(c, b"DATA") == 354
        msg = make_message("many")
        c.send(dot_stuff(msg))
        code, text = c.reply()
        assert code == 250, text
        qid = text.split()[-1].encode()
        raw_cmd(c, b"QUIT")
    lines = wait_lines(server, lambda l: l.event == "message")
    check_session_lines(lines)
    [l] = [l for l in events(lines, b"smtp", "message")
           if l.all("id") == [qid]]
    assert l.get("result") == b"delivered"
    assert int(l.get("size")) == len(msg)
    assert l.get("client") == PEER
    assert len(l.raw) < 8192
    listed = l.all("to")
    more = int(l.get("to_more"))
    assert more > 0 and len(listed) + more == 300, l.raw
    assert listed == [("<%s>" % r).encode() for r in rcpts[:len(listed)]]


# ---- fail2ban ----

def fail2ban_regex():
    """The fail2ban-regex program, installed from Debian if missing."""
    path = shutil.which("fail2ban-regex")
    if path is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for cmd in (["apt-get", "install", "-y", "-qq",
                     "--no-install-recommends", "fail2ban"],
                    ["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq",
                     "--no-install-recommends", "fail2ban"]):
            subprocess.run(cmd, env=env, capture_output=True, timeout=900)
            path = shutil.which("fail2ban-regex")
            if path:
                break
    if path is None:
        pytest.skip("fail2ban-regex is missing and Debian's fail2ban "
                    "package could not be installed")
    return path


def documented_filter():
    """The filter in docs/admin.md: the ini block with [Definition]."""
    with open(os.path.join(ROOT, "docs", "admin.md")) as f:
        doc = f.read()
    blocks = re.findall(r"```ini\n(.*?)```", doc, re.S)
    found = [b for b in blocks if b.startswith("[Definition]")]
    assert len(found) == 1, "one fail2ban filter in docs/admin.md"
    return found[0]


def run_filter(prog, log_path, filter_text, tmp_path, name):
    path = tmp_path / (name + ".conf")
    path.write_text(filter_text)
    out = {}
    for token in ("ip", "msg"):
        r = subprocess.run([prog, "-r", "-o", token, log_path, str(path)],
                           capture_output=True, timeout=300)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        out[token] = r.stdout.decode(errors="replace").splitlines()
    return out


def test_fail2ban_filter(server, tmp_path):
    prog = fail2ban_regex()
    # Failed logins of a real user, then forgeries through every field.
    for _ in range(3):
        status = pop3_attempt(server.pop3_port, user=ALICE.encode())
        assert status.startswith(b"-ERR [AUTH]"), status
    for name in POP3_USERS:
        pop3_attempt(server.pop3_port, plain_user=name)
    pop3_attempt(server.pop3_port, plain_user=b"y " + FORGE_CLIENT + b" x")
    for v in SMTP_VECTORS:
        smtp_attempt(server.smtp_port, *v)
    # A session that ends for too many errors, with forgeries in it.
    with smtp_open(server.smtp_port) as c:
        raw_cmd(c, b"EHLO client=203.0.113.30")
        raw_cmd(c, b'MAIL FROM:<"' + FORGE_CLIENT + b' "@example.net>')
        for _ in range(20):
            if raw_cmd(c, b"RCPT TO:<\"" + FORGE_CLIENT +
                       b" \"@example.com>") == 421:
                break
    lines = wait_lines(server, lambda l: l.event == "drop")
    check_session_lines(lines)
    genuine = [l for l in lines
               if (l.event == "login" and
                   l.all("result") == [b"auth-failed"]) or
               (l.event == "drop" and
                l.all("result") == [b"too-many-errors"])]
    assert sum(1 for l in genuine
               if l.all("user") == [ALICE.encode()]) == 3
    assert sum(1 for l in genuine if l.proto == b"smtp") == 1

    got = run_filter(prog, server.log_path, documented_filter(), tmp_path,
                     "posthorn")
    assert got["ip"] == ["127.0.0.1"] * len(genuine), got
    assert sorted(got["msg"]) == sorted(l.raw.decode("utf-8", "replace")
                                        for l in genuine), got["msg"]

    # The log does hold bait: a filter that looks for client= anywhere on
    # the line bans the forged address.
    naive = ("[Definition]\nfailregex = client=<HOST> "
             "result=(?:auth-failed|too-many-errors)(?: |$)\n")
    got = run_filter(prog, server.log_path, naive, tmp_path, "naive")
    assert any(ip.startswith("203.0.113.") for ip in got["ip"]), got
