"""POP3 (RFC 1939, RFC 2449 CAPA and response codes, RFC 5034 SASL) as a
mail client sees it: poplib where it can say it, raw sockets where the
bytes on the wire matter, against the real server."""

import base64
import poplib
import os
import re
import socket
import sys
import subprocess
import time

import pytest

from conftest import (PASSWORD, Client, body_of, make_message,
                      pop3_fetch_wait, pop3_login, pop3_login_wait,
                      quit_and_close, smtp_send)

ALICE = "alice@example.com"


# ---- helpers ----

def deliver(srv, *msgs, rcpt=ALICE):
    for m in msgs:
        code, text = smtp_send(srv.smtp_port, rcpt, m)
        assert code == 250, text


def popclient(srv, user=ALICE, password=PASSWORD):
    """A logged-in poplib client; a maildrop still [IN-USE] by a session
    that has just ended is given a few seconds."""
    deadline = time.time() + 5
    while True:
        p = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=30)
        p.user(user)
        try:
            p.pass_(password)
            return p
        except poplib.error_proto as e:
            p.close()
            if b"[IN-USE]" not in e.args[0] or time.time() > deadline:
                raise
        time.sleep(0.05)


def raw_multi(c):
    """The raw bytes of a multi-line reply's body up to and including the
    terminating ".\\r\\n" line, still dot-stuffed."""
    out = b""
    while True:
        line = c.line() + b"\r\n"
        out += line
        if line == b".\r\n":
            return out


def stat(srv, user=ALICE):
    with pop3_login_wait(srv.pop3_port, user) as c:
        line = c.pop("STAT")
        quit_and_close(c)
    m = re.fullmatch(r"\+OK (\d+) (\d+)", line)
    assert m, line
    return int(m.group(1)), int(m.group(2))


# ---- greeting and CAPA ----

def test_greeting_and_capa(server):
    with Client(server.pop3_port) as c:
        assert c.line().startswith(b"+OK")
        assert c.pop("CAPA").startswith("+OK")
        raw = raw_multi(c)
        caps = raw.decode().split("\r\n")[:-2]
        for cap in ("USER", "TOP", "UIDL", "PIPELINING", "RESP-CODES",
                    "AUTH-RESP-CODE"):
            assert cap in caps, caps
        sasl = [c for c in caps if c.startswith("SASL ")]
        assert len(sasl) == 1 and "PLAIN" in sasl[0].split()[1:], caps
        assert c.pop("NOOP").startswith("-ERR")  # not logged in yet
        assert c.pop("QUIT").startswith("+OK")
        assert c.at_eof()
    p = poplib.POP3("127.0.0.1", server.pop3_port, timeout=30)
    assert "PIPELINING" in p.capa()
    p.quit()


# ---- the transaction commands ----

def test_transaction_commands(server):
    msgs = [make_message("m%d" % i, body=b"body %d\r\n" % i * (i + 1))
            for i in range(3)]
    deliver(server, *msgs)
    p = popclient(server)
    try:
        count, total = p.stat()
        assert count == 3
        resp, listing, _ = p.list()
        assert resp.startswith(b"+OK")
        sizes = {}
        for line in listing:
            n, size = line.split()
            sizes[int(n)] = int(size)
        assert sorted(sizes) == [1, 2, 3]
        assert sum(sizes.values()) == total
        assert p.list(2) == b"+OK 2 %d" % sizes[2]
        resp, uids, _ = p.uidl()
        uidmap = dict(l.split() for l in uids)
        assert sorted(uidmap) == [b"1", b"2", b"3"]
        assert len(set(uidmap.values())) == 3
        for uid in uidmap.values():
            assert 1 <= len(uid) <= 70 and all(0x21 <= b <= 0x7e for b in uid)
        assert p.uidl(3) == b"+OK 3 " + uidmap[b"3"]
        for i, msg in enumerate(msgs, 1):
            resp, lines, _ = p.retr(i)
            assert resp.startswith(b"+OK")
            stored = b"\r\n".join(lines) + b"\r\n"
            # LIST gives the exact size of what RETR sends.
            assert len(stored) == sizes[i]
            assert body_of(stored) == msg
        assert p.noop().startswith(b"+OK")
        with pytest.raises(poplib.error_proto, match=r"-ERR"):
            p.retr(4)
        with pytest.raises(poplib.error_proto, match=r"-ERR"):
            p.list(99)
        with pytest.raises(poplib.error_proto, match=r"-ERR"):
            p.dele(4)
    finally:
        assert p.quit().startswith(b"+OK")
    # Reading is not deleting.
    assert stat(server)[0] == 3


