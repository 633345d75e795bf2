"""IMAP (RFC 3501, and what RFC 9051 keeps of it, with LITERAL+, SASL-IR,
IDLE, UIDPLUS, MOVE, UNSELECT, CHILDREN, SPECIAL-USE and ESEARCH) as mail
clients see it: imaplib where a client library says it, raw sockets where
the bytes on the wire matter, against the real server.  Expected ENVELOPE
and BODYSTRUCTURE values are worked out by hand from the RFC's rules for
messages built here."""

import base64
import imaplib
import random
import re
import socket
import time

import pytest

from conftest import (PASSWORD, Client, body_of, make_message, pop3_login_wait,
                      quit_and_close, smtp_send)

ALICE = "alice@example.com"
BOB = "bob@example.com"
# How long news may take to reach another session: generous, never a
# measure of speed.
NEWS_WAIT = 10


@pytest.fixture(autouse=True)
def no_store_failures(request):
    """What a client does here never makes the store fail: afterwards the
    log has no store-failed line and no error."""
    srv = request.getfixturevalue("server") \
        if "server" in request.fixturenames else None
    yield
    if srv is not None:
        bad = [line for line in srv.log().splitlines()
               if "store-failed" in line or " error " in line]
        assert not bad, "\n".join(bad[:10])


# ---- a raw client ----

class Imap:
    """An IMAP client on a real socket: commands get tags t1, t2, ...;
    responses come back as bytes with their literals inline (each "{n}"
    followed by CRLF and the n bytes), without the final CRLF."""

    def __init__(self, port, timeout=30, rcvbuf=None):
        self.c = Client(port, timeout=timeout, rcvbuf=rcvbuf)
        self.n = 0
        self.greeting = self.response()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.c.close()

    def send(self, data):
        self.c.send(data)

    def read(self, n):
        """Exactly n bytes."""
        while len(self.c.buf) < n:
            self.c._fill()
        out = bytes(self.c.buf[:n])
        del self.c.buf[:n]
        return out

    def response(self):
        """One whole response, its literals included."""
        out = bytearray()
        while True:
            line = self.c.line()
            out += line
            m = re.search(rb"\{(\d+)\}$", line)
            if not m:
                return bytes(out)
            out += b"\r\n" + self.read(int(m.group(1)))

    def tag(self):
        self.n += 1
        return "t%d" % self.n

    def until(self, tag):
        """Responses up to the tagged one: (untagged list, tagged)."""
        tag = tag.encode() if isinstance(tag, str) else tag
        untagged = []
        while True:
            r = self.response()
            if r.startswith(tag + b" "):
                return untagged, r
            untagged.append(r)

    def cmd(self, text):
        """Send a command (str or bytes, without tag and CRLF); returns
        (untagged, tagged line)."""
        tag = self.tag()
        text = text.encode() if isinstance(text, str) else text
        self.send(tag.encode() + b" " + text + b"\r\n")
        return self.until(tag)

    def ok(self, text):
        """A command that must succeed; its untagged responses."""
        untagged, tagged = self.cmd(text)
        assert re.match(rb"t\d+ OK", tagged), (text, untagged, tagged)
        return untagged

    def login(self, user=ALICE, password=PASSWORD):
        self.ok('LOGIN %s "%s"' % (user, password))
        return self

    def select(self, mailbox="INBOX"):
        return self.ok("SELECT " + quote(mailbox))

    def append(self, mailbox, message, flags="", date=None):
        """APPEND with a non-synchronizing literal; returns the UID from
        APPENDUID."""
        head = "APPEND %s " % quote(mailbox)
        if flags:
            head += "(%s) " % flags
        if date:
            head += '"%s" ' % date
        untagged, tagged = self.cmd(head.encode() + b"{%d+}\r\n" % len(message)
                                    + message)
        m = re.match(rb"t\d+ OK \[APPENDUID (\d+) (\d+)\]", tagged)
        assert m, tagged
        return int(m.group(2))

    def fetch(self, what, uid=False):
        """FETCH: {seq: items dict} of the FETCH responses, and the
        others."""
        untagged = self.ok(("UID FETCH " if uid else "FETCH ") + what)
        out, other = fetches(untagged)
        return out, other

    def at_eof(self, wait=5):
        return self.c.at_eof(wait)

    def closes(self, wait=NEWS_WAIT):
        """Whether the server closes the connection, whatever it sends
        first, within `wait` s of silence."""
        self.c.sock.settimeout(wait)
        try:
            while self.c.sock.recv(65536):
                pass
            return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def quote(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


def login(srv, user=ALICE):
    return Imap(srv.imap_port).login(user)


def client(srv, user=ALICE):
    """A logged-in imaplib client."""
    m = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=30)
    m.login(user, PASSWORD)
    return m


# ---- reading response data ----

class Atom(str):
    """An atom, apart from a string with the same text."""


def parse(data, pos=0):
    """The values of one response (bytes) as a list: NIL is None, numbers
    int, atoms Atom (a section such as BODY[1]<0> is one atom), quoted
    strings and literals bytes, lists lists."""
    out, pos = _parse_list(data, pos, None)
    return out


def _parse_list(data, pos, close):
    out = []
    n = len(data)
    while True:
        while pos < n and data[pos:pos + 1] == b" ":
            pos += 1
        if pos >= n:
            assert close is None, "unclosed list in %r" % data
            return out, pos
        ch = data[pos:pos + 1]
        if ch == b")":
            assert close == b")", "stray ) in %r" % data
            return out, pos + 1
        if ch == b"(":
            v, pos = _parse_list(data, pos + 1, b")")
        elif ch == b'"':
            v, pos = _parse_quoted(data, pos + 1)
        elif ch == b"{":
            m = re.compile(rb"\{(\d+)\}\r\n").match(data, pos)
            assert m, "bad literal at %r" % data[pos:pos + 20]
            end = m.end() + int(m.group(1))
            assert end <= n, "short literal in %r" % data[:200]
            v, pos = data[m.end():end], end
        else:
            v, pos = _parse_atom(data, pos)
        out.append(v)


def _parse_quoted(data, pos):
    v = bytearray()
    while True:
        ch = data[pos:pos + 1]
        assert ch, "unterminated quoted string in %r" % data
        if ch == b'"':
            return bytes(v), pos + 1
        if ch == b"\\":
            pos += 1
            ch = data[pos:pos + 1]
            assert ch in (b"\\", b'"'), "bad escape in %r" % data
        assert ch not in (b"\r", b"\n"), "CR/LF in quoted string %r" % data
        v += ch
        pos += 1


def _parse_atom(data, pos):
    start = pos
    n = len(data)
    while pos < n and data[pos:pos + 1] not in (b" ", b"(", b")"):
        if data[pos:pos + 1] == b"[":
            end = data.index(b"]", pos)
            pos = end + 1
            if data[pos:pos + 1] == b"<":
                pos = data.index(b">", pos) + 1
            continue
        pos += 1
    text = data[start:pos].decode("latin-1")
    if text == "NIL":
        return None, pos
    if text.isdigit():
        return int(text), pos
    return Atom(text), pos


def fetches(untagged):
    """The FETCH responses among untagged ones as {seq: {item: value}}
    (items in upper case), and the other responses.  A message answered
    twice has its items merged."""
    out, other = {}, []
    for r in untagged:
        m = re.match(rb"\* (\d+) FETCH ", r)
        if not m:
            other.append(r)
            continue
        v = parse(r)
        assert len(v) == 4 and isinstance(v[3], list), r
        items = v[3]
        assert len(items) % 2 == 0, r
        d = out.setdefault(int(m.group(1)), {})
        for k, val in zip(items[0::2], items[1::2]):
            d[str(k).upper()] = val
    return out, other


def fetch_order(untagged):
    """The sequence numbers of the FETCH responses, in order."""
    return [int(m.group(1)) for m in
            (re.match(rb"\* (\d+) FETCH ", r) for r in untagged) if m]


def flags_of(items):
    """The message's stored flags: \\Recent belongs to the session that
    claimed the message and is checked in test_imap_flags.py."""
    return set(str(f) for f in items["FLAGS"]) - {"\\Recent"}


def untagged_code(untagged, code):
    """The text after "[CODE " in an untagged OK, or None."""
    for r in untagged:
        m = re.match(rb"\* OK \[" + code.encode() + rb"(?: ([^\]]*))?\]", r)
        if m:
            return (m.group(1) or b"").decode()
    return None


def caps_of(line):
    m = re.search(rb"CAPABILITY ([^\]\r\n]*)", line)
    assert m, line
    return m.group(1).decode().split()


def list_names(untagged, kind=b"LIST"):
    """{name: set of attributes} of LIST (or LSUB) responses."""
    out = {}
    for r in untagged:
        v = parse(r)
        assert v[0] == "*" and v[1] == kind.decode(), r
        attrs, delim, name = v[2], v[3], v[4]
        assert delim == b"/", r
        if isinstance(name, Atom):
            name = name.encode()
        out[name.decode()] = set(a.lower() for a in attrs)
    return out


def deliver(srv, *msgs, rcpt=ALICE):
    for m in msgs:
        code, text = smtp_send(srv.smtp_port, rcpt, m)
        assert code == 250, text


def fill(c, n, mailbox="INBOX", size=0):
    """n small messages by pipelined APPENDs (LITERAL+); returns them."""
    msgs = [make_message("fill-%d" % i, b"x" * size + b"body %d\r\n" % i)
            for i in range(n)]
    tags = []
    out = bytearray()
    for m in msgs:
        t = c.tag()
        tags.append(t)
        out += b"%s APPEND %s {%d+}\r\n%s\r\n" % (
            t.encode(), quote(mailbox).encode(), len(m), m)
    c.send(bytes(out))
    for t in tags:
        _, tagged = c.until(t)
        assert b" OK " in tagged, tagged
    return msgs


def wait_for(c, pattern, wait=NEWS_WAIT):
    """Untagged responses until one matches pattern (bytes regex), which
    must come within `wait` seconds; returns all of them."""
    c.c.sock.settimeout(wait)
    got = []
    try:
        while True:
            r = c.response()
            got.append(r)
            if re.match(pattern, r):
                return got
    except socket.timeout:
        raise AssertionError("no %r within %d s; got %r" % (
            pattern, wait, got)) from None
    finally:
        c.c.sock.settimeout(30)


# ---- greeting, capabilities, login ----

def test_greeting_and_capability_before_and_after_login(server):
    with Imap(server.imap_port) as c:
        assert c.greeting.startswith(b"* OK [CAPABILITY "), c.greeting
        greet = caps_of(c.greeting)
        untagged, tagged = c.cmd("CAPABILITY")
        assert tagged.startswith(b"t1 OK"), tagged
        assert len(untagged) == 1 and untagged[0].startswith(
            b"* CAPABILITY "), untagged
        before = caps_of(untagged[0])
        assert before == greet
        assert "IMAP4rev1" in before
        for cap in ("AUTH=PLAIN", "SASL-IR", "LITERAL+", "IDLE"):
            assert cap in before, before
        assert "LOGINDISABLED" not in before
        _, tagged = c.cmd('LOGIN %s "%s"' % (ALICE, PASSWORD))
        # RFC 9051 7.1: the OK may carry the new capabilities.
        assert tagged.startswith(b"t2 OK [CAPABILITY "), tagged
        in_ok = caps_of(tagged)
        untagged = c.ok("CAPABILITY")
        after = caps_of(untagged[0])
        assert after == in_ok
        assert not [x for x in after if x.startswith("AUTH=")], after
        for cap in ("IMAP4rev1", "IDLE", "UIDPLUS", "MOVE", "UNSELECT",
                    "NAMESPACE", "SPECIAL-USE", "CHILDREN"):
            assert cap in after, after
    m = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=30)
    assert "AUTH=PLAIN" in m.capabilities
    m.logout()


def test_login_good_and_bad_password(server):
    with Imap(server.imap_port) as c:
        untagged, tagged = c.cmd('LOGIN %s "wrong"' % ALICE)
        assert untagged == []
        assert tagged.startswith(b"t1 NO [AUTHENTICATIONFAILED]"), tagged
        # Still not authenticated.
        _, tagged = c.cmd("SELECT INBOX")
        assert tagged.startswith(b"t2 BAD"), tagged
        _, tagged = c.cmd('LOGIN nobody@example.com "%s"' % PASSWORD)
        assert tagged.startswith(b"t3 NO [AUTHENTICATIONFAILED]"), tagged
        c.login()
        c.select()
    log = server.log()
    assert re.search(r" login client=127\.0\.0\.1 result=auth-failed "
                     r"user=alice@example\.com", log), log[-2000:]
    assert re.search(r" login client=127\.0\.0\.1 result=ok "
                     r"user=alice@example\.com", log), log[-2000:]
    assert "wrong" not in log
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        imaplib.IMAP4("127.0.0.1", server.imap_port).login(ALICE, "bad")
    m = client(server)
    assert m.state == "AUTH"
    m.logout()