def test_multiline_replies_end_with_dot_line(server):
    deliver(server, make_message("one"), make_message("two"))
    with pop3_login_wait(server.pop3_port, ALICE) as c:
        for cmd in ("CAPA", "LIST", "UIDL", "RETR 1", "TOP 2 0", "RETR 2"):
            line = c.pop(cmd)
            assert line.startswith("+OK"), (cmd, line)
            raw = raw_multi(c)
            assert raw.endswith(b"\r\n.\r\n"), (cmd, raw[-20:])
            # Nothing after the terminator: the next reply is NOOP's.
            assert c.pop("NOOP") == "+OK", cmd
        # Single-line forms are single lines.
        assert re.fullmatch(r"\+OK 1 \d+", c.pop("LIST 1"))
        assert re.fullmatch(r"\+OK 2 \S+", c.pop("UIDL 2"))
        assert c.pop("NOOP") == "+OK"
        assert c.pop("QUIT").startswith("+OK")


def test_retr_dot_stuffing(server):
    body = (b".\r\n..\r\n.leading\r\nnot.leading\r\n .space\r\n"
            b"...three\r\nend\r\n")
    msg = make_message("dots", body=body)
    deliver(server, msg)
    with pop3_login_wait(server.pop3_port, ALICE) as c:
        assert c.pop("RETR 1").startswith("+OK")
        raw = raw_multi(c)
    assert raw.endswith(b"\r\n..\r\n...\r\n..leading\r\nnot.leading\r\n"
                        b" .space\r\n....three\r\nend\r\n.\r\n")
    p = popclient(server)
    _, lines, _ = p.retr(1)
    p.quit()
    assert lines[-7:] == [b".", b"..", b".leading", b"not.leading",
                          b" .space", b"...three", b"end"]
    assert body_of(b"\r\n".join(lines) + b"\r\n") == msg


def test_retr_message_without_final_newline(server):
    msg = make_message("nonl", body=b"line\r\n.last line, no CRLF")
    with Client(server.smtp_port) as c:
        c.reply()
        c.cmd("EHLO client.test")
        assert c.cmd("MAIL FROM:<sender@example.org>")[0] == 250
        assert c.cmd("RCPT TO:<%s>" % ALICE)[0] == 250
        c.send(b"BDAT %d LAST\r\n" % len(msg) + msg)
        assert c.reply()[0] == 250
    with pop3_login_wait(server.pop3_port, ALICE) as c:
        size = int(c.pop("LIST 1").split()[2])
        line = c.pop("RETR 1")
        assert line == "+OK %d octets" % size or line.startswith("+OK")
        raw = raw_multi(c)
        # The server ends the last line itself before the terminator.
        assert raw.endswith(b"\r\nline\r\n..last line, no CRLF\r\n.\r\n")
        assert c.pop("NOOP") == "+OK"


def test_top(server):
    body = b"b1\r\nb2\r\n.b3\r\nb4\r\nb5\r\n"
    msg = make_message("top", body=body)
    deliver(server, msg, b"Subject: only headers\r\nX-A: 1\r\n")
    p = popclient(server)
    try:
        _, lines, _ = p.retr(1)
        full = b"\r\n".join(lines) + b"\r\n"
        head = full[:full.index(b"\r\n\r\n") + 4]

        def top(n, k):
            _, lines, _ = p.top(n, k)
            return b"\r\n".join(lines) + b"\r\n"

        assert top(1, 0) == head
        assert top(1, 2) == head + b"b1\r\nb2\r\n"
        assert top(1, 3) == head + b"b1\r\nb2\r\n.b3\r\n"
        assert top(1, 5) == full
        assert top(1, 1000) == full
        # No body at all: TOP gives the whole header.
        _, lines, _ = p.retr(2)
        assert top(2, 0) == b"\r\n".join(lines) + b"\r\n"
    finally:
        p.quit()
    with pop3_login_wait(server.pop3_port, ALICE) as c:
        for bad in ("TOP 1", "TOP 1 -1", "TOP 9 0", "TOP 0 1", "TOP x 1"):
            assert c.pop(bad).startswith("-ERR"), bad
        # TOP's body lines are dot-stuffed on the wire too.
        assert c.pop("TOP 1 3").startswith("+OK")
        assert raw_multi(c).endswith(b"\r\n\r\nb1\r\nb2\r\n..b3\r\n.\r\n")


# ---- deletion ----

def test_dele_then_rset_restores(server):
    deliver(server, *[make_message("d%d" % i) for i in range(3)])
    with pop3_login_wait(server.pop3_port, ALICE) as c:
        count, octets = map(int, c.pop("STAT").split()[1:])
        size1 = int(c.pop("LIST 1").split()[2])
        assert c.pop("DELE 1").startswith("+OK")
        assert c.pop("STAT") == "+OK %d %d" % (count - 1, octets - size1)
        assert c.pop("RETR 1").startswith("-ERR")
        assert c.pop("DELE 1").startswith("-ERR")
        assert c.pop("LIST 1").startswith("-ERR")
        assert c.pop("UIDL 1").startswith("-ERR")
        assert c.pop("LIST").startswith("+OK")
        assert [l.split()[0] for l in c.multiline().split(b"\r\n")[:-1]] \
            == [b"2", b"3"]
        assert c.pop("RSET").startswith("+OK")
        assert c.pop("STAT") == "+OK %d %d" % (count, octets)
        assert c.pop("RETR 1").startswith("+OK")
        c.multiline()
        assert c.pop("QUIT").startswith("+OK")
    assert stat(server)[0] == 3


def test_dele_then_quit_removes(server):
    msgs = [make_message("q%d" % i) for i in range(4)]
    deliver(server, *msgs)
    with pop3_login_wait(server.pop3_port, ALICE) as c:
        assert c.pop("DELE 1").startswith("+OK")
        assert c.pop("DELE 3").startswith("+OK")
        # Numbers do not shift within the session.
        assert c.pop("RETR 4").startswith("+OK")
        assert body_of(c.multiline()) == msgs[3]
        assert c.pop("QUIT").startswith("+OK")
        assert c.at_eof()
    left = pop3_fetch_wait(server.pop3_port, ALICE)
    assert [body_of(m) for m in left] == [msgs[1], msgs[3]]


def test_mail_arriving_during_session_survives_quit(server):
    deliver(server, make_message("old1"), make_message("old2"))
    with pop3_login_wait(server.pop3_port, ALICE) as c:
        assert c.pop("DELE 1").startswith("+OK")
        assert c.pop("DELE 2").startswith("+OK")
        # Delivery does not wait for the POP3 session.
        deliver(server, make_message("new"))
        # The session's maildrop is fixed at login.
        assert c.pop("STAT") == "+OK 0 0"
        assert c.pop("RETR 3").startswith("-ERR")
        assert c.pop("QUIT").startswith("+OK")
    [left] = pop3_fetch_wait(server.pop3_port, ALICE)
    assert body_of(left) == make_message("new")


def test_dele_then_drop_keeps_messages(server):
    deliver(server, make_message("k1"), make_message("k2"))
    c = pop3_login_wait(server.pop3_port, ALICE)
    assert c.pop("DELE 1").startswith("+OK")
    assert c.pop("DELE 2").startswith("+OK")
    c.close()  # no QUIT: no UPDATE state
    assert stat(server)[0] == 2


def test_dele_then_autologout_keeps_messages(custom):
    srv = custom("pop3.timeout=2")
    deliver(srv, make_message("t1"))
    with pop3_login_wait(srv.pop3_port, ALICE) as c:
        assert c.pop("DELE 1").startswith("+OK")
        start = time.time()
        c.sock.settimeout(10)
        try:
            while True:
                c.line()  # an -ERR is allowed, then the close
        except (EOFError, ConnectionError):
            pass
        assert time.time() - start < 8
    assert stat(srv)[0] == 1


# ---- the maildrop lock ----

def test_second_session_in_use(server):
    deliver(server, make_message("lock"))
    first = pop3_login_wait(server.pop3_port, ALICE)
    with Client(server.pop3_port) as second:
        second.line()
        assert second.pop("USER " + ALICE).startswith("+OK")
        line = second.pop("PASS " + PASSWORD)
        assert line.startswith("-ERR [IN-USE]"), line
        # SASL login meets the same lock.
        ir = base64.b64encode(b"\0" + ALICE.encode() + b"\0" +
                              PASSWORD.encode()).decode()
        line = second.pop("AUTH PLAIN " + ir)
        assert line.startswith("-ERR [IN-USE]"), line
    # The other user is not affected.
    with pop3_login_wait(server.pop3_port, "bob@example.com") as c:
        assert c.pop("QUIT").startswith("+OK")
    assert first.pop("STAT").startswith("+OK 1 ")
    # QUIT releases the lock before the server closes the connection
    # (RFC 1939 6): once the client sees the close, it can log in again.
    quit_and_close(first)
    first.close()
    with pop3_login(server.pop3_port, ALICE) as c:
        assert c.pop("STAT").startswith("+OK 1 ")
        quit_and_close(c)