def test_authenticate_plain_initial_response(server):
    good = base64.b64encode(b"\0" + ALICE.encode() + b"\0" +
                            PASSWORD.encode()).decode()
    bad = base64.b64encode(b"\0" + ALICE.encode() + b"\0nope").decode()
    with Imap(server.imap_port) as c:
        _, tagged = c.cmd("AUTHENTICATE PLAIN " + bad)
        assert tagged.startswith(b"t1 NO [AUTHENTICATIONFAILED]"), tagged
        # A mechanism not offered: NO (RFC 3501 6.2.2); "=" is an empty
        # initial response (RFC 4959), which PLAIN cannot accept: a
        # malformed response, BAD, not a failed login.
        _, tagged = c.cmd("AUTHENTICATE CRAM-MD5")
        assert re.match(rb"t\d+ NO\b", tagged), tagged
        _, tagged = c.cmd("AUTHENTICATE PLAIN =")
        assert re.match(rb"t\d+ BAD\b", tagged), tagged
        untagged, tagged = c.cmd("AUTHENTICATE PLAIN " + good)
        assert untagged == []
        assert re.match(rb"t\d+ OK\b", tagged), tagged
        c.select()
        # Once authenticated, AUTHENTICATE and LOGIN are refused.
        _, tagged = c.cmd("AUTHENTICATE PLAIN " + good)
        assert re.match(rb"t\d+ BAD\b", tagged), tagged
        _, tagged = c.cmd('LOGIN %s "%s"' % (ALICE, PASSWORD))
        assert re.match(rb"t\d+ BAD\b", tagged), tagged


def test_authenticate_plain_continuation(server):
    with Imap(server.imap_port) as c:
        c.send("a1 AUTHENTICATE PLAIN\r\n")
        assert c.response().startswith(b"+"), "no continuation request"
        c.send(base64.b64encode(b"\0" + ALICE.encode() + b"\0" +
                                PASSWORD.encode()) + b"\r\n")
        untagged, tagged = c.until("a1")
        assert tagged.startswith(b"a1 OK"), (untagged, tagged)
        c.select()
        c.ok("LOGOUT")
    # "*" cancels (RFC 3501 6.2.2): BAD, and the session goes on.
    with Imap(server.imap_port) as c:
        c.send("a1 AUTHENTICATE PLAIN\r\n")
        assert c.response().startswith(b"+")
        c.send("*\r\n")
        _, tagged = c.until("a1")
        assert tagged.startswith(b"a1 BAD"), tagged
        c.login()
    # imaplib sends the response after the "+".
    m = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=30)
    typ, _ = m.authenticate(
        "PLAIN", lambda _: b"\0" + ALICE.encode() + b"\0" + PASSWORD.encode())
    assert typ == "OK"
    assert m.select("INBOX")[0] == "OK"
    m.logout()


def test_login_with_literals(server):
    user, pw = ALICE.encode(), PASSWORD.encode()
    with Imap(server.imap_port) as c:
        # Synchronizing: the server asks for each literal.
        c.send(b"a1 LOGIN {%d}\r\n" % len(user))
        assert c.response().startswith(b"+ ")
        c.send(user + b" {%d}\r\n" % len(pw))
        assert c.response().startswith(b"+ ")
        c.send(pw + b"\r\n")
        _, tagged = c.until("a1")
        assert tagged.startswith(b"a1 OK"), tagged
    with Imap(server.imap_port) as c:
        # LITERAL+: all in one go, nothing asked.
        c.send(b"a1 LOGIN {%d+}\r\n%s {%d+}\r\n%s\r\n" % (
            len(user), user, len(pw), pw))
        untagged, tagged = c.until("a1")
        assert untagged == [], untagged
        assert tagged.startswith(b"a1 OK"), tagged
    with Imap(server.imap_port) as c:
        # A password with a quote and a backslash, sent as a literal,
        # is not the stored one: NO, not BAD.
        odd = b'se"cret\\'
        c.send(b"a1 LOGIN %s {%d+}\r\n%s\r\n" % (user, len(odd), odd))
        _, tagged = c.until("a1")
        assert tagged.startswith(b"a1 NO [AUTHENTICATIONFAILED]"), tagged


def test_logout(server):
    with Imap(server.imap_port) as c:
        c.login()
        untagged, tagged = c.cmd("LOGOUT")
        assert [u[:5] for u in untagged] == [b"* BYE"], untagged
        assert tagged.startswith(b"t2 OK"), tagged
        assert c.at_eof()
    # Before login too.
    with Imap(server.imap_port) as c:
        untagged, tagged = c.cmd("LOGOUT")
        assert untagged[0].startswith(b"* BYE") and tagged.startswith(
            b"t1 OK"), (untagged, tagged)
        assert c.at_eof()
    m = client(server)
    assert m.logout()[0] == "BYE"


def test_commands_in_the_wrong_state(server):
    with Imap(server.imap_port) as c:
        for cmd in ("SELECT INBOX", "LIST \"\" *", "CREATE x",
                    "STATUS INBOX (MESSAGES)", "APPEND INBOX {1+}\r\nx",
                    "FETCH 1 FLAGS", "STORE 1 +FLAGS (\\Seen)",
                    "EXPUNGE", "CLOSE", "SEARCH ALL", "IDLE"):
            _, tagged = c.cmd(cmd)
            assert re.match(rb"t\d+ (BAD|NO)\b", tagged), (cmd, tagged)
    # (Each counts as an error: a new session for the next lot.)
    with Imap(server.imap_port) as c:
        c.login()
        for cmd in ("FETCH 1 FLAGS", "STORE 1 +FLAGS (\\Seen)", "EXPUNGE",
                    "CLOSE", "UNSELECT", "SEARCH ALL", "COPY 1 Trash",
                    "MOVE 1 Trash", "UID FETCH 1 FLAGS", "CHECK"):
            _, tagged = c.cmd(cmd)
            assert re.match(rb"t\d+ (BAD|NO)\b", tagged), (cmd, tagged)
        _, tagged = c.cmd('LOGIN %s "%s"' % (ALICE, PASSWORD))
        assert re.match(rb"t\d+ (BAD|NO)\b", tagged), tagged
        # None of that broke the session.
        c.select()
        c.ok("FETCH 1:* FLAGS")


def test_unknown_and_malformed_commands(server):
    with Imap(server.imap_port) as c:
        c.login()
        for bad in ("FROBNICATE", "SELECT", "UID SELECT INBOX",
                    "FETCH", "LIST \"\"", "SELECT INBOX extra"):
            _, tagged = c.cmd(bad)
            assert re.match(rb"t\d+ BAD\b", tagged), (bad, tagged)
        # A line without a tag or with a bad tag is answered untagged.
        c.send("\r\n")
        assert c.response().startswith(b"* BAD")
        c.send("+tag NOOP\r\n")
        assert c.response().startswith(b"* BAD")
        c.select()
        c.ok("NOOP")


def test_too_many_bad_commands(custom):
    srv = custom("imap.max_errors=5")
    with Imap(srv.imap_port) as c:
        for i in range(4):
            _, tagged = c.cmd("BOGUS%d" % i)
            assert tagged.startswith(b"t%d BAD" % (i + 1)), tagged
        c.send("t5 BOGUS\r\n")
        assert c.response().startswith(b"t5 BAD")
        assert c.response().startswith(b"* BYE")
        assert c.at_eof()
    # Failed logins count too.
    with Imap(srv.imap_port) as c:
        for i in range(4):
            _, tagged = c.cmd('LOGIN %s "no%d"' % (ALICE, i))
            assert b" NO " in tagged, tagged
        c.send('t5 LOGIN %s "no"\r\n' % ALICE)
        assert c.response().startswith(b"t5 NO")
        assert c.response().startswith(b"* BYE")
        assert c.at_eof()
    assert "too-many-errors" in srv.log()
    login(srv).close()


# ---- mailboxes ----

SPECIAL = {"INBOX": set(), "Drafts": {"\\drafts"}, "Sent": {"\\sent"},
           "Trash": {"\\trash"}, "Junk": {"\\junk"},
           "Archive": {"\\archive"}}


def test_new_account_list(server):
    with login(server) as c:
        got = list_names(c.ok('LIST "" *'))
        assert set(got) == set(SPECIAL), got
        for name, special in SPECIAL.items():
            assert got[name] == special | {"\\hasnochildren"}, (name, got)
        assert list_names(c.ok('LIST "" %')) == got
        # All of them are subscribed.
        subs = list_names(c.ok('LSUB "" *'), b"LSUB")
        assert set(subs) == set(SPECIAL), subs
        # INBOX is case-insensitive, and answered as INBOX.
        assert set(list_names(c.ok('LIST "" inbox'))) == {"INBOX"}
        assert set(list_names(c.ok('LIST "" "InBoX"'))) == {"INBOX"}
    m = client(server)
    typ, data = m.list()
    assert typ == "OK" and len(data) == 6, data
    assert any(b"\\Trash" in d and d.endswith(b" Trash") for d in data), data
    m.logout()


def test_list_patterns_and_reference(server):
    with login(server) as c:
        for name in ("Work", "Work/Clients", "Work/Clients/Acme",
                     "Work/Admin", "Workshop"):
            c.ok("CREATE " + quote(name))
        got = list_names(c.ok('LIST "" Work*'))
        assert set(got) == {"Work", "Work/Clients", "Work/Clients/Acme",
                            "Work/Admin", "Workshop"}, got
        assert got["Work"] == {"\\haschildren"}
        assert got["Work/Clients"] == {"\\haschildren"}
        assert got["Work/Clients/Acme"] == {"\\hasnochildren"}
        assert got["Workshop"] == {"\\hasnochildren"}
        # % stops at the delimiter.
        assert set(list_names(c.ok('LIST "" Work/%'))) == {
            "Work/Clients", "Work/Admin"}
        assert set(list_names(c.ok('LIST "" %/%'))) == {
            "Work/Clients", "Work/Admin"}
        assert set(list_names(c.ok('LIST "" Work%'))) == {"Work", "Workshop"}
        # The reference is a prefix of the pattern (RFC 3501 6.3.8).
        assert set(list_names(c.ok('LIST Work/ %'))) == {
            "Work/Clients", "Work/Admin"}
        assert set(list_names(c.ok('LIST Work/ *'))) == {
            "Work/Clients", "Work/Clients/Acme", "Work/Admin"}
        assert set(list_names(c.ok('LIST Work/Clients/ Acme'))) == {
            "Work/Clients/Acme"}
        assert list_names(c.ok('LIST "" Nothing*')) == {}
        # An empty pattern asks for the delimiter and root.
        untagged = c.ok('LIST "" ""')
        assert len(untagged) == 1, untagged
        v = parse(untagged[0])
        assert v[:2] == ["*", "LIST"] and v[3] == b"/" and v[4] == b"", v
        assert [a.lower() for a in v[2]] == ["\\noselect"], v


def test_list_percent_shows_missing_parent(server):
    """RFC 3501 6.3.8: with "%" last, matching levels of the hierarchy are
    returned, with \\Noselect if they are not mailboxes (RFC 9051 7.3.1:
    \\NonExistent), so a client walking the tree level by level still
    finds a mailbox whose parent was deleted."""
    with login(server) as c:
        c.ok("CREATE Top/Child")
        c.ok("DELETE Top")
        got = list_names(c.ok('LIST "" %'))
        assert "Top" in got, got
        assert got["Top"] & {"\\noselect", "\\nonexistent"}, got
        assert "\\haschildren" in got["Top"], got
        assert set(list_names(c.ok('LIST "" Top/%'))) == {"Top/Child"}


def test_create_delete_rename(server):
    with login(server) as c:
        # Parents are created with the child (RFC 3501 6.3.3).
        c.ok("CREATE a/b/c")
        assert set(list_names(c.ok('LIST "" a*'))) == {"a", "a/b", "a/b/c"}
        # A trailing delimiter creates the name without it.
        c.ok('CREATE "d/"')
        assert set(list_names(c.ok('LIST "" d*'))) == {"d"}
        _, tagged = c.cmd("CREATE a")
        assert re.match(rb"t\d+ NO \[ALREADYEXISTS\]", tagged), tagged
        for bad in ("INBOX", "inbox"):
            _, tagged = c.cmd("CREATE " + bad)
            assert re.match(rb"t\d+ NO\b", tagged), (bad, tagged)
        for bad in ("INBOX", "inbox"):
            _, tagged = c.cmd("DELETE " + bad)
            assert re.match(rb"t\d+ NO\b", tagged), (bad, tagged)
        _, tagged = c.cmd("DELETE nosuch")
        assert re.match(rb"t\d+ NO \[NONEXISTENT\]", tagged), tagged
        # RENAME takes the children along.
        uid = c.append("a/b", make_message("in-b"))
        c.ok("RENAME a z")
        got = set(list_names(c.ok('LIST "" *')))
        assert {"z", "z/b", "z/b/c"} <= got and not {"a", "a/b"} & got, got
        untagged = c.select("z/b")
        assert b"* 1 EXISTS" in untagged, untagged
        items, _ = c.fetch("1 UID")
        assert items[1]["UID"] == uid
        c.ok("CLOSE")
        _, tagged = c.cmd("RENAME nosuch other")
        assert re.match(rb"t\d+ NO \[NONEXISTENT\]", tagged), tagged
        _, tagged = c.cmd("RENAME z d")
        assert re.match(rb"t\d+ NO \[ALREADYEXISTS\]", tagged), tagged
        _, tagged = c.cmd("RENAME z z/inside")
        assert re.match(rb"t\d+ NO\b", tagged), tagged
        c.ok("DELETE z/b/c")
        c.ok("DELETE d")
        got = set(list_names(c.ok('LIST "" *')))
        assert "z/b/c" not in got and "d" not in got and "z/b" in got, got
        _, tagged = c.cmd("SELECT d")
        assert re.match(rb"t\d+ NO \[NONEXISTENT\]", tagged), tagged