# ---- UIDL ----

def uidl_map(srv):
    with pop3_login_wait(srv.pop3_port, ALICE) as c:
        assert c.pop("UIDL").startswith("+OK")
        lines = c.multiline().split(b"\r\n")[:-1]
        out = {}
        for n in range(1, len(lines) + 1):
            assert c.pop("RETR %d" % n).startswith("+OK")
            subject = re.search(rb"Subject: (\S+)", c.multiline()).group(1)
            out[subject] = lines[n - 1].split()[1]
        assert c.pop("QUIT").startswith("+OK")
    return out


def test_uidl_stable(server):
    deliver(server, *[make_message("u%d" % i) for i in range(4)])
    before = uidl_map(server)
    assert len(set(before.values())) == 4
    with pop3_login_wait(server.pop3_port, ALICE) as c:
        assert c.pop("DELE 2").startswith("+OK")
        assert c.pop("QUIT").startswith("+OK")
    after = uidl_map(server)
    assert after == {k: v for k, v in before.items() if k != b"u1"}
    deliver(server, make_message("u4"))
    more = uidl_map(server)
    # A new message gets a new unique-id, never a deleted one's.
    assert more[b"u4"] not in before.values()
    rc = server.stop()
    assert rc == 0, server.log()[-3000:]
    server.start()
    assert uidl_map(server) == more


# ---- pipelining (RFC 2449) ----

def test_pipelined_commands(server):
    msgs = [make_message("p%d" % i) for i in range(2)]
    deliver(server, *msgs)
    with Client(server.pop3_port) as c:
        assert c.line().startswith(b"+OK")
        c.send("USER %s\r\nPASS %s\r\nSTAT\r\nLIST\r\nRETR 1\r\nUIDL 2\r\n"
               "DELE 1\r\nRETR 1\r\nTOP 2 0\r\nNOOP\r\nRSET\r\nSTAT\r\n"
               "QUIT\r\n" % (ALICE, PASSWORD))
        assert c.line().startswith(b"+OK")          # USER
        assert c.line().startswith(b"+OK")          # PASS
        assert c.line().startswith(b"+OK 2 ")       # STAT
        assert c.line().startswith(b"+OK")          # LIST
        assert len(c.multiline().split(b"\r\n")) == 3
        assert c.line().startswith(b"+OK")          # RETR 1
        assert body_of(c.multiline()) == msgs[0]
        assert re.fullmatch(rb"\+OK 2 \S+", c.line())   # UIDL 2
        assert c.line().startswith(b"+OK")          # DELE 1
        assert c.line().startswith(b"-ERR")         # RETR 1
        assert c.line().startswith(b"+OK")          # TOP 2 0
        assert c.multiline().endswith(b"\r\n\r\n")
        assert c.line() == b"+OK"                   # NOOP
        assert c.line().startswith(b"+OK")          # RSET
        assert c.line().startswith(b"+OK 2 ")       # STAT
        assert c.line().startswith(b"+OK")          # QUIT
        assert c.at_eof()


# ---- authentication ----

def test_bad_password_and_unknown_user_look_the_same(server):
    replies = []
    for user, password in [(ALICE, "wrong"), ("nobody@example.com", "wrong"),
                           ("nobody@remote.test", PASSWORD),
                           ("not-an-address", PASSWORD)]:
        with Client(server.pop3_port) as c:
            c.line()
            user_reply = c.pop("USER " + user)
            assert user_reply.startswith("+OK"), user_reply
            replies.append((user_reply, c.pop("PASS " + password)))
            # The session goes on: a right login still works.
            assert c.pop("USER " + ALICE).startswith("+OK")
            assert c.pop("PASS " + PASSWORD).startswith("+OK")
            assert c.pop("QUIT").startswith("+OK")
    assert len(set(replies)) == 1, replies
    assert replies[0][1].startswith("-ERR [AUTH]"), replies
    p = poplib.POP3("127.0.0.1", server.pop3_port, timeout=30)
    p.user(ALICE)
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\]"):
        p.pass_("wrong")
    p.quit()