def test_names_with_spaces_literals_and_inbox_children(server):
    with login(server) as c:
        c.ok('CREATE "My Folder"')
        untagged = c.ok('LIST "" My*')
        # A name with a space goes out quoted.
        assert untagged == [b'* LIST (\\HasNoChildren) "/" "My Folder"'], \
            untagged
        c.append("My Folder", make_message("spaced"))
        # A mailbox name as a literal, synchronizing and not.
        c.send(b"a1 SELECT {9}\r\n")
        assert c.response().startswith(b"+ ")
        c.send(b"My Folder\r\n")
        untagged, tagged = c.until("a1")
        assert tagged.startswith(b"a1 OK [READ-WRITE]"), tagged
        assert select_info(untagged)["EXISTS"] == 1
        c.send(b"a2 STATUS {5+}\r\ninbox (MESSAGES)\r\n")
        untagged, tagged = c.until("a2")
        assert untagged == [b"* STATUS INBOX (MESSAGES 0)"], untagged
        # Children of INBOX.
        c.ok("CREATE INBOX/Sub")
        got = list_names(c.ok('LIST "" *'))
        assert got["INBOX"] == {"\\haschildren"}, got
        assert "INBOX/Sub" in got
        assert set(list_names(c.ok('LIST "" INBOX/%'))) == {"INBOX/Sub"}


def test_no_second_inbox(server):
    """INBOX is case-insensitive (RFC 3501 5.1): creating "inbox/x" must
    not make a mailbox "inbox" beside INBOX, one that SELECT can never
    reach (SELECT inbox is INBOX)."""
    with login(server) as c:
        c.ok("CREATE inbox/Sub2")
        got = list_names(c.ok('LIST "" *'))
        assert [n for n in got if n.upper() == "INBOX"] == ["INBOX"], got