def plain(authz, authc, password):
    return base64.b64encode(b"%s\0%s\0%s" % (
        authz.encode(), authc.encode(), password.encode())).decode()


def test_auth_plain_initial_response(server):
    deliver(server, make_message("sasl"))
    with Client(server.pop3_port) as c:
        c.line()
        assert c.pop("AUTH PLAIN " + plain("", ALICE, PASSWORD)) \
            .startswith("+OK")
        assert c.pop("STAT").startswith("+OK 1 ")
        assert c.pop("QUIT").startswith("+OK")
    with Client(server.pop3_port) as c:
        c.line()
        # authzid equal to authcid is fine.
        assert c.pop("auth plain " + plain(ALICE, ALICE, PASSWORD)) \
            .startswith("+OK")
        assert c.pop("QUIT").startswith("+OK")


def test_auth_plain_continuation(server):
    with Client(server.pop3_port) as c:
        c.line()
        assert c.pop("AUTH PLAIN") == "+ "
        c.send(plain("", ALICE, PASSWORD) + "\r\n")
        assert c.line().startswith(b"+OK")
        assert c.pop("STAT") == "+OK 0 0"
        assert c.pop("QUIT").startswith("+OK")


def test_auth_plain_cancel_and_failures(server):
    with Client(server.pop3_port) as c:
        c.line()
        assert c.pop("AUTH PLAIN") == "+ "
        line = c.pop("*")
        assert line.startswith("-ERR"), line
        # Still in AUTHORIZATION, and not confused: plain commands work.
        assert c.pop("STAT").startswith("-ERR")
        for bad in [plain("", ALICE, "wrong"), plain("bob@example.com", ALICE,
                                                      PASSWORD)]:
            line = c.pop("AUTH PLAIN " + bad)
            assert line.startswith("-ERR [AUTH]"), (bad, line)
        # Malformed: a protocol error, not a failed login.
        for bad in ["not-base64!", base64.b64encode(b"no nuls").decode()]:
            line = c.pop("AUTH PLAIN " + bad)
            assert line == "-ERR Malformed authentication response", line
        assert c.pop("AUTH PLAIN") == "+ "
        c.send(plain("", ALICE, "wrong") + "\r\n")
        assert c.line().startswith(b"-ERR [AUTH]")
        line = c.pop("AUTH CRAM-MD5")
        assert line.startswith("-ERR"), line
        assert c.pop("AUTH").startswith("+OK")
        assert b"PLAIN" in c.multiline().split(b"\r\n")
        assert c.pop("USER " + ALICE).startswith("+OK")
        assert c.pop("PASS " + PASSWORD).startswith("+OK")
        assert c.pop("QUIT").startswith("+OK")


def test_commands_in_wrong_state(server):
    deliver(server, make_message("state"))
    with Client(server.pop3_port) as c:
        c.line()
        for cmd in ("STAT", "LIST", "UIDL", "RETR 1", "TOP 1 0", "DELE 1",
                    "RSET", "NOOP"):
            assert c.pop(cmd).startswith("-ERR"), cmd
        assert c.pop("QUIT").startswith("+OK")
        assert c.at_eof()
    with Client(server.pop3_port) as c:
        c.line()
        assert c.pop("PASS " + PASSWORD).startswith("-ERR")  # no USER
        assert c.pop("FROB").startswith("-ERR")
        assert c.pop("USER " + ALICE).startswith("+OK")
        assert c.pop("PASS " + PASSWORD).startswith("+OK")
        assert c.pop("QUIT").startswith("+OK")
    with pop3_login_wait(server.pop3_port, ALICE) as c:
        for cmd in ("USER " + ALICE, "PASS " + PASSWORD,
                    "AUTH PLAIN " + plain("", ALICE, PASSWORD),
                    "RETR", "RETR x", "RETR 0", "RETR 1 2", "FROB"):
            assert c.pop(cmd).startswith("-ERR"), cmd
        assert c.pop("STAT").startswith("+OK 1 ")
        assert c.pop("QUIT").startswith("+OK")


def test_too_many_errors_closes(server):
    with Client(server.pop3_port) as c:
        c.line()
        c.send("FROB\r\n" * 10)
        lines = []
        try:
            while True:
                lines.append(c.line())
        except (EOFError, ConnectionError):
            pass
        assert len(lines) >= 10 and all(l.startswith(b"-ERR") for l in lines)


# ---- a big message ----

def test_large_message_retr_byte_exact(server):
    lines = []
    for i in range(2 * 1024 * 1024 // 76 + 1):
        text = b"%07d " % i + bytes([0x41 + i % 26]) * 66
        lines.append((b"." + text if i % 7 == 0 else text) + b"\r\n")
    msg = make_message("big", body=b"".join(lines))
    deliver(server, msg)
    with pop3_login_wait(server.pop3_port, ALICE) as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        size = int(c.pop("LIST 1").split()[2])
        # RETR and a pipelined NOOP after it; read the message slowly so
        # the server has to wait for the client.
        c.send("RETR 1\r\nNOOP\r\n")
        time.sleep(0.5)
        assert c.line().startswith(b"+OK")
        wire = raw_multi(c)[:-3]
        assert c.line() == b"+OK"  # NOOP
        assert wire.count(b"\r\n..") == sum(1 for l in lines
                                             if l.startswith(b"."))
        stored = wire.replace(b"\r\n..", b"\r\n.")
        assert len(stored) == size
        assert body_of(stored) == msg
        assert c.pop("QUIT").startswith("+OK")
    p = popclient(server)
    _, got, _ = p.retr(1)
    p.quit()
    assert body_of(b"\r\n".join(got) + b"\r\n") == msg


def test_clients_vanishing_mid_session(server):
    """Clients that drop the connection during a login, mid-RETR of a big
    message or mid-pipeline: the server keeps serving, locks are freed,
    nothing is deleted."""
    deliver(server, make_message("vbig", body=b"v" * 76 + b"\r\n") * 1,
            make_message("vbig2", body=(b"w" * 998 + b"\r\n") * 3000))
    login = "USER %s\r\nPASS %s\r\n" % (ALICE, PASSWORD)
    for data in ["USER " + ALICE + "\r\nPASS " + PASSWORD + "\r\n",
                 login + "RETR 2\r\n",
                 login + "RETR 2\r\nRETR 1\r\nTOP 2 5\r\nDELE 1\r\n",
                 "AUTH PLAIN\r\n", "CAPA\r\nUSER " + "x" * 3000]:
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", server.pop3_port))
            s.sendall(data.encode())
            if "RETR" in data:
                s.recv(1000)
            s.close()
    assert stat(server)[0] == 2


# ---- plaintext policy ----

def test_insecure_auth_refused(custom):
    srv = custom("auth.allow_insecure=no")
    with Client(srv.pop3_port) as c:
        c.line()
        assert c.pop("CAPA").startswith("+OK")
        caps = c.multiline().decode().split("\r\n")
        assert "USER" not in caps, caps
        assert not any(cap.startswith("SASL") for cap in caps), caps
        for cmd in ("USER " + ALICE, "PASS " + PASSWORD,
                    "AUTH PLAIN " + plain("", ALICE, PASSWORD), "AUTH PLAIN"):
            line = c.pop(cmd)
            assert line.startswith("-ERR"), (cmd, line)
        assert c.pop("AUTH").startswith("+OK")
        assert b"PLAIN" not in c.multiline().split(b"\r\n")
        assert c.pop("STAT").startswith("-ERR")
        assert c.pop("QUIT").startswith("+OK")


class Netns:
    """A network namespace of our own joined to this one by a veth pair:
    the server listens on HOST_ADDR, a client in the namespace connects
    from PEER_ADDR, so the server sees a client that is not on loopback."""
    HOST_ADDR, PEER_ADDR = "10.231.77.1", "10.231.77.2"

    def __init__(self):
        tag = "%d" % (os.getpid() % 100000)
        self.ns, self.veth = "phtest" + tag, "phv" + tag

    def ip(self, *args):
        subprocess.run(["ip"] + list(args), check=True, capture_output=True)

    def __enter__(self):
        self.ip("netns", "add", self.ns)
        try:
            self.ip("link", "add", self.veth, "type", "veth", "peer", "name",
                    self.veth + "p")
            self.ip("link", "set", self.veth + "p", "netns", self.ns)
            self.ip("addr", "add", self.HOST_ADDR + "/30", "dev", self.veth)
            self.ip("link", "set", self.veth, "up")
            self.ip("-n", self.ns, "addr", "add", self.PEER_ADDR + "/30",
                    "dev", self.veth + "p")
            self.ip("-n", self.ns, "link", "set", self.veth + "p", "up")
        except Exception:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        subprocess.run(["ip", "link", "del", self.veth], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)

    def pop3(self, port, script):
        """Run a POP3 dialogue from inside the namespace; returns the
        server's replies, one per command, plus the greeting."""
        code = (
            "import socket,sys\n"
            "s=socket.create_connection((%r,%d),10)\n"
            "f=s.makefile('rb')\n"
            "out=[f.readline()]\n"
            "for cmd in sys.argv[1:]:\n"
            "    s.sendall(cmd.encode()+b'\\r\\n')\n"
            "    line=f.readline(); out.append(line)\n"
            "    if cmd=='CAPA' and line.startswith(b'+OK'):\n"
            "        while True:\n"
            "            l=f.readline(); out[-1]+=l\n"
            "            if l==b'.\\r\\n': break\n"
            "sys.stdout.write(repr(out))\n") % (self.HOST_ADDR, port)
        r = subprocess.run(["ip", "netns", "exec", self.ns, sys.executable,
                            "-c", code] + script, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return [b.decode() for b in eval(r.stdout)]


def test_plaintext_from_loopback_only_by_default(custom):
    with Netns() as ns:
        def listen_both(srv):
            srv.sets.append("listen.pop3=127.0.0.1:%d,%s:%d" % (
                srv.pop3_port, ns.HOST_ADDR, srv.pop3_port))

        for policy, remote_ok in [("loopback", False), ("yes", True)]:
            srv = custom("auth.allow_insecure=" + policy,
                         before_start=listen_both)
            out = ns.pop3(srv.pop3_port, ["CAPA", "USER " + ALICE,
                                          "PASS " + PASSWORD, "QUIT"])
            greeting, capa, user, pw, quit = out
            assert greeting.startswith("+OK")
            caps = capa.split("\r\n")
            assert ("USER" in caps) == remote_ok, (policy, caps)
            assert user.startswith("+OK" if remote_ok else "-ERR"), user
            assert pw.startswith("+OK" if remote_ok else "-ERR"), pw
            assert quit.startswith("+OK")
            assert re.search(r"client=%s" % re.escape(ns.PEER_ADDR),
                             srv.log())
            # Loopback clients may log in under either policy.
            assert pop3_fetch_wait(srv.pop3_port, ALICE) == []
            srv.stop()


def test_bare_lf_dot_line_cannot_end_retr(server):
    """A stored message may hold a bare-LF "." line (what an SMTP
    smuggling attempt leaves).  Clients such as poplib take LF as a line
    end, so unless the server stuffs that dot (or sends the LF as CRLF)
    the sender ends RETR early and injects POP3 replies of his own."""
    deliver(server, make_message("inject",
                                 body=b"hello\n.\n+OK 1 1\r\nmore\r\n"))
    p = popclient(server)
    try:
        _, lines, _ = p.retr(1)
        assert lines[-1] == b"more", lines[-3:]
        assert p.noop() == b"+OK"
        assert p.stat()[0] == 1
    finally:
        p.close()


def test_one_at_a_time_in_order_with_skips(server):
    """A client that fetches one message at a time is answered from what
    the server read ahead; whatever it skips, deletes or asks for out of
    order, every answer is the right message, byte for byte."""
    sizes = [300, 5000, 40000, 10, 31000, 70000, 2000, 33000, 100, 900,
             64000, 1200, 25000, 3, 8000, 16000, 500, 700, 30000, 50]
    sent = []
    for i, n in enumerate(sizes):
        text = bytes((65 + (k * 7 + i) % 26) for k in range(n))
        lines = [text[j:j + 70] for j in range(0, n, 70)]
        body = (b".dot %d\r\n" % i) + b"\r\n".join(lines) + b"\r\n.x\r\n"
        sent.append(make_message("ahead-%d" % i, body))
    deliver(server, *sent)
    p = popclient(server)
    try:
        order = list(range(1, 8)) + [12, 9, 10, 11] + list(range(13, 21))
        for k, n in enumerate(order):
            if k == 5:
                p.dele(8)          # read ahead, now deleted
            if n == 8:
                continue
            lines = p.retr(n)[1]
            got = b"\r\n".join(lines) + b"\r\n"
            assert body_of(got) == sent[n - 1], "message %d" % n
        with pytest.raises(poplib.error_proto):
            p.retr(8)
    finally:
        p.quit()