def test_rename_inbox(server):
    with login(server) as c:
        uids = [c.append("INBOX", make_message("m%d" % i)) for i in range(3)]
        c.ok("RENAME INBOX Old")
        # RFC 3501 6.3.5: the messages move to the new mailbox; INBOX is
        # left, empty.
        untagged = c.ok("STATUS INBOX (MESSAGES)")
        assert untagged == [b"* STATUS INBOX (MESSAGES 0)"], untagged
        untagged = c.ok("STATUS Old (MESSAGES)")
        assert untagged == [b"* STATUS Old (MESSAGES 3)"], untagged
        assert "INBOX" in list_names(c.ok('LIST "" INBOX'))
        c.select("Old")
        items, _ = c.fetch("1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert [items[i]["UID"] for i in (1, 2, 3)] == uids
        assert items[2][
            "BODY[HEADER.FIELDS (SUBJECT)]"] == b"Subject: m1\r\n\r\n"
    # Mail keeps arriving in INBOX.
    deliver(server, make_message("after"))
    with login(server) as c:
        untagged = c.ok("STATUS INBOX (MESSAGES)")
        assert untagged == [b"* STATUS INBOX (MESSAGES 1)"], untagged


def test_subscribe_unsubscribe(server):
    with login(server) as c:
        c.ok("CREATE Lists")
        assert "Lists" not in list_names(c.ok('LSUB "" *'), b"LSUB")
        c.ok("SUBSCRIBE Lists")
        assert "Lists" in list_names(c.ok('LSUB "" *'), b"LSUB")
        assert set(list_names(c.ok('LSUB "" L%'), b"LSUB")) == {"Lists"}
        c.ok("UNSUBSCRIBE Lists")
        assert "Lists" not in list_names(c.ok('LSUB "" *'), b"LSUB")
        c.ok("UNSUBSCRIBE Trash")
        assert "Trash" not in list_names(c.ok('LSUB "" *'), b"LSUB")
        # LIST still shows it.
        assert "Trash" in list_names(c.ok('LIST "" *'))


def test_modified_utf7_names(server):
    with login(server) as c:
        c.ok('CREATE "Entw&APw-rfe"')
        c.ok('CREATE "&ZeVnLIqe-/&U,BTFw-"')
        got = list_names(c.ok('LIST "" *'))
        assert "Entw&APw-rfe" in got, got
        assert "&ZeVnLIqe-" in got and "&ZeVnLIqe-/&U,BTFw-" in got, got
        # The raw response carries the name as sent, not UTF-8.
        untagged = c.ok('LIST "" Entw*')
        assert untagged == [b'* LIST (\\HasNoChildren) "/" Entw&APw-rfe'], \
            untagged
        c.append("Entw&APw-rfe", make_message("draft"))
        untagged = c.ok('STATUS "Entw&APw-rfe" (MESSAGES)')
        assert untagged == [b'* STATUS Entw&APw-rfe (MESSAGES 1)'], untagged
        c.select("Entw&APw-rfe")
        c.ok("CLOSE")
        c.ok('RENAME "Entw&APw-rfe" "&AMQ-rger"')
        assert "&AMQ-rger" in list_names(c.ok('LIST "" *'))
        # Not valid modified UTF-7: a bare "&", and UTF-8 without
        # UTF8=ACCEPT.
        for bad in (b"foo&bar", b"&Jjo", b"\xc3\xa4rger"):
            _, tagged = c.cmd(b'CREATE "' + bad + b'"')
            assert re.match(rb"t\d+ (NO|BAD)\b", tagged), (bad, tagged)
        assert not [n for n in list_names(c.ok('LIST "" *'))
                    if "foo" in n or "Jjo" == n], "bad names created"
    m = client(server)
    typ, data = m.list('""', "*")
    assert any(d.endswith(b'"/" &AMQ-rger') for d in data), data
    m.logout()


def test_pipelined_commands(server):
    """Commands sent in one go are answered in order, each complete
    before the next starts (jobs on workers must not overtake each
    other): a SEARCH right after a STORE finds what it stored."""
    with login(server) as c:
        fill(c, 5)
        c.select()
        cmds, expect = [], {}
        for k in range(8):
            n = k % 5 + 1
            cmds += ["NOOP", "FETCH %d (UID FLAGS)" % n,
                     "STORE %d +FLAGS.SILENT (k%d)" % (n, k),
                     "SEARCH KEYWORD k%d" % k, 'LIST "" INBOX',
                     "STATUS Trash (MESSAGES)"]
            expect[len(cmds) - 3] = b"* SEARCH %d" % n
        c.send(b"".join(b"p%d %s\r\n" % (i, x.encode())
                        for i, x in enumerate(cmds)))
        for i in range(len(cmds)):
            untagged, tagged = c.until("p%d" % i)
            assert re.match(rb"p%d OK\b" % i, tagged), (cmds[i], tagged)
            if i in expect:
                assert untagged == [expect[i]], (cmds[i], untagged)


# ---- SELECT, EXAMINE, STATUS ----

def select_info(untagged):
    """What SELECT/EXAMINE said: FLAGS, PERMANENTFLAGS, EXISTS, UIDVALIDITY,
    UIDNEXT."""
    out = {}
    for r in untagged:
        m = re.match(rb"\* (\d+) EXISTS$", r)
        if m:
            out["EXISTS"] = int(m.group(1))
        m = re.match(rb"\* FLAGS \((.*)\)$", r)
        if m:
            out["FLAGS"] = set(m.group(1).decode().split())
    perm = untagged_code(untagged, "PERMANENTFLAGS")
    if perm is not None:
        assert perm.startswith("(") and perm.endswith(")"), perm
        out["PERMANENTFLAGS"] = set(perm[1:-1].split())
    for code in ("UIDVALIDITY", "UIDNEXT"):
        v = untagged_code(untagged, code)
        if v is not None:
            out[code] = int(v)
    return out


SYSTEM_FLAGS = {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"}


def test_select_and_examine(server):
    with login(server) as c:
        uids = [c.append("INBOX", make_message("s%d" % i)) for i in range(3)]
        untagged, tagged = c.cmd("SELECT INBOX")
        assert re.match(rb"t\d+ OK \[READ-WRITE\]", tagged), tagged
        info = select_info(untagged)
        assert info["EXISTS"] == 3
        assert info["FLAGS"] >= SYSTEM_FLAGS, info
        assert info["PERMANENTFLAGS"] >= SYSTEM_FLAGS | {"\\*"}, info
        assert 0 < info["UIDVALIDITY"] < 2 ** 32
        assert info["UIDNEXT"] == uids[-1] + 1
        assert uids == sorted(uids) and len(set(uids)) == 3
        uidvalidity = info["UIDVALIDITY"]
        untagged, tagged = c.cmd("EXAMINE INBOX")
        assert re.match(rb"t\d+ OK \[READ-ONLY\]", tagged), tagged
        info = select_info(untagged)
        assert info["EXISTS"] == 3 and info["UIDVALIDITY"] == uidvalidity
        # Nothing can be stored in a read-only mailbox.
        assert info.get("PERMANENTFLAGS", set()) == set(), info
        _, tagged = c.cmd("STORE 1 +FLAGS (\\Seen)")
        assert re.match(rb"t\d+ NO\b", tagged), tagged
        _, tagged = c.cmd("EXPUNGE")
        assert re.match(rb"t\d+ NO\b", tagged), tagged
        # FETCH BODY[] does not set \Seen in a read-only mailbox.
        items, _ = c.fetch("1 (BODY[] FLAGS)")
        assert "\\Seen" not in flags_of(items[1])
        # Another mailbox: its own UIDVALIDITY, empty.
        untagged = c.select("Trash")
        info = select_info(untagged)
        assert info["EXISTS"] == 0 and info["UIDNEXT"] >= 1
    m = client(server)
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"3"], data
    typ, data = m.select("Trash", readonly=True)
    assert typ == "OK" and data == [b"0"], data
    m.logout()


def test_select_missing_mailbox(server):
    with login(server) as c:
        c.append("INBOX", make_message("x"))
        c.select()
        untagged, tagged = c.cmd("SELECT Nosuch")
        assert re.match(rb"t\d+ NO \[NONEXISTENT\]", tagged), tagged
        # RFC 3501 6.3.1: a failed SELECT leaves no mailbox selected.
        _, tagged = c.cmd("FETCH 1 FLAGS")
        assert re.match(rb"t\d+ BAD\b", tagged), tagged
        _, tagged = c.cmd("EXAMINE Nosuch")
        assert re.match(rb"t\d+ NO \[NONEXISTENT\]", tagged), tagged
        c.ok("LIST \"\" INBOX")
        c.select()
        c.ok("FETCH 1 FLAGS")


def test_status(server):
    with login(server) as c:
        msgs = [make_message("st%d" % i, b"x" * (100 * i) + b"\r\n")
                for i in range(4)]
        uids = [c.append("Archive", m) for m in msgs]
        untagged = c.ok("STATUS Archive (MESSAGES UIDNEXT UIDVALIDITY "
                        "UNSEEN SIZE DELETED)")
        assert len(untagged) == 1, untagged
        v = parse(untagged[0])
        assert v[:3] == ["*", "STATUS", "Archive"], v
        st = dict(zip(v[3][0::2], v[3][1::2]))
        assert st["MESSAGES"] == 4 and st["UNSEEN"] == 4, st
        assert st["UIDNEXT"] == uids[-1] + 1, st
        assert st["SIZE"] == sum(len(m) for m in msgs), st
        assert st["DELETED"] == 0
        untagged, tagged = c.cmd("EXAMINE Archive")
        assert select_info(untagged)["UIDVALIDITY"] == st["UIDVALIDITY"]
        c.select("Archive")
        c.ok("STORE 1:2 +FLAGS.SILENT (\\Seen)")
        c.ok("STORE 4 +FLAGS.SILENT (\\Deleted)")
        untagged = c.ok("STATUS Archive (UNSEEN DELETED MESSAGES)")
        assert untagged == [
            b"* STATUS Archive (UNSEEN 2 DELETED 1 MESSAGES 4)"] or \
            untagged == [
            b"* STATUS Archive (MESSAGES 4 UNSEEN 2 DELETED 1)"], untagged
        _, tagged = c.cmd("STATUS Nosuch (MESSAGES)")
        assert re.match(rb"t\d+ NO\b", tagged), tagged
        _, tagged = c.cmd("STATUS Archive (BOGUS)")
        assert re.match(rb"t\d+ BAD\b", tagged), tagged
    m = client(server)
    typ, data = m.status("Archive", "(MESSAGES UNSEEN)")
    assert typ == "OK" and re.search(rb"MESSAGES 4", data[0]), data
    m.logout()


# ---- FETCH ----

def crlf(text):
    """A message from lines written with \\n."""
    return text.replace(b"\n", b"\r\n")


PLAIN = crlf(
    b"Date: Tue, 2 Mar 2021 10:00:00 +0100\n"
    b"From: \"Alice Example\" <alice@example.com>\n"
    b"Sender: sec@example.org\n"
    b"Reply-To: replies@example.org\n"
    b"To: Bob <bob@example.com>, carol@example.net\n"
    b"Cc: undisclosed-recipients:;\n"
    b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= \"quoted\"\n"
    b"In-Reply-To: <parent@example.org>\n"
    b"Message-ID: <plain-1@example.org>\n"
    b"MIME-Version: 1.0\n"
    b"Content-Type: text/plain; charset=utf-8; format=flowed\n"
    b"Content-Transfer-Encoding: quoted-printable\n"
    b"\n"
    b"Gr=C3=BC=C3=9Fe\n"
    b"line two\n")
PLAIN_BODY = b"Gr=C3=BC=C3=9Fe\r\nline two\r\n"

# RFC 3501 7.4.2: ENVELOPE is date, subject, from, sender, reply-to, to,
# cc, bcc, in-reply-to, message-id; an address is (name adl mailbox host);
# a group is (NIL NIL name NIL) ... (NIL NIL NIL NIL); strings as they are
# in the header, encoded words and all.
PLAIN_ENVELOPE = [
    b"Tue, 2 Mar 2021 10:00:00 +0100",
    b'=?utf-8?q?Gr=C3=BC=C3=9Fe?= "quoted"',
    [[b"Alice Example", None, b"alice", b"example.com"]],
    [[None, None, b"sec", b"example.org"]],
    [[None, None, b"replies", b"example.org"]],
    [[b"Bob", None, b"bob", b"example.com"],
     [None, None, b"carol", b"example.net"]],
    [[None, None, b"undisclosed-recipients", None],
     [None, None, None, None]],
    None,
    b"<parent@example.org>",
    b"<plain-1@example.org>",
]
# type subtype (params) id description encoding size lines, then the
# extension data md5 disposition language location.
PLAIN_STRUCTURE = [b"TEXT", b"PLAIN", [b"CHARSET", b"utf-8",
                                       b"FORMAT", b"flowed"],
                   None, None, b"QUOTED-PRINTABLE", len(PLAIN_BODY), 2,
                   None, None, None, None]

ALT = crlf(
    b"From: sender@example.org\n"
    b"To: alice@example.com\n"
    b"Subject: alternative\n"
    b"Message-ID: <alt-1@example.org>\n"
    b"MIME-Version: 1.0\n"
    b"Content-Type: multipart/alternative; boundary=\"=_XyZ\"\n"
    b"\n"
    b"This is the preamble.\n"
    b"--=_XyZ\n"
    b"Content-Type: text/plain; charset=us-ascii\n"
    b"\n"
    b"plain text\n"
    b"second line\n"
    b"\n"
    b"--=_XyZ\n"
    b"Content-Type: text/html; charset=us-ascii\n"
    b"Content-Transfer-Encoding: 7bit\n"
    b"Content-ID: <html-part@example.org>\n"
    b"Content-Description: the HTML\n"
    b"\n"
    b"<p>html</p>\n"
    b"\n"
    b"--=_XyZ--\n"
    b"This is the epilogue.\n")
# RFC 2046 5.1.1: the CRLF before a boundary belongs to the boundary.
ALT_PART1 = b"plain text\r\nsecond line\r\n"
ALT_PART2 = b"<p>html</p>\r\n"
ALT_PART2_MIME = crlf(b"Content-Type: text/html; charset=us-ascii\n"
                      b"Content-Transfer-Encoding: 7bit\n"
                      b"Content-ID: <html-part@example.org>\n"
                      b"Content-Description: the HTML\n"
                      b"\n")
ALT_STRUCTURE = [
    [b"TEXT", b"PLAIN", [b"CHARSET", b"us-ascii"], None, None, b"7BIT",
     len(ALT_PART1), 2, None, None, None, None],
    [b"TEXT", b"HTML", [b"CHARSET", b"us-ascii"], b"<html-part@example.org>",
     b"the HTML", b"7BIT", len(ALT_PART2), 1, None, None, None, None],
    b"ALTERNATIVE", [b"BOUNDARY", b"=_XyZ"], None, None, None,
]

INNER = crlf(
    b"From: Inner <inner@example.net>\n"
    b"To: someone@example.net\n"
    b"Subject: inner subject\n"
    b"Date: Mon, 1 Mar 2021 08:00:00 -0500\n"
    b"Message-ID: <inner-1@example.net>\n"
    b"\n"
    b"inner body\n")
FWD = crlf(
    b"From: fwd@example.org\n"
    b"To: alice@example.com\n"
    b"Subject: forwarded\n"
    b"MIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=b1\n"
    b"\n"
    b"--b1\n"
    b"Content-Type: text/plain; charset=us-ascii\n"
    b"\n"
    b"see attached\n"
    b"\n"
    b"--b1\n"
    b"Content-Type: message/rfc822\n"
    b"Content-Disposition: attachment; filename=\"inner.eml\"\n"
    b"\n") + INNER + crlf(
    b"\n"
    b"--b1--\n")
INNER_ENVELOPE = [
    b"Mon, 1 Mar 2021 08:00:00 -0500", b"inner subject",
    [[b"Inner", None, b"inner", b"example.net"]],
    [[b"Inner", None, b"inner", b"example.net"]],
    [[b"Inner", None, b"inner", b"example.net"]],
    [[None, None, b"someone", b"example.net"]],
    None, None, None, b"<inner-1@example.net>",
]
# A part without a charset is us-ascii (RFC 2045 5.2); a message/rfc822
# part adds the envelope, body structure and line count of the message
# it holds (RFC 3501 7.4.2).
INNER_STRUCTURE = [b"TEXT", b"PLAIN", [b"CHARSET", b"US-ASCII"], None, None,
                   b"7BIT", len(b"inner body\r\n"), 1, None, None, None, None]
FWD_STRUCTURE = [
    [b"TEXT", b"PLAIN", [b"CHARSET", b"us-ascii"], None, None, b"7BIT",
     len(b"see attached\r\n"), 1, None, None, None, None],
    [b"MESSAGE", b"RFC822", None, None, None, b"7BIT", len(INNER),
     INNER_ENVELOPE, INNER_STRUCTURE, INNER.count(b"\r\n"),
     None, [b"ATTACHMENT", [b"FILENAME", b"inner.eml"]], None, None],
    b"MIXED", [b"BOUNDARY", b"b1"], None, None, None,
]


def _upper(v):
    return v.upper() if isinstance(v, bytes) else v


def _params(p):
    if p is None:
        return None
    return [_upper(x) if i % 2 == 0 else x for i, x in enumerate(p)]


def norm_body(b):
    """A body structure with what RFC 2045 makes case-insensitive (type,
    subtype, encoding, parameter and disposition names) in upper case;
    parameter values keep their case, except charset's."""
    if isinstance(b[0], list):
        parts = []
        i = 0
        while isinstance(b[i], list):
            parts.append(norm_body(b[i]))
            i += 1
        rest = list(b[i:])
        rest[0] = _upper(rest[0])
        if len(rest) > 1:
            rest[1] = _params(rest[1])
        if len(rest) > 2 and rest[2] is not None:
            rest[2] = [_upper(rest[2][0]), _params(rest[2][1])]
        return parts + rest
    b = list(b)
    b[0], b[1], b[5] = _upper(b[0]), _upper(b[1]), _upper(b[5])
    b[2] = _params(b[2])
    if b[2]:
        for i in range(0, len(b[2]), 2):
            if b[2][i] == b"CHARSET":
                b[2][i + 1] = b[2][i + 1].upper()
    # Where the disposition is: after md5, which follows the fields of
    # the part's kind.
    dsp = 8
    if b[0] == b"MESSAGE" and b[1] == b"RFC822":
        if len(b) > 8:
            b[8] = norm_body(b[8])
        dsp = 11
    elif b[0] == b"TEXT":
        dsp = 9
    if len(b) > dsp and b[dsp] is not None:
        b[dsp] = [_upper(b[dsp][0]), _params(b[dsp][1])]
    return b


def test_fetch_flags_uid_internaldate_size(server):
    with login(server) as c:
        msg = make_message("fetch-basic", b"one\r\ntwo\r\n")
        uid = c.append("INBOX", msg, flags="\\Flagged $Work",
                       date="05-Mar-2021 10:11:12 +0100")
        c.select()
        items, _ = c.fetch("1 (FLAGS UID INTERNALDATE RFC822.SIZE "
                           "BODY.PEEK[])")
        it = items[1]
        assert flags_of(it) == {"\\Flagged", "$Work"}, it
        assert it["UID"] == uid
        # date-time = DQUOTE date-day-fixed "-" date-month "-" date-year
        #             SP time SP zone DQUOTE; the same instant as given.
        date = it["INTERNALDATE"].decode()
        m = re.fullmatch(r"([ \d]\d)-([A-Z][a-z]{2})-(\d{4}) "
                         r"(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)", date)
        assert m, date
        parsed = imaplib.Internaldate2tuple(
            b'INTERNALDATE "' + it["INTERNALDATE"] + b'"')
        assert parsed is not None, date
        assert time.mktime(parsed) == time.mktime(imaplib.Internaldate2tuple(
            b'INTERNALDATE "05-Mar-2021 10:11:12 +0100"')), date
        assert it["BODY[]"] == msg
        assert it["RFC822.SIZE"] == len(msg)
        # A delivered message: its size is what BODY[] gives, trace
        # headers and all.
    deliver(server, make_message("via-smtp", b"a\r\n.b\r\n"))
    with login(server) as c:
        c.select()
        items, _ = c.fetch("2 (RFC822.SIZE BODY.PEEK[] INTERNALDATE)")
        it = items[2]
        assert it["RFC822.SIZE"] == len(it["BODY[]"])
        assert body_of(it["BODY[]"]) == make_message("via-smtp",
                                                     b"a\r\n.b\r\n")
        # Delivered just now (the server's clock, give or take a day for
        # the zone).
        t = time.mktime(imaplib.Internaldate2tuple(
            b'INTERNALDATE "' + it["INTERNALDATE"] + b'"'))
        assert abs(t - time.time()) < 2 * 86400


def test_fetch_envelope_and_bodystructure(server):
    with login(server) as c:
        for m in (PLAIN, ALT, FWD):
            c.append("INBOX", m)
        c.select()
        items, _ = c.fetch("1:3 (ENVELOPE BODYSTRUCTURE BODY)")
        assert items[1]["ENVELOPE"] == PLAIN_ENVELOPE
        assert norm_body(items[1]["BODYSTRUCTURE"]) == norm_body(
            PLAIN_STRUCTURE)
        # BODY is BODYSTRUCTURE without the extension data.
        assert norm_body(items[1]["BODY"]) == norm_body(PLAIN_STRUCTURE[:8])
        assert items[2]["ENVELOPE"] == [
            None, b"alternative", [[None, None, b"sender", b"example.org"]],
            [[None, None, b"sender", b"example.org"]],
            [[None, None, b"sender", b"example.org"]],
            [[None, None, b"alice", b"example.com"]], None, None, None,
            b"<alt-1@example.org>"]
        assert norm_body(items[2]["BODYSTRUCTURE"]) == norm_body(
            ALT_STRUCTURE)
        assert norm_body(items[3]["BODYSTRUCTURE"]) == norm_body(
            FWD_STRUCTURE)
        body = items[3]["BODY"]
        assert norm_body(body[0]) == norm_body(FWD_STRUCTURE[0][:8])
        assert norm_body(body[1][:7]) == norm_body(FWD_STRUCTURE[1][:7])
        assert body[1][7] == INNER_ENVELOPE
        assert body[2].upper() == b"MIXED" and len(body) == 3, body


def test_fetch_sections(server):
    with login(server) as c:
        for m in (PLAIN, ALT, FWD):
            c.append("INBOX", m)
        c.select()
        head, text = PLAIN.split(b"\r\n\r\n", 1)
        items, _ = c.fetch("1 (BODY.PEEK[HEADER] BODY.PEEK[TEXT] "
                           "BODY.PEEK[1] BODY.PEEK[HEADER.FIELDS (SUBJECT "
                           "message-id)] BODY.PEEK[HEADER.FIELDS.NOT "
                           "(Subject Date From Sender Reply-To To Cc)] "
                           "BODY.PEEK[]<0.10> BODY.PEEK[TEXT]<4.1000> "
                           "BODY.PEEK[]<99999.10>)")
        it = items[1]
        assert it["BODY[HEADER]"] == head + b"\r\n\r\n"
        assert it["BODY[TEXT]"] == text == PLAIN_BODY
        # A message that is not multipart has part 1: its body.
        assert it["BODY[1]"] == PLAIN_BODY
        assert it["BODY[HEADER.FIELDS (SUBJECT MESSAGE-ID)]"] == crlf(
            b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= \"quoted\"\n"
            b"Message-ID: <plain-1@example.org>\n\n")
        assert it["BODY[HEADER.FIELDS.NOT (SUBJECT DATE FROM SENDER "
                  "REPLY-TO TO CC)]"] == crlf(
            b"In-Reply-To: <parent@example.org>\n"
            b"Message-ID: <plain-1@example.org>\n"
            b"MIME-Version: 1.0\n"
            b"Content-Type: text/plain; charset=utf-8; format=flowed\n"
            b"Content-Transfer-Encoding: quoted-printable\n\n")
        # Partial: "<0>" in the answer, the bytes from the origin.
        assert it["BODY[]<0>"] == PLAIN[:10]
        assert it["BODY[TEXT]<4>"] == PLAIN_BODY[4:]
        assert it["BODY[]<99999>"] == b""
        items, _ = c.fetch("2 (BODY.PEEK[1] BODY.PEEK[2] BODY.PEEK[2.MIME] "
                           "BODY.PEEK[1.MIME] BODY.PEEK[TEXT] "
                           "BODY.PEEK[2]<3.4> BODY.PEEK[3])")
        it = items[2]
        assert it["BODY[1]"] == ALT_PART1
        assert it["BODY[2]"] == ALT_PART2
        assert it["BODY[2.MIME]"] == ALT_PART2_MIME
        assert it["BODY[1.MIME]"] == crlf(
            b"Content-Type: text/plain; charset=us-ascii\n\n")
        assert it["BODY[TEXT]"] == ALT.split(b"\r\n\r\n", 1)[1]
        assert it["BODY[2]<3>"] == ALT_PART2[3:7]
        # A part the message does not have is empty (or NIL).
        assert it["BODY[3]"] in (b"", None), it["BODY[3]"]
        items, _ = c.fetch("3 (BODY.PEEK[2] BODY.PEEK[2.HEADER] "
                           "BODY.PEEK[2.TEXT] BODY.PEEK[2.1] "
                           "BODY.PEEK[2.HEADER.FIELDS (Subject)] "
                           "BODY.PEEK[2.MIME])")
        it = items[3]
        assert it["BODY[2]"] == INNER
        inner_head, inner_text = INNER.split(b"\r\n\r\n", 1)
        assert it["BODY[2.HEADER]"] == inner_head + b"\r\n\r\n"
        assert it["BODY[2.TEXT]"] == inner_text
        assert it["BODY[2.1]"] == inner_text
        assert it["BODY[2.HEADER.FIELDS (SUBJECT)]"] == \
            b"Subject: inner subject\r\n\r\n"
        assert it["BODY[2.MIME]"] == crlf(
            b"Content-Type: message/rfc822\n"
            b"Content-Disposition: attachment; filename=\"inner.eml\"\n\n")
        # RFC822.HEADER and RFC822.TEXT are BODY.PEEK[HEADER], BODY[TEXT].
        items, _ = c.fetch("1 (RFC822.HEADER)")
        assert items[1]["RFC822.HEADER"] == head + b"\r\n\r\n"
    m = client(server)
    m.select("INBOX", readonly=True)
    typ, data = m.fetch("2", "(BODY.PEEK[2.MIME])")
    assert typ == "OK" and data[0][1] == ALT_PART2_MIME, data
    m.logout()


def test_fetch_sets_seen(server):
    with login(server) as c:
        for i in range(4):
            c.append("INBOX", make_message("seen%d" % i))
        c.select()
        # PEEK leaves \Seen alone, and no FLAGS come unasked.
        items, _ = c.fetch("1 (BODY.PEEK[] BODY.PEEK[TEXT] "
                           "BODY.PEEK[HEADER])")
        assert "FLAGS" not in items[1], items
        items, _ = c.fetch("1 FLAGS")
        assert flags_of(items[1]) == set()
        # BODY[] sets it, and the answer says so with FLAGS (RFC 3501
        # 6.4.5, 7.4.2).
        items, _ = c.fetch("1 BODY[]")
        assert "\\Seen" in flags_of(items[1]), items
        items, _ = c.fetch("1 FLAGS")
        assert flags_of(items[1]) == {"\\Seen"}
        # So do BODY[TEXT], BODY[section], RFC822 and RFC822.TEXT.
        for n, item in ((2, "BODY[TEXT]"), (3, "RFC822"),
                        (4, "BODY[HEADER.FIELDS (SUBJECT)]")):
            items, _ = c.fetch("%d %s" % (n, item))
            assert "\\Seen" in flags_of(items[n]), (item, items)
        # (A FETCH of flags may come along: the store's news of this
        # session's own changes, which the server may tell at any
        # command.)
        untagged = c.ok("SEARCH UNSEEN")
        assert [r for r in untagged if r.startswith(b"* SEARCH")] == \
            [b"* SEARCH"], untagged
        # RFC822.HEADER and RFC822.SIZE do not.
        c.ok("STORE 1 -FLAGS.SILENT (\\Seen)")
        items, _ = c.fetch("1 (RFC822.HEADER RFC822.SIZE ENVELOPE)")
        items, _ = c.fetch("1 FLAGS")
        assert flags_of(items[1]) == set()
    m = client(server)
    m.select("INBOX")
    typ, data = m.fetch("1", "(BODY[TEXT])")
    assert typ == "OK"
    typ, data = m.fetch("1", "(FLAGS)")
    assert b"\\Seen" in data[0], data
    m.logout()


BINARY_MSG = crlf(
    b"Subject: parts\n"
    b"MIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=b\n"
    b"\n"
    b"--b\n"
    b"Content-Type: text/plain; charset=utf-8\n"
    b"Content-Transfer-Encoding: quoted-printable\n"
    b"\n"
    b"Gr=C3=BC=C3=9Fe, the   preview\n"
    b"--b\n"
    b"Content-Type: application/octet-stream\n"
    b"Content-Transfer-Encoding: base64\n"
    b"\n"
    b"AAECAwQFBgcICQ==\n"
    b"--b--\n")


def test_fetch_binary_and_preview(server):
    """BINARY (RFC 3516) and PREVIEW (RFC 8970), both in CAPABILITY: a
    part's content with its transfer encoding undone, as a literal8 when
    it holds NUL; its decoded size; a partial range; and the preview
    text, whitespace collapsed."""
    with login(server) as c:
        assert b" BINARY " in c.ok("CAPABILITY")[0]
        c.append("INBOX", BINARY_MSG)
        c.select()
        untagged, tagged = c.cmd("FETCH 1 (BINARY.PEEK[2] BINARY.SIZE[2])")
        assert tagged.startswith(b"t") and b" OK " in tagged, tagged
        assert untagged == [b"* 1 FETCH (BINARY[2] ~{10}\r\n"
                            + bytes(range(10)) + b" BINARY.SIZE[2] 10)"]
        untagged, _ = c.cmd("FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])")
        # The CRLF before the boundary belongs to the boundary.
        text = "Grüße, the   preview".encode()
        assert untagged == [b"* 1 FETCH (BINARY[1] {%d}\r\n" % len(text)
                            + text + b" BINARY.SIZE[1] %d)" % len(text)]
        untagged, _ = c.cmd("FETCH 1 (BINARY.PEEK[2]<2.3>)")
        # No NUL in this range: a plain literal will do.
        assert untagged == [b"* 1 FETCH (BINARY[2]<2> {3}\r\n"
                            + bytes([2, 3, 4]) + b")"]
        untagged, _ = c.cmd("FETCH 1 (PREVIEW)")
        # 8-bit text goes in a literal unless UTF8=ACCEPT is enabled.
        preview = "Grüße, the preview".encode()
        assert untagged == [b"* 1 FETCH (PREVIEW {%d}\r\n" % len(preview)
                            + preview + b")"], untagged
        # Not PEEK: sets \Seen, as BODY[] does.
        untagged, _ = c.cmd("FETCH 1 (BINARY[1])")
        assert b"\\Seen" in untagged[0], untagged
        # An unknown transfer encoding cannot be undone (RFC 3516 4.3).
        odd = crlf(b"Content-Transfer-Encoding: x-uuencode\n\nbegin\n")
        c.append("INBOX", odd)
        c.select()
        _, tagged = c.cmd("FETCH 2 (BINARY.PEEK[1])")
        assert b"NO [UNKNOWN-CTE]" in tagged, tagged


def test_nul_bytes_never_in_a_literal(server):
    """A literal may not hold NUL (RFC 9051 4.3): BODY[] sends a
    message's NUL bytes as 0x80, its length unchanged; BINARY[] (a
    literal8) keeps them."""
    msg = b"Subject: nul\r\n\r\nabc\x00def\x00\r\n"
    with login(server) as c:
        c.append("INBOX", msg)
        c.select()
        untagged, _ = c.cmd("FETCH 1 (BODY.PEEK[] BODY.PEEK[TEXT])")
        body = msg.replace(b"\x00", b"\x80")
        assert untagged == [b"* 1 FETCH (BODY[] {%d}\r\n" % len(msg) + body
                            + b" BODY[TEXT] {10}\r\nabc\x80def\x80\r\n)"]
        untagged, _ = c.cmd("FETCH 1 (BINARY.PEEK[])")
        assert untagged == [b"* 1 FETCH (BINARY[] ~{%d}\r\n" % len(msg)
                            + msg + b")"]


def test_uid_fetch_includes_uid(server):
    with login(server) as c:
        uids = [c.append("INBOX", make_message("u%d" % i)) for i in range(5)]
        c.select()
        c.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        c.ok("EXPUNGE")
        left = uids[:1] + uids[2:]
        untagged = c.ok("UID FETCH 1:* FLAGS")
        items, other = fetches(untagged)
        assert sorted(items) == [1, 2, 3, 4], untagged
        assert [items[i]["UID"] for i in (1, 2, 3, 4)] == left
        # UID ranges count UIDs, not sequence numbers; missing UIDs are
        # skipped; "*" is the highest UID; a reversed range is the same.
        items, _ = c.fetch("%d:%d FLAGS" % (uids[3], uids[1]), uid=True)
        assert [it["UID"] for _, it in sorted(items.items())] == \
            [uids[2], uids[3]]
        items, _ = c.fetch("* FLAGS", uid=True)
        assert [it["UID"] for it in items.values()] == [uids[-1]]
        items, _ = c.fetch("%d FLAGS" % uids[1], uid=True)
        assert items == {}
        # Sequence numbers "*" and ranges.
        items, _ = c.fetch("2:* UID")
        assert [items[i]["UID"] for i in (2, 3, 4)] == left[1:]
        items, _ = c.fetch("4,1,2:3 UID")
        assert sorted(items) == [1, 2, 3, 4]


def test_sequence_number_out_of_range(server):
    """RFC 3501 9 (seq-number): a sequence number greater than the number
    of messages should get a tagged BAD, "*" in an empty mailbox too."""
    with login(server) as c:
        c.append("INBOX", make_message("only"))
        c.select()
        for cmd in ("FETCH 2 UID", "FETCH 1:3 UID", "STORE 5 +FLAGS (x)",
                    "COPY 2 Trash"):
            _, tagged = c.cmd(cmd)
            assert re.match(rb"t\d+ BAD\b", tagged), (cmd, tagged)
        c.select("Trash")
        _, tagged = c.cmd("FETCH * UID")
        assert re.match(rb"t\d+ BAD\b", tagged), tagged
        # UID sets are not checked so (RFC 3501 6.4.8).
        c.ok("UID FETCH 1:* UID")
        c.ok("UID FETCH 99 UID")


def big_message(tag, size):
    """A message of about `size` bytes of varied lines (a few starting
    with a dot), CRLF throughout."""
    rnd = random.Random(tag)
    lines = []
    total = 0
    while total < size:
        n = rnd.randrange(0, 200)
        line = bytes(rnd.randrange(33, 127) for _ in range(n))
        if rnd.random() < 0.02:
            line = b"." + line
        lines.append(line)
        total += len(line) + 2
    return make_message(tag, b"\r\n".join(lines) + b"\r\n")


def test_fetch_large_message_byte_exact(server):
    msg = big_message("five-mb", 5 * 1024 * 1024)
    deliver(server, msg)
    with login(server) as c:
        c.select()
        items, _ = c.fetch("1 (RFC822.SIZE BODY.PEEK[])")
        stored = items[1]["BODY[]"]
        assert items[1]["RFC822.SIZE"] == len(stored)
        assert body_of(stored) == msg
        # A partial from the middle, and the text.
        items, _ = c.fetch("1 (BODY.PEEK[]<3000000.100000> "
                           "BODY.PEEK[TEXT])")
        assert items[1]["BODY[]<3000000>"] == stored[3000000:3100000]
        assert items[1]["BODY[TEXT]"] == msg.split(b"\r\n\r\n", 1)[1]
    m = client(server)
    m.select("INBOX", readonly=True)
    typ, data = m.fetch("1", "(BODY.PEEK[])")
    assert typ == "OK" and data[0][1] == stored
    m.logout()


def test_fetch_300_messages_in_order(server):
    with login(server) as c:
        msgs = fill(c, 300)
        untagged = c.select()
        assert b"* 300 EXISTS" in untagged
        untagged = c.ok("FETCH 1:* (UID RFC822.SIZE BODY.PEEK[HEADER."
                        "FIELDS (SUBJECT)])")
        assert fetch_order(untagged) == list(range(1, 301))
        items, other = fetches(untagged)
        assert other == []
        uids = [items[i]["UID"] for i in range(1, 301)]
        assert uids == sorted(uids) and len(set(uids)) == 300
        for i in range(1, 301):
            assert items[i]["RFC822.SIZE"] == len(msgs[i - 1])
            assert items[i]["BODY[HEADER.FIELDS (SUBJECT)]"] == \
                b"Subject: fill-%d\r\n\r\n" % (i - 1)
        # Whole messages, several output pieces' worth.
        untagged = c.ok("FETCH 1:* BODY.PEEK[]")
        assert fetch_order(untagged) == list(range(1, 301))
        items, _ = fetches(untagged)
        assert [items[i]["BODY[]"] for i in range(1, 301)] == msgs
    m = client(server)
    m.select("INBOX", readonly=True)
    typ, data = m.fetch("1:*", "(UID)")
    assert typ == "OK" and len(data) == 300, len(data)
    m.logout()


# ---- STORE, EXPUNGE, CLOSE ----

def test_store(server):
    with login(server) as c:
        uids = [c.append("INBOX", make_message("st%d" % i))
                for i in range(4)]
        c.select()
        untagged = c.ok("STORE 1 +FLAGS (\\Seen \\Flagged)")
        items, _ = fetches(untagged)
        assert list(items) == [1] and flags_of(items[1]) == {
            "\\Seen", "\\Flagged"}, untagged
        untagged = c.ok("STORE 1 -FLAGS (\\Flagged)")
        items, _ = fetches(untagged)
        assert flags_of(items[1]) == {"\\Seen"}
        untagged = c.ok("STORE 1:2 FLAGS (\\Answered \\Draft)")
        items, _ = fetches(untagged)
        assert sorted(items) == [1, 2]
        assert flags_of(items[1]) == flags_of(items[2]) == {
            "\\Answered", "\\Draft"}
        # Keywords, and a flag list without parentheses.
        untagged = c.ok("STORE 3 +FLAGS $Important")
        items, _ = fetches(untagged)
        assert flags_of(items[3]) == {"$Important"}
        untagged = c.ok("STORE 3 +FLAGS (NonJunk \\Seen $Important)")
        assert flags_of(fetches(untagged)[0][3]) == {
            "$Important", "NonJunk", "\\Seen"}
        untagged = c.ok("STORE 3 -FLAGS ($Important)")
        assert flags_of(fetches(untagged)[0][3]) == {"NonJunk", "\\Seen"}
        # .SILENT: no FETCH back (RFC 3501 6.4.6).
        untagged = c.ok("STORE 4 +FLAGS.SILENT (\\Flagged)")
        assert fetches(untagged)[0] == {}, untagged
        untagged = c.ok("STORE 1:* FLAGS.SILENT ()")
        assert fetches(untagged)[0] == {}, untagged
        items, _ = c.fetch("1:4 FLAGS")
        assert all(flags_of(items[i]) == set() for i in items), items
        # UID STORE names UIDs, and its FETCH responses carry the UID.
        untagged = c.ok("UID STORE %d +FLAGS (\\Deleted)" % uids[2])
        items, _ = fetches(untagged)
        assert list(items) == [3] and items[3]["UID"] == uids[2], untagged
        assert flags_of(items[3]) == {"\\Deleted"}
        # An unknown system flag is BAD.
        _, tagged = c.cmd("STORE 1 +FLAGS (\\Bogus)")
        assert re.match(rb"t\d+ BAD\b", tagged), tagged
        _, tagged = c.cmd("STORE 1 +FLAGS.LOUD (\\Seen)")
        assert re.match(rb"t\d+ BAD\b", tagged), tagged
    m = client(server)
    m.select("INBOX")
    typ, data = m.store("1:2", "+FLAGS", "(\\Seen)")
    assert typ == "OK" and len(data) == 2, data
    typ, data = m.search(None, "SEEN")
    assert data == [b"1 2"], data
    m.logout()


def test_expunge_numbering(server):
    with login(server) as c:
        uids = [c.append("INBOX", make_message("ex%d" % i))
                for i in range(6)]
        c.select()
        c.ok("STORE 2,3,5 +FLAGS.SILENT (\\Deleted)")
        untagged = c.ok("EXPUNGE")
        # Each EXPUNGE's number is right when it is said: for 2, 3 and 5,
        # "5 4 2 EXPUNGE"... the only orders that say so are "2 2 3" and
        # descending "5 3 2".
        seqs = [int(re.match(rb"\* (\d+) EXPUNGE$", r).group(1))
                for r in untagged if r.endswith(b"EXPUNGE")]
        assert seqs in ([5, 3, 2], [2, 2, 3]), untagged
        assert not [r for r in untagged if b"EXISTS" in r and
                    r != b"* 3 EXISTS"], untagged
        items, _ = c.fetch("1:* UID")
        assert [items[i]["UID"] for i in sorted(items)] == [
            uids[0], uids[3], uids[5]]
        # Nothing \Deleted: no EXPUNGE (an EXISTS that repeats the count
        # is allowed).
        assert [r for r in c.ok("EXPUNGE") if r != b"* 3 EXISTS"] == []
        assert [r for r in c.ok("EXPUNGE") if r != b"* 3 EXISTS"] == []
    m = client(server)
    m.select("INBOX")
    m.store("1", "+FLAGS", "(\\Deleted)")
    typ, data = m.expunge()
    assert typ == "OK" and data == [b"1"], data
    m.logout()


def test_uid_expunge_only_given_uids(server):
    with login(server) as c:
        uids = [c.append("INBOX", make_message("ue%d" % i))
                for i in range(5)]
        c.select()
        c.ok("STORE 1:4 +FLAGS.SILENT (\\Deleted)")
        untagged = c.ok("UID EXPUNGE %d,%d:%d" % (uids[1], uids[3],
                                                 uids[4]))
        seqs = [int(re.match(rb"\* (\d+) EXPUNGE$", r).group(1))
                for r in untagged if r.endswith(b"EXPUNGE")]
        # uids[1] and uids[3] (seq 2 and 4); uids[4] is not \Deleted.
        assert seqs in ([4, 2], [2, 3]), untagged
        items, _ = c.fetch("1:* (UID FLAGS)")
        assert [items[i]["UID"] for i in sorted(items)] == [
            uids[0], uids[2], uids[4]]
        assert "\\Deleted" in flags_of(items[1])


def test_close_and_unselect(server):
    with login(server) as c:
        for i in range(3):
            c.append("INBOX", make_message("cl%d" % i))
        c.select()
        c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        # UNSELECT leaves \Deleted messages where they are.
        untagged = c.ok("UNSELECT")
        assert untagged == [], untagged
        _, tagged = c.cmd("FETCH 1 FLAGS")
        assert re.match(rb"t\d+ BAD\b", tagged), tagged
        assert c.ok("STATUS INBOX (MESSAGES)") == [
            b"* STATUS INBOX (MESSAGES 3)"]
        # CLOSE expunges them, and says nothing about it.
        c.select()
        c.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        untagged = c.ok("CLOSE")
        assert untagged == [], untagged
        _, tagged = c.cmd("FETCH 1 FLAGS")
        assert re.match(rb"t\d+ BAD\b", tagged), tagged
        assert c.ok("STATUS INBOX (MESSAGES)") == [
            b"* STATUS INBOX (MESSAGES 1)"]
        # CLOSE of a mailbox opened with EXAMINE expunges nothing.
        c.append("INBOX", make_message("cl3"))
        c.select()
        c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        c.ok("EXAMINE INBOX")
        assert c.ok("CLOSE") == []
        assert c.ok("STATUS INBOX (MESSAGES)") == [
            b"* STATUS INBOX (MESSAGES 2)"]
        # SELECT of another mailbox does not expunge either (RFC 3501
        # 6.3.1 closes without expunging).
        c.select()
        c.select("Trash")
        assert c.ok("STATUS INBOX (MESSAGES)") == [
            b"* STATUS INBOX (MESSAGES 2)"]


# ---- COPY, MOVE, APPEND ----

def uid_set(text):
    """The UIDs of a uid-set such as "4:6,9" in order."""
    out = []
    for part in text.split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            step = 1 if b >= a else -1
            out += list(range(a, b + step, step))
        else:
            out.append(int(part))
    return out


def test_copy_with_copyuid(server):
    with login(server) as c:
        msgs = [make_message("cp%d" % i) for i in range(4)]
        src = [c.append("INBOX", m) for m in msgs]
        archive_next = select_info(c.ok("EXAMINE Archive"))["UIDNEXT"]
        archive_validity = select_info(c.ok("EXAMINE Archive"))[
            "UIDVALIDITY"]
        c.select()
        c.ok("STORE 2 +FLAGS.SILENT (\\Flagged $Tag)")
        untagged, tagged = c.cmd("COPY 2:3 Archive")
        m = re.match(rb"t\d+ OK \[COPYUID (\d+) ([\d:,]+) ([\d:,]+)\]",
                     tagged)
        assert m, tagged
        assert int(m.group(1)) == archive_validity
        assert uid_set(m.group(2).decode()) == src[1:3]
        dst = uid_set(m.group(3).decode())
        assert len(dst) == 2 and dst[0] >= archive_next, tagged
        # COPY leaves the source alone.
        assert not [r for r in untagged if b"EXPUNGE" in r], untagged
        assert select_info(c.select())["EXISTS"] == 4
        c.select("Archive")
        items, _ = c.fetch("1:* (UID FLAGS BODY.PEEK[])")
        got = {items[i]["UID"]: items[i] for i in items}
        assert sorted(got) == dst
        # Flags go along with the copy (RFC 3501 6.4.7).
        assert got[dst[0]]["BODY[]"] == msgs[1]
        assert flags_of(got[dst[0]]) == {"\\Flagged", "$Tag"}
        assert got[dst[1]]["BODY[]"] == msgs[2]
        # UID COPY, with a UID that is not there: only the others.
        c.select()
        untagged, tagged = c.cmd("UID COPY %d,%d,99999 Trash" % (
            src[0], src[3]))
        m = re.match(rb"t\d+ OK \[COPYUID \d+ ([\d:,]+) ([\d:,]+)\]",
                     tagged)
        assert m and uid_set(m.group(1).decode()) == [src[0], src[3]], \
            tagged
        assert len(uid_set(m.group(2).decode())) == 2
        # No such mailbox: TRYCREATE (RFC 3501 6.4.7).
        _, tagged = c.cmd("COPY 1 Nosuch")
        assert re.match(rb"t\d+ NO \[TRYCREATE\]", tagged), tagged
    m = client(server)
    m.select("INBOX")
    typ, data = m.copy("1", "Junk")
    assert typ == "OK", data
    assert m.status("Junk", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 1)")
    m.logout()


def test_move(server):
    with login(server) as c:
        msgs = [make_message("mv%d" % i) for i in range(5)]
        src = [c.append("INBOX", m) for m in msgs]
        c.select()
        untagged, tagged = c.cmd("MOVE 2,4 Archive")
        assert re.match(rb"t\d+ OK\b", tagged), tagged
        # COPYUID in an untagged OK before the EXPUNGEs (RFC 6851 4.3).
        code = untagged_code(untagged, "COPYUID")
        assert code is not None, untagged
        validity, s, d = code.split()
        assert uid_set(s) == [src[1], src[3]], code
        dst = uid_set(d)
        expunges = [int(re.match(rb"\* (\d+) EXPUNGE$", r).group(1))
                    for r in untagged if r.endswith(b" EXPUNGE")]
        assert expunges in ([4, 2], [2, 3]), untagged
        first_expunge = [i for i, r in enumerate(untagged)
                         if r.endswith(b" EXPUNGE")][0]
        assert untagged.index([r for r in untagged if b"COPYUID" in r][0]) \
            < first_expunge, untagged
        items, _ = c.fetch("1:* UID")
        assert [items[i]["UID"] for i in sorted(items)] == [
            src[0], src[2], src[4]]
        c.select("Archive")
        items, _ = c.fetch("1:* (UID BODY.PEEK[])", uid=False)
        assert sorted(items[i]["UID"] for i in items) == dst
        assert [items[i]["BODY[]"] for i in sorted(items)] == [
            msgs[1], msgs[3]]
        # UID MOVE.
        untagged, _ = c.cmd("UID MOVE %d INBOX" % dst[1])
        assert b"* 2 EXPUNGE" in untagged, untagged
        _, tagged = c.cmd("MOVE 1 Nosuch")
        assert re.match(rb"t\d+ NO \[TRYCREATE\]", tagged), tagged
        # A read-only mailbox cannot lose messages.
        c.ok("EXAMINE Archive")
        _, tagged = c.cmd("MOVE 1 INBOX")
        assert re.match(rb"t\d+ NO\b", tagged), tagged
        assert c.ok("STATUS INBOX (MESSAGES)") == [
            b"* STATUS INBOX (MESSAGES 4)"]


def test_append(server):
    with login(server) as c:
        msg = make_message("appended", b"with\r\nlines\r\n")
        validity = select_info(c.ok("EXAMINE Drafts"))["UIDVALIDITY"]
        c.ok("UNSELECT")
        # A synchronizing literal: the server asks for it.
        c.send(b'a1 APPEND Drafts (\\Draft \\Seen $Pending) '
               b'"14-Jul-2020 23:59:58 -0700" {%d}\r\n' % len(msg))
        assert c.response().startswith(b"+ ")
        c.send(msg + b"\r\n")
        untagged, tagged = c.until("a1")
        m = re.match(rb"a1 OK \[APPENDUID (\d+) (\d+)\]", tagged)
        assert m, tagged
        assert int(m.group(1)) == validity
        uid = int(m.group(2))
        c.select("Drafts")
        items, _ = c.fetch("%d (FLAGS INTERNALDATE BODY.PEEK[])" % uid,
                           uid=True)
        it = items[1]
        assert it["BODY[]"] == msg
        assert flags_of(it) == {"\\Draft", "\\Seen", "$Pending"}
        assert time.mktime(imaplib.Internaldate2tuple(
            b'INTERNALDATE "' + it["INTERNALDATE"] + b'"')) == time.mktime(
            imaplib.Internaldate2tuple(
                b'INTERNALDATE "14-Jul-2020 23:59:58 -0700"'))
        # Into the selected mailbox: the client hears EXISTS.
        untagged, tagged = c.cmd(b"APPEND Drafts {%d+}\r\n" % len(msg) + msg)
        assert b"* 2 EXISTS" in untagged, untagged
        # No such mailbox: TRYCREATE (RFC 3501 6.3.11).
        _, tagged = c.cmd(b"APPEND Nosuch {%d+}\r\n" % len(msg) + msg)
        assert re.match(rb"t\d+ NO \[TRYCREATE\]", tagged), tagged
        # A bad date or flag is BAD.
        _, tagged = c.cmd(b'APPEND Drafts "32-Jul-2020 10:00:00 +0000" '
                          b'{%d+}\r\n' % len(msg) + msg)
        assert re.match(rb"t\d+ BAD\b", tagged), tagged
        _, tagged = c.cmd(b"APPEND Drafts (\\Recent) {%d+}\r\n" % len(msg)
                          + msg)
        assert re.match(rb"t\d+ (BAD|NO)\b", tagged), tagged
        c.ok("NOOP")
        assert select_info(c.select("Drafts"))["EXISTS"] == 2
    m = client(server)
    typ, data = m.append("Sent", "(\\Seen)", imaplib.Time2Internaldate(
        time.time()), msg)
    assert typ == "OK" and b"APPENDUID" in data[0], data
    m.logout()


def test_append_extra_data_after_message_is_tagged(server):
    """The BAD for what follows an APPEND's message on its line answers
    the APPEND: a client waits for that tag, not for "* BAD"."""
    with login(server) as c:
        c.send(b"a1 APPEND INBOX {2+}\r\nab extra\r\n")
        untagged, tagged = c.until("a1")
        assert tagged.startswith(b"a1 BAD"), (untagged, tagged)
        c.ok("NOOP")
        assert c.ok("STATUS INBOX (MESSAGES)") == [
            b"* STATUS INBOX (MESSAGES 0)"]


def test_append_large_message_spooled(server):
    msg = big_message("two-mb", 2 * 1024 * 1024)
    with login(server) as c:
        uid = c.append("INBOX", msg)
        c.select()
        items, _ = c.fetch("%d (RFC822.SIZE BODY.PEEK[])" % uid, uid=True)
        assert items[1]["RFC822.SIZE"] == len(msg)
        assert items[1]["BODY[]"] == msg
        # Synchronizing, sent in pieces of odd sizes.
        c.send(b"a1 APPEND Archive {%d}\r\n" % len(msg))
        assert c.response().startswith(b"+ ")
        pos = 0
        rnd = random.Random(1)
        while pos < len(msg):
            n = rnd.randrange(1, 200000)
            c.send(msg[pos:pos + n])
            pos += n
        c.send(b"\r\n")
        _, tagged = c.until("a1")
        assert tagged.startswith(b"a1 OK [APPENDUID "), tagged
    # Also what other readers get: POP3 reads the same bytes.
    with pop3_login_wait(server.pop3_port, ALICE) as p:
        assert p.pop("RETR 1").startswith("+OK")
        assert p.multiline() == msg
        quit_and_close(p)


def test_append_too_big(custom):
    srv = custom("smtp.max_message_size=64K")
    limit = 64 * 1024
    with login(srv) as c:
        # Synchronizing: refused before the data is asked for.
        c.send(b"a1 APPEND INBOX {%d}\r\n" % (limit + 1))
        r = c.response()
        assert r.startswith(b"a1 NO [TOOBIG]"), r
        c.ok("NOOP")
        # At the limit it is fine.
        msg = make_message("at-limit")
        msg += b"x" * (limit - len(msg))
        c.append("INBOX", msg)
        assert c.ok("STATUS INBOX (MESSAGES)") == [
            b"* STATUS INBOX (MESSAGES 1)"]
        # Non-synchronizing: the data is on its way; BAD, then BYE, and
        # the connection closes without reading it.
        c.send(b"a2 APPEND INBOX {%d+}\r\n" % (10 * limit))
        r = c.response()
        assert r.startswith(b"a2 BAD"), r
        assert c.response().startswith(b"* BYE")
        assert c.at_eof()
    with login(srv) as c:
        assert c.ok("STATUS INBOX (MESSAGES)") == [
            b"* STATUS INBOX (MESSAGES 1)"]


# ---- SEARCH ----

def search(c, query, uid=False):
    untagged = c.ok(("UID SEARCH " if uid else "SEARCH ") + query)
    hits = [r for r in untagged if r.startswith(b"* SEARCH")]
    assert len(hits) == 1, (query, untagged)
    return [int(x) for x in hits[0].split()[2:]]


SEARCH_MSGS = [
    # (from, subject, body, internal date, flags)
    (b"Anna Apple <anna@apple.example>", b"Quarterly report",
     b"The numbers are in.\r\n", "01-Feb-2021 12:00:00 +0000", ""),
    (b"bert@banana.example", b"Lunch?",
     b"Pizza or sushi? XYZZY\r\n", "15-Feb-2021 12:00:00 +0000",
     "\\Seen"),
    (b"Carla <carla@cherry.example>", b"Re: Quarterly report",
     b"Looks good.\r\n" + b"padding line\r\n" * 200,
     "01-Mar-2021 12:00:00 +0000", "\\Flagged \\Seen"),
    (b"anna@apple.example", b"=?utf-8?q?Caf=C3=A9?= plans",
     b"See you there.\r\n", "10-Mar-2021 12:00:00 +0000",
     "$Important"),
]


def search_box(c):
    uids = []
    for frm, subj, body, date, flags in SEARCH_MSGS:
        msg = (b"From: " + frm + b"\r\nTo: alice@example.com\r\n"
               b"Subject: " + subj + b"\r\nX-Mailer: tester 1.0\r\n"
               b"\r\n" + body)
        uids.append(c.append("INBOX", msg, flags=flags, date=date))
    c.select()
    return uids


def test_search_keys(server):
    with login(server) as c:
        uids = search_box(c)
        assert search(c, "ALL") == [1, 2, 3, 4]
        assert search(c, "UNSEEN") == [1, 4]
        assert search(c, "SEEN") == [2, 3]
        assert search(c, "FLAGGED") == [3]
        assert search(c, "UNFLAGGED") == [1, 2, 4]
        assert search(c, "KEYWORD $Important") == [4]
        assert search(c, "UNKEYWORD $Important") == [1, 2, 3]
        # Substrings, any case (RFC 3501 6.4.4).
        assert search(c, "FROM anna") == [1, 4]
        assert search(c, "FROM APPLE.example") == [1, 4]
        assert search(c, 'FROM "Carla"') == [3]
        assert search(c, "SUBJECT quarterly") == [1, 3]
        assert search(c, 'SUBJECT "Re: Quarterly"') == [3]
        assert search(c, "TO alice") == [1, 2, 3, 4]
        assert search(c, "BODY xyzzy") == [2]
        # BODY is the body only; TEXT is header and body.
        assert search(c, "BODY Lunch") == []
        assert search(c, "TEXT Lunch") == [2]
        assert search(c, "TEXT xyzzy") == [2]
        assert search(c, 'HEADER X-Mailer "tester"') == [1, 2, 3, 4]
        assert search(c, 'HEADER X-Mailer "other"') == []
        # An empty string matches every message with the field.
        assert search(c, 'HEADER X-Mailer ""') == [1, 2, 3, 4]
        assert search(c, 'HEADER X-Absent ""') == []
        # Sizes: message 3 is the big one.
        sizes = [items["RFC822.SIZE"] for _, items in
                 sorted(c.fetch("1:* RFC822.SIZE")[0].items())]
        assert search(c, "LARGER %d" % (sizes[2] - 1)) == [3]
        assert search(c, "LARGER %d" % sizes[2]) == []
        assert search(c, "SMALLER %d" % sizes[0]) == [
            i + 1 for i, s in enumerate(sizes) if s < sizes[0]]
        assert search(c, "SMALLER 1000000") == [1, 2, 3, 4]
        # Dates are internal dates, whole days (RFC 3501 6.4.4).
        assert search(c, "SINCE 15-Feb-2021") == [2, 3, 4]
        assert search(c, "BEFORE 15-Feb-2021") == [1]
        assert search(c, "ON 1-Mar-2021") == [3]
        assert search(c, "SINCE 1-Feb-2021 BEFORE 2-Mar-2021") == [1, 2, 3]
        # Sequence sets and UID sets.
        assert search(c, "2:3") == [2, 3]
        assert search(c, "1,4") == [1, 4]
        assert search(c, "3:*") == [3, 4]
        assert search(c, "UID %d:%d" % (uids[1], uids[2])) == [2, 3]
        assert search(c, "UID %d:*" % uids[3]) == [4]
        # AND by juxtaposition, OR, NOT, parentheses.
        assert search(c, "FROM anna UNSEEN") == [1, 4]
        assert search(c, "OR FLAGGED KEYWORD $Important") == [3, 4]
        assert search(c, "NOT SEEN") == [1, 4]
        assert search(c, "NOT (FROM anna OR SEEN FLAGGED)") == [1, 2, 3, 4]
        assert search(c, "NOT (FROM anna) OR SEEN FLAGGED") == [2, 3]
        assert search(c, "(FROM anna) (SUBJECT plans)") == [4]
        assert search(c, "OR (FROM bert) (FROM carla) NOT FLAGGED") == [2]
        assert search(c, "NOT (OR FROM bert FROM carla)") == [1, 4]
        assert search(c, "OR OR 1 2 3") == [1, 2, 3]
        # CHARSET: UTF-8 and US-ASCII are known.
        assert search(c, "CHARSET UTF-8 SUBJECT report") == [1, 3]
        _, tagged = c.cmd("SEARCH CHARSET X-UNKNOWN SUBJECT report")
        assert re.match(rb"t\d+ NO \[BADCHARSET", tagged), tagged
        _, tagged = c.cmd("SEARCH BOGUSKEY")
        assert re.match(rb"t\d+ BAD\b", tagged), tagged
        _, tagged = c.cmd("SEARCH SINCE notadate")
        assert re.match(rb"t\d+ BAD\b", tagged), tagged
    m = client(server)
    m.select("INBOX")
    typ, data = m.search(None, "FROM", '"anna"')
    assert data == [b"1 4"], data
    m.logout()


def test_uid_search(server):
    with login(server) as c:
        uids = search_box(c)
        c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        c.ok("EXPUNGE")
        assert search(c, "ALL", uid=True) == uids[1:]
        assert search(c, "UNSEEN", uid=True) == [uids[3]]
        assert search(c, "1", uid=True) == [uids[1]]
        assert search(c, "UID %d:*" % uids[2], uid=True) == uids[2:]
        assert search(c, "FROM anna", uid=True) == [uids[3]]
        assert search(c, "UID %d" % uids[0], uid=True) == []


def test_search_return_esearch(server):
    with login(server) as c:
        uids = search_box(c)
        untagged = c.ok("SEARCH RETURN (MIN MAX COUNT ALL) FROM anna")
        assert len(untagged) == 1, untagged
        v = parse(untagged[0])
        assert v[:2] == ["*", "ESEARCH"], v
        # (TAG "tag") correlates the answer with the command (RFC 4731 3).
        assert v[2] == ["TAG", b"t%d" % c.n], v
        res = dict(zip(v[3::2], v[4::2]))
        assert res["MIN"] == 1 and res["MAX"] == 4 and res["COUNT"] == 2, v
        assert uid_set(str(res["ALL"])) == [1, 4], v
        untagged = c.ok("UID SEARCH RETURN (MIN MAX COUNT ALL) SINCE "
                        "15-Feb-2021")
        v = parse(untagged[0])
        assert "UID" in v, v
        res = dict(zip(v[4::2], v[5::2]))
        assert res["MIN"] == uids[1] and res["MAX"] == uids[3], v
        assert res["COUNT"] == 3 and uid_set(str(res["ALL"])) == uids[1:]
        # Nothing found: only COUNT 0 (RFC 4731 3.1).
        untagged = c.ok("SEARCH RETURN (MIN MAX COUNT ALL) FROM nobody")
        v = parse(untagged[0])
        assert v[3:] == ["COUNT", 0], v
        # RETURN () means ALL.
        untagged = c.ok("SEARCH RETURN () FLAGGED")
        v = parse(untagged[0])
        assert v[3] == "ALL" and str(v[4]) == "3", v
        untagged = c.ok("SEARCH RETURN (COUNT) ALL")
        assert parse(untagged[0])[3:] == ["COUNT", 4], untagged


# ---- two sessions on one mailbox ----

def noop_news(c):
    """A NOOP's untagged responses."""
    return c.ok("NOOP")


def news_until(c, pattern, wait=NEWS_WAIT):
    """NOOPs until one brings a response matching pattern; the store's
    news may take a moment to reach the session, so up to `wait` s (a
    bound that only a broken server reaches).  Returns all responses."""
    deadline = time.time() + wait
    got = []
    while True:
        got += noop_news(c)
        if any(re.match(pattern, r) for r in got):
            return got
        if time.time() > deadline:
            raise AssertionError("no %r within %d s; got %r" % (
                pattern, wait, got))
        time.sleep(0.1)


def test_delivery_shows_in_other_session(server):
    deliver(server, make_message("first"))
    with login(server) as a:
        a.select()
        deliver(server, make_message("second"))
        got = news_until(a, rb"\* 2 EXISTS$")
        assert not [r for r in got if b"EXPUNGE" in r], got
        items, _ = a.fetch("2 BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
        assert items[2]["BODY[HEADER.FIELDS (SUBJECT)]"] == \
            b"Subject: second\r\n\r\n"
        # UIDNEXT moved on: SELECT again agrees.
        info = select_info(a.select())
        assert info["EXISTS"] == 2


def test_flags_and_expunge_show_in_other_session(server):
    deliver(server, make_message("f0"))
    with login(server) as a, login(server) as b:
        a.append("INBOX", make_message("f1"))
        a.append("INBOX", make_message("f2"))
        a.select()
        b.select()
        items, _ = a.fetch("1:* UID")
        uids = [items[i]["UID"] for i in (1, 2, 3)]
        a.ok("STORE 2 +FLAGS.SILENT (\\Flagged $Shared)")
        got = news_until(b, rb"\* 2 FETCH ")
        items, _ = fetches(got)
        assert flags_of(items[2]) == {"\\Flagged", "$Shared"}, got
        # The unsolicited FETCH carries the UID (RFC 9051 7.5.2 asks it of
        # servers that know the client is using UIDs; harmless always).
        assert items[2].get("UID", uids[1]) == uids[1]
        # An expunge in one shows up as EXPUNGE in the other.
        a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        a.ok("EXPUNGE")
        got = news_until(b, rb"\* 1 EXPUNGE$")
        items, _ = b.fetch("1:* UID")
        assert [items[i]["UID"] for i in sorted(items)] == uids[1:]
        # FETCH, STORE and SEARCH never bring an EXPUNGE (RFC 3501 7.4.1),
        # so sequence numbers stay put while they run.
        a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        a.ok("EXPUNGE")
        deadline = time.time() + NEWS_WAIT
        while True:
            untagged = b.ok("FETCH 1:* UID")
            assert not [r for r in untagged if b"EXPUNGE" in r], untagged
            untagged += b.ok("SEARCH ALL")
            assert not [r for r in untagged if b"EXPUNGE" in r], untagged
            if b.ok("STATUS INBOX (MESSAGES)") == [
                    b"* STATUS INBOX (MESSAGES 1)"]:
                break
            assert time.time() < deadline
        # Message 2 is gone meanwhile: what its FETCH says of it is up
        # to the server (RFC 2180 4.1), but message 1 is still 1.
        untagged, tagged = b.cmd("FETCH 1:* UID")
        items, _ = fetches(untagged)
        assert items[1]["UID"] == uids[1], untagged
        assert items.get(2, {}).get("UID", uids[2]) == uids[2], untagged
        got = news_until(b, rb"\* 2 EXPUNGE$")
        items, _ = b.fetch("1:* UID")
        assert [items[i]["UID"] for i in sorted(items)] == [uids[1]]


def idle_start(c):
    tag = c.tag()
    c.send(tag + " IDLE\r\n")
    r = c.response()
    assert r.startswith(b"+ "), r
    return tag


def idle_done(c, tag):
    c.send("DONE\r\n")
    return c.until(tag)


def test_idle_sees_delivery(server):
    deliver(server, make_message("before"))
    with login(server) as c:
        c.select()
        tag = idle_start(c)
        deliver(server, make_message("during"))
        got = wait_for(c, rb"\* 2 EXISTS$")
        assert not [r for r in got if r.startswith(c.tag()[:1].encode())
                    and not r.startswith(b"*")], got
        untagged, tagged = idle_done(c, tag)
        assert tagged.startswith(tag.encode() + b" OK"), tagged
        # A second IDLE, and two deliveries.
        tag = idle_start(c)
        deliver(server, make_message("d2"), make_message("d3"))
        wait_for(c, rb"\* 4 EXISTS$")
        untagged, tagged = idle_done(c, tag)
        assert tagged.startswith(tag.encode() + b" OK"), tagged
        items, _ = c.fetch("3:4 BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
        assert [items[i]["BODY[HEADER.FIELDS (SUBJECT)]"] for i in (3, 4)] \
            == [b"Subject: d2\r\n\r\n", b"Subject: d3\r\n\r\n"]


def test_idle_sees_append_move_and_flags(server):
    deliver(server, make_message("i0"))
    with login(server) as idler, login(server) as other:
        other.append("INBOX", make_message("i1"))
        idler.select()
        items, _ = idler.fetch("1:* UID")
        uids = [items[1]["UID"], items[2]["UID"]]
        tag = idle_start(idler)
        other.append("INBOX", make_message("appended"))
        wait_for(idler, rb"\* 3 EXISTS$")
        # A MOVE by the other session into the idler's mailbox.
        other.append("Archive", make_message("to-move"))
        other.select("Archive")
        other.ok("MOVE 1 INBOX")
        wait_for(idler, rb"\* 4 EXISTS$")
        # A MOVE out of it: EXPUNGE.
        other.select()
        other.ok("UID MOVE %d Trash" % uids[0])
        got = wait_for(idler, rb"\* 1 EXPUNGE$")
        # A flag change: FETCH.
        other.ok("STORE 1 +FLAGS.SILENT (\\Answered)")
        got = wait_for(idler, rb"\* 1 FETCH ")
        items, _ = fetches([got[-1]])
        assert "\\Answered" in flags_of(items[1]), got
        untagged, tagged = idle_done(idler, tag)
        assert tagged.startswith(tag.encode() + b" OK"), tagged
        items, _ = idler.fetch("1:* UID")
        assert len(items) == 3 and items[1]["UID"] == uids[1], items


def test_idle_sees_pop3_deletion(server):
    deliver(server, make_message("p1"), make_message("p2"))
    with login(server) as c:
        c.select()
        tag = idle_start(c)
        with pop3_login_wait(server.pop3_port, ALICE) as p:
            assert p.pop("DELE 1").startswith("+OK")
            quit_and_close(p)
        got = wait_for(c, rb"\* 1 EXPUNGE$")
        deliver(server, make_message("p3"))
        got += wait_for(c, rb"\* 2 EXISTS$")
        untagged, tagged = idle_done(c, tag)
        assert tagged.startswith(tag.encode() + b" OK"), tagged
        items, _ = c.fetch("1:* BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
        assert [items[i]["BODY[HEADER.FIELDS (SUBJECT)]"] for i in (1, 2)] \
            == [b"Subject: p2\r\n\r\n", b"Subject: p3\r\n\r\n"]


def test_idle_in_authenticated_state_and_bad_done(server):
    with login(server) as c:
        # IDLE without a mailbox: allowed, ends with DONE.
        tag = idle_start(c)
        _, tagged = idle_done(c, tag)
        assert tagged.startswith(tag.encode() + b" OK"), tagged
        c.select()
        # Anything but DONE ends IDLE with BAD (RFC 2177 3).
        tag = idle_start(c)
        c.send("NOOP\r\n")
        _, tagged = c.until(tag)
        assert tagged.startswith(tag.encode() + b" BAD"), tagged
        c.ok("NOOP")
        # "done" in any case.
        tag = idle_start(c)
        c.send("done\r\n")
        _, tagged = c.until(tag)
        assert tagged.startswith(tag.encode() + b" OK"), tagged


def test_idle_on_an_account_without_mail(server):
    """A new account's first session: the store's news must reach it too,
    though no mail was ever stored for the account when it logged in."""
    with login(server) as c, login(server) as other:
        c.select()
        tag = idle_start(c)
        deliver(server, make_message("first ever"))
        wait_for(c, rb"\* 1 EXISTS$")
        other.select()
        other.ok("STORE 1 +FLAGS.SILENT (\\Flagged)")
        wait_for(c, rb"\* 1 FETCH ")
        _, tagged = idle_done(c, tag)
        assert tagged.startswith(tag.encode() + b" OK"), tagged


# ---- hostile input ----

def still_serving(srv):
    """Another client logs in, selects and fetches: the server is fine."""
    with login(srv) as c:
        if select_info(c.select())["EXISTS"]:
            c.ok("FETCH 1:* (FLAGS)")
        c.ok("NOOP")
        c.ok("LOGOUT")


def test_long_line(server):
    with Imap(server.imap_port) as c:
        c.login()
        c.send(b"a1 NOOP " + b"x" * (100 * 1024) + b"\r\n")
        r = c.response()
        assert r.startswith(b"* BAD") and b"too long" in r.lower(), r
        # The rest of the long line is skipped, not taken as commands.
        untagged = c.ok("NOOP")
        assert untagged == [], untagged
        c.select()
        # A long line of a literal's announcement is no different.
        c.send(b"a2 LOGIN " + b"y" * (100 * 1024) + b" {5}\r\n")
        r = c.response()
        assert r.startswith(b"* BAD") and b"too long" in r.lower(), r
        c.ok("NOOP")
    still_serving(server)


def test_huge_literal_announcements(server):
    with Imap(server.imap_port) as c:
        c.login()
        # Synchronizing: NO at once, no "+" (the client never sends it).
        for cmd in (b"a1 LOGIN {99999999999}",
                    b"a2 APPEND INBOX {99999999999}",
                    b"a3 SELECT {300000}", b"a4 APPEND INBOX {26214401}"):
            c.send(cmd + b"\r\n")
            tag = cmd.split()[0]
            r = c.response()
            assert r.startswith(tag + b" NO [TOOBIG]") or \
                r.startswith(tag + b" BAD"), (cmd, r)
        c.ok("NOOP")
        c.select()
    with Imap(server.imap_port) as c:
        c.login()
        # A number past 64 bits: refused, whatever else.
        c.send(b"a1 APPEND INBOX {184467440737095516160}\r\n")
        r = c.response()
        assert re.match(rb"(a1|\*) (NO|BAD)\b", r), r
    with Imap(server.imap_port) as c:
        c.login()
        # Non-synchronizing: the bytes are on their way: BAD and BYE,
        # without reading 100 GB first.
        c.send(b"a1 APPEND INBOX {99999999999+}\r\n" + b"z" * 65536)
        r = c.response()
        assert r.startswith(b"a1 BAD"), r
        assert c.response().startswith(b"* BYE")
        assert c.at_eof()
    still_serving(server)


def test_no_large_literal_before_login(server):
    """Limits are tighter before authentication: an APPEND's message
    literal is not taken (and spooled) for a client that has not logged
    in."""
    with Imap(server.imap_port) as c:
        c.send(b"a1 APPEND INBOX {1000000}\r\n")
        r = c.response()
        assert not r.startswith(b"+"), r
        assert re.match(rb"a1 (NO|BAD)\b", r), r
        c.login()
    with Imap(server.imap_port) as c:
        c.send(b"a1 APPEND INBOX {1000000+}\r\n" + b"z" * 1000 + b"\r\n")
        r = c.response()
        assert re.match(rb"(a1|\*) (NO|BAD)\b", r), r
    still_serving(server)


def test_garbage(server):
    rnd = random.Random(7)
    with Imap(server.imap_port) as c:
        c.login()
        c.select()
        for junk in (b"\x00\x01\x02\xff\xfe\r\n", b"a1 FETCH 1 (\x00)\r\n",
                     b"((((((((((((\r\n",
                     b"a2 SEARCH " + b"(" * 5000 + b"\r\n",
                     b"a3 SEARCH " + b"NOT " * 5000 + b"ALL\r\n",
                     b"a4 LIST \"\" \"" + b"%*" * 400 + b"\"\r\n",
                     b"a5 STATUS INBOX (" + b"MESSAGES " * 2000 + b")\r\n",
                     b"a6 FETCH 1:4294967295,0,*:* "
                     b"BODY[1.2.3.4.5.6.7.8.9]\r\n",
                     b"a7 FETCH 1 BODY[HEADER.FIELDS ()]\r\n",
                     b"\xc3\x28 \xe2\x82 bad utf8\r\n"):
            c.send(junk)
            r = c.response()
            while r.startswith(b"* ") and not r.startswith(b"* BAD"):
                r = c.response()
            assert re.match(rb"(\*|a\d) (BAD|NO|OK)\b", r), (junk[:40], r)
        c.ok("NOOP")
    # Random bytes (no "{", so no literal to wait for), then LOGOUT: the
    # server closes, after too many errors or at the LOGOUT.
    for seed in range(3):
        with Imap(server.imap_port) as c:
            blob = bytes(rnd.choice(range(256)) for _ in range(20000))
            blob = blob.replace(b"{", b"(")
            try:
                c.send(blob + b"\r\nz LOGOUT\r\n")
            except (ConnectionResetError, BrokenPipeError):
                continue
            assert c.closes(), "session %d still open" % seed
    still_serving(server)


def test_disconnect_mid_literal_and_mid_fetch(server):
    big = big_message("big-for-fetch", 3 * 1024 * 1024)
    deliver(server, big)
    # Mid-literal of a command.
    c = Imap(server.imap_port)
    c.send(b"a1 LOGIN {100}\r\n")
    assert c.response().startswith(b"+")
    c.send(b"x" * 10)
    c.close()
    # Mid-APPEND, in memory and spooled.
    for size in (50000, 2 * 1024 * 1024):
        c = login(server)
        c.send(b"a1 APPEND INBOX {%d+}\r\n" % size + b"y" * (size // 2))
        c.close()
    # Mid-FETCH: the answer is bigger than what the socket buffers hold.
    c = Imap(server.imap_port, rcvbuf=4096).login()
    c.select()
    c.send(b"a1 FETCH 1 BODY.PEEK[]\r\n")
    c.read(1000)
    c.close()
    # Mid-IDLE.
    c = login(server)
    c.select()
    idle_start(c)
    c.close()
    # The others are served, and nothing half-sent was stored.
    with login(server) as c:
        assert select_info(c.select())["EXISTS"] == 1
        items, _ = c.fetch("1 BODY.PEEK[]")
        assert body_of(items[1]["BODY[]"]) == big
    deliver(server, make_message("after"))
    still_serving(server)


def test_fetch_while_another_session_expunges_keeps_every_item(server):
    """A message expunged by another session while a FETCH reads it
    (RFC 2180 4.1): every item of the response still has a value (NIL or
    an empty one for a message gone), never a name with nothing after
    it.  Dovecot's imaptest saw `BODY[HEADER.FIELDS (Message-ID)] )`."""
    with login(server) as a, login(server) as b:
        fill(a, 120, size=3000)
        a.select()
        b.select()
        stop = time.time() + 20
        for round_ in range(6):
            # b takes messages away a few at a time while a reads them
            # all; sequence numbers in a stay put during its FETCH.
            tag = b.tag()
            b.send(("%s STORE %d:%d +FLAGS.SILENT (\\Deleted)\r\n"
                    "%sx EXPUNGE\r\n" % (tag, 1 + round_ * 3,
                                         10 + round_ * 3, tag)).encode())
            untagged = a.ok("FETCH 1:* (ENVELOPE BODY.PEEK[HEADER.FIELDS "
                            "(Subject Message-ID)] BINARY.SIZE[1] "
                            "PREVIEW BODYSTRUCTURE RFC822.SIZE)")
            items, _ = fetches(untagged)   # asserts name/value pairs
            for seq, d in items.items():
                hdr = d["BODY[HEADER.FIELDS (SUBJECT MESSAGE-ID)]"]
                assert hdr is None or isinstance(hdr, bytes), (seq, d)
                assert isinstance(d["ENVELOPE"], list), (seq, d)
                assert isinstance(d["BODYSTRUCTURE"], list), (seq, d)
            b.until(tag)
            b.until(tag + "x")
            a.ok("NOOP")
            assert time.time() < stop
