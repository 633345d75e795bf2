"""SMTP receiving (RFC 5321 and its extensions) as a peer MTA sees it: real
sockets against the real server, and every accepted message read back over
POP3 to check what was stored."""

import re
import smtplib
import socket
import time

import pytest

from conftest import (Client, dot_stuff, make_message, pop3_fetch_wait,
                      pop3_login_wait, smtp_send, smtp_session, split_trace)


# ---- helpers ----

def queue_id(text):
    m = re.search(r"queued as ([A-Za-z0-9]+)", text)
    assert m, "no queue id in %r" % text
    return m.group(1)


def mailbox(srv, user):
    return pop3_fetch_wait(srv.pop3_port, user)


def subjects(srv, user):
    out = []
    for m in mailbox(srv, user):
        s = re.search(rb"^Subject: (.*?)\r\n", m, re.M)
        out.append(s.group(1).decode() if s else None)
    return out


def retr_exact(srv, user, n=1):
    """Message n exactly as stored.  A stored bare-LF line may or may not
    count as a line for POP3 dot-stuffing; LIST's exact size tells which
    unstuffing gives the stored bytes."""
    with pop3_login_wait(srv.pop3_port, user) as c:
        size = int(c.pop("LIST %d" % n).split()[2])
        assert c.pop("RETR %d" % n).startswith("+OK")
        wire = b""
        while True:
            line = c.line() + b"\r\n"
            if line == b".\r\n":
                break
            wire += line
        assert c.pop("QUIT").startswith("+OK")
    found = {re.sub(rb"(^|\r\n)\.", rb"\1", wire),
             re.sub(rb"(^|\n)\.", rb"\1", wire)}
    found = [m for m in found if len(m) == size]
    assert len(found) == 1, (size, wire)
    return found[0]


def rcpt_reply(port, rcpt, mail="MAIL FROM:<sender@example.org>"):
    with smtp_session(port) as c:
        code, text = c.cmd(mail)
        assert code == 250, text
        reply = c.cmd("RCPT TO:<%s>" % rcpt)
        c.cmd("QUIT")
        return reply


def wait_log(srv, pattern, count=1, timeout=5):
    """The log's matches of `pattern` once there are `count` of them."""
    deadline = time.time() + timeout
    while True:
        found = re.findall(pattern, srv.log(), re.M)
        if len(found) >= count or time.time() > deadline:
            return found
        time.sleep(0.05)


def raw_transaction(c, rcpts, sender="sender@example.org", params=""):
    code, text = c.cmd("MAIL FROM:<%s>%s" % (sender, params))
    assert code == 250, text
    for r in rcpts:
        code, text = c.cmd("RCPT TO:<%s>" % r)
        assert code == 250, text


# ---- greeting, EHLO, HELO ----

def test_greeting_names_host(server):
    with Client(server.smtp_port) as c:
        code, text = c.reply()
        assert code == 220
        assert text.startswith("220 mx.test "), text
        assert c.cmd("QUIT")[0] == 221
        assert c.at_eof()


def test_ehlo_keywords(server):
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=30) as s:
        code, text = s.ehlo("client.test")
        assert code == 250
        assert text.split(b"\n")[0] == b"mx.test"
        for kw in ("pipelining", "8bitmime", "smtputf8",
                   "enhancedstatuscodes", "chunking"):
            assert s.has_extn(kw), (kw, text)
        assert s.esmtp_features["size"] == str(25 * 1024 * 1024)


def test_helo_is_plain_smtp(server):
    with Client(server.smtp_port) as c:
        c.reply()
        code, text = c.cmd("HELO client.test")
        assert (code, text) == (250, "250 mx.test")
        # ESMTP parameters need EHLO.
        assert c.cmd("MAIL FROM:<sender@example.org> BODY=8BITMIME")[0] == 555
        assert c.cmd("MAIL FROM:<sender@example.org>")[0] == 250
        assert c.cmd("RCPT TO:<alice@example.com>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send(dot_stuff(make_message("helo")))
        code, text = c.reply()
        assert code == 250, text
        qid = queue_id(text)
    [msg] = mailbox(server, "alice@example.com")
    _, received, _ = split_trace(msg)
    assert received.startswith(b"Received: from client.test ([127.0.0.1])")
    assert b"with SMTP id " + qid.encode() in received


def test_ehlo_resets_transaction(server):
    with smtp_session(server.smtp_port) as c:
        raw_transaction(c, ["alice@example.com"])
        assert c.cmd("EHLO again.test")[0] == 250
        code, text = c.cmd("DATA")
        assert code == 503 and " 5.5.1 " in text, text


# ---- who receives ----

def test_delivery_to_user_alias_and_plus_address(server):
    server.cli("alias", "add", "info@example.com", "alice@example.com",
               "bob@example.com")
    server.cli("alias", "add", "sales@example.com", "info@example.com")
    for tag, rcpt in [("direct", "alice@example.com"),
                      ("upper", "ALICE@Example.COM"),
                      ("alias", "info@example.com"),
                      ("nested", "sales@example.com"),
                      ("plus", "bob+lists@example.com")]:
        code, text = smtp_send(server.smtp_port, rcpt,
                               make_message(tag, rcpt=rcpt))
        assert code == 250, text
    assert subjects(server, "alice@example.com") == [
        "direct", "upper", "alias", "nested"]
    assert subjects(server, "bob@example.com") == ["alias", "nested", "plus"]


def test_unknown_user_550_and_session_continues(server):
    with smtp_session(server.smtp_port) as c:
        assert c.cmd("MAIL FROM:<sender@example.org>")[0] == 250
        code, text = c.cmd("RCPT TO:<nobody@example.com>")
        assert code == 550 and text.startswith("550 5.1.1 "), text
        code, text = c.cmd("RCPT TO:<alice@example.com>")
        assert code == 250, text
        assert c.cmd("DATA")[0] == 354
        c.send(dot_stuff(make_message("after-550")))
        assert c.reply()[0] == 250
    assert subjects(server, "alice@example.com") == ["after-550"]
    assert wait_log(server, r"reject .*code=550 .*to=<nobody@example\.com>$")


def test_catch_all(server):
    code, text = rcpt_reply(server.smtp_port, "whoever@example.com")
    assert code == 550, text
    server.cli("alias", "add", "@example.com", "alice@example.com")
    code, text = smtp_send(server.smtp_port, "whoever@example.com",
                           make_message("caught"))
    assert code == 250, text
    # An existing user still gets their own mail.
    assert smtp_send(server.smtp_port, "bob@example.com",
                     make_message("for-bob"))[0] == 250
    assert subjects(server, "alice@example.com") == ["caught"]
    assert subjects(server, "bob@example.com") == ["for-bob"]


@pytest.mark.parametrize("rcpt", [
    "someone@remote.test",
    "alice@remote.test",
    "alice@example.com.remote.test",
    "alice@sub.example.com",
    "alice@[127.0.0.1]",
    "alice@[192.0.2.1]",
    # A source route through us to a remote mailbox.
    "@example.com:user@remote.test",
    "@example.com,@mx.test:user@remote.test",
])
def test_relay_denied(server, rcpt):
    code, text = rcpt_reply(server.smtp_port, rcpt)
    assert code == 554 and text.startswith("554 5.7.1 "), text
    assert "Relay access denied" in text


@pytest.mark.parametrize("rcpt", [
    "user%remote.test@example.com",
    '"user@remote.test"@example.com',
    "remote.test!user@example.com",
    "@remote.test:nobody@example.com",
])
def test_relay_tricks_are_local_unknowns(server, rcpt):
    """Old relay syntaxes inside a local address are just a local part
    that does not exist: 550, never 250."""
    code, text = rcpt_reply(server.smtp_port, rcpt)
    assert code == 550 and text.startswith("550 5.1.1 "), text


@pytest.mark.parametrize("rcpt", [
    "alice@example.com@remote.test",
    "alice@remote.test@example.com",
])
def test_two_at_signs_refused(server, rcpt):
    code, text = rcpt_reply(server.smtp_port, rcpt)
    assert code in (501, 553, 550, 554), text


def test_percent_hack_with_catch_all_stays_local(server):
    server.cli("alias", "add", "@example.com", "alice@example.com")
    code, text = smtp_send(server.smtp_port,
                           ["user%remote.test@example.com",
                            '"user@remote.test"@example.com'],
                           make_message("pct"))
    assert code == 250, text
    assert subjects(server, "alice@example.com") == ["pct"]
    assert wait_log(server, r"message id=.* result=delivered ")


def test_source_route_to_local_mailbox_delivers_locally(server):
    """RFC 5321 3.6.1: a source route may be ignored; the mailbox is
    ours."""
    code, text = smtp_send(server.smtp_port, "@relay.test:alice@example.com",
                           make_message("routed"))
    assert code == 250, text
    assert subjects(server, "alice@example.com") == ["routed"]


def test_postmaster_without_domain(server):
    server.cli("domain", "add", "mx.test")
    server.cli("alias", "add", "postmaster@mx.test", "bob@example.com")
    with smtp_session(server.smtp_port) as c:
        raw_transaction(c, ["postmaster", "PostMaster"])
        assert c.cmd("DATA")[0] == 354
        c.send(dot_stuff(make_message("pm")))
        assert c.reply()[0] == 250
    assert subjects(server, "bob@example.com") == ["pm"]


def test_postmaster_always_accepted(server):
    """RFC 5321 4.5.1: RCPT TO:<Postmaster> and postmaster at every domain
    we receive mail for MUST be accepted, with no set-up by the admin."""
    for rcpt in ["postmaster", "Postmaster", "postmaster@example.com",
                 "POSTMASTER@example.com"]:
        code, text = rcpt_reply(server.smtp_port, rcpt)
        assert code == 250, "RCPT TO:<%s>: %s" % (rcpt, text)


def test_null_sender(server):
    with smtp_session(server.smtp_port) as c:
        raw_transaction(c, ["alice@example.com"], sender="")
        assert c.cmd("DATA")[0] == 354
        c.send(dot_stuff(make_message("bounce")))
        code, text = c.reply()
        assert code == 250, text
    [msg] = mailbox(server, "alice@example.com")
    assert split_trace(msg)[0] == b"<>"
    assert wait_log(server, r"message id=\S+ client=\S+ size=\d+ "
                            r"result=delivered helo=\S+ from=<> "
                            r"to=<alice@example\.com>$")


@pytest.mark.parametrize("sender, expected", [
    ("John.Doe+Tag@Remote.Test", "<John.Doe+Tag@remote.test>"),
    ('"John Doe"@remote.test', '<"John Doe"@remote.test>'),
    ("bounce-AbC123=x@lists.remote.test",
     "<bounce-AbC123=x@lists.remote.test>"),
])
def test_return_path_keeps_sender_local_part(server, sender, expected):
    """RFC 5321 2.4: local parts are case-sensitive and an implementation
    MUST preserve their case; the Return-Path is where bounces go."""
    code, text = smtp_send(server.smtp_port, "alice@example.com",
                           make_message("case"), sender=sender)
    assert code == 250, text
    [msg] = mailbox(server, "alice@example.com")
    rp = split_trace(msg)[0].decode()
    local, _, domain = rp[1:-1].rpartition("@")
    want_local, _, want_domain = expected[1:-1].rpartition("@")
    assert (local, domain.lower()) == (want_local, want_domain), rp


# ---- what is stored ----

TRICKY = (
    b"From: Sender <sender@example.org>\r\n"
    b"To: alice@example.com\r\n"
    b"Subject: =?utf-8?q?tricky?=\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b".\r\n"
    b"..\r\n"
    b"...\r\n"
    b".leading dot\r\n"
    b" .space then dot\r\n"
    b"\r\n"
    b"\r\n"
    b"Gr\xc3\xbc\xc3\x9fe, \xe6\x97\xa5\xe6\x9c\xac, \xf0\x9f\x93\xae\r\n"
    b"trailing white space   \t\r\n"
    b"\ttab first\r\n"
    b"From the start of a line\r\n"
    + b"x" * 998 + b"\r\n"
    + b"." + b"y" * 997 + b"\r\n"
    b"last line without newline")


def test_message_stored_byte_exact(server):
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=30) as s:
        s.ehlo("client.test")
        assert s.mail("sender@example.org", ["BODY=8BITMIME"])[0] == 250
        assert s.rcpt("alice@example.com")[0] == 250
        code, text = s.data(TRICKY)
        assert code == 250, text
        qid = queue_id(text.decode())
    [msg] = mailbox(server, "alice@example.com")
    rp, received, rest = split_trace(msg)
    assert rp == b"<sender@example.org>"
    assert re.match(rb"Received: from client\.test \(\[127\.0\.0\.1\]\)\r\n"
                    rb"\tby mx\.test \(posthorn\) with ESMTP id (\w+)\r\n"
                    rb"\tfor <alice@example\.com>;\r\n"
                    rb"\t\w{3}, \d\d? \w{3} \d{4} \d\d:\d\d:\d\d "
                    rb"[-+]\d{4}\r\n$",
                    received), received
    assert re.search(rb" id (\w+)", received).group(1) == qid.encode()
    # SMTP ends the last line with the CRLF before the final dot.
    assert rest == TRICKY + b"\r\n"


def test_long_lines_beyond_998_stored_exact(server):
    body = (b"a" * 200000 + b"\r\n" + b"." + b"b" * 150000 + b"\r\n" +
            b"." * 70000 + b"\r\n" + b"end\r\n")
    msg = make_message("long", body=body)
    with smtp_session(server.smtp_port) as c:
        raw_transaction(c, ["alice@example.com"])
        assert c.cmd("DATA")[0] == 354
        c.send(dot_stuff(msg))
        code, text = c.reply()
        assert code == 250, text
    [stored] = mailbox(server, "alice@example.com")
    assert split_trace(stored)[2] == msg


SMUGGLED = (b"MAIL FROM:<evil@x>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n"
            b"Subject: smuggled\r\n\r\nevil\r\n")


def smuggle(server, fake_end):
    """Sends alice a message with `fake_end` and SMUGGLED inside, then
    QUIT: only the message and the QUIT may be answered, and alice gets
    one message.  Returns (the content sent, the message as stored)."""
    head = make_message("carrier")[:-len(b"Hello.\r\n")]
    content = head + b"line" + fake_end + SMUGGLED + b"tail"
    with smtp_session(server.smtp_port) as c:
        raw_transaction(c, ["alice@example.com"])
        assert c.cmd("DATA")[0] == 354
        c.send(content + b"\r\n.\r\nQUIT\r\n")
        code, text = c.reply()
        assert code == 250, text
        code, text = c.reply()
        assert code == 221, "smuggled commands answered: %s" % text
    assert len(mailbox(server, "alice@example.com")) == 1
    return content, retr_exact(server, "alice@example.com")


@pytest.mark.parametrize("fake_end", [b"\n.\n", b"\r.\r", b"\r.\n", b"\n.\r"])
def test_smtp_smuggling_fake_end_of_data(server, fake_end):
    """Only CRLF.CRLF ends DATA: a bare LF or CR version of it is message
    content, so the commands after it are text in one message."""
    content, stored = smuggle(server, fake_end)
    assert split_trace(stored)[2] == content + b"\r\n"
    assert mailbox(server, "bob@example.com") == []
    assert len(wait_log(server, r"message id=")) == 1


@pytest.mark.parametrize("fake_end", [b"\r\n.\n", b"\n.\r\n"])
def test_smtp_smuggling_half_crlf_end(server, fake_end):
    content, stored = smuggle(server, fake_end)
    # "\r\n.\n..." is a CRLF-ended line starting with a dot: the dot goes.
    want = content.replace(b"line\r\n.\n", b"line\r\n\n") + b"\r\n"
    assert split_trace(stored)[2] == want
    assert mailbox(server, "bob@example.com") == []


def test_first_line_dot_and_empty_message(server):
    with smtp_session(server.smtp_port) as c:
        raw_transaction(c, ["alice@example.com"])
        assert c.cmd("DATA")[0] == 354
        c.send(b"..first line\r\n.\r\n")
        assert c.reply()[0] == 250
        raw_transaction(c, ["alice@example.com"])
        assert c.cmd("DATA")[0] == 354
        c.send(b".\r\n")
        assert c.reply()[0] == 250
    first, empty = mailbox(server, "alice@example.com")
    assert split_trace(first)[2] == b".first line\r\n"
    assert split_trace(empty)[2] == b""


def test_dropped_connection_in_data_stores_nothing(server):
    with smtp_session(server.smtp_port) as c:
        raw_transaction(c, ["alice@example.com"])
        assert c.cmd("DATA")[0] == 354
        c.send(make_message("cut") + b"no end mark\r\n.")
    with smtp_session(server.smtp_port) as c:
        raw_transaction(c, ["alice@example.com"])
        c.send(b"BDAT 100 LAST\r\n" + b"x" * 60)
    assert wait_log(server, r"disconnect client=\S+ messages=0", count=2)
    assert mailbox(server, "alice@example.com") == []
    assert not re.search(r"message id=", server.log())


def test_end_of_data_split_across_packets(server):
    with smtp_session(server.smtp_port) as c:
        raw_transaction(c, ["alice@example.com"])
        assert c.cmd("DATA")[0] == 354
        msg = make_message("split")
        for piece in [msg, b"\r", b"\n.", b"\r", b"\n"]:
            c.send(piece)
            time.sleep(0.05)
        code, text = c.reply()
        assert code == 250, text
    [stored] = mailbox(server, "alice@example.com")
    assert split_trace(stored)[2] == msg + b"\r\n"


# ---- pipelining (RFC 2920) ----

def test_pipelined_envelope(server):
    with smtp_session(server.smtp_port) as c:
        c.send("MAIL FROM:<sender@example.org>\r\n"
               "RCPT TO:<alice@example.com>\r\n"
               "RCPT TO:<nobody@example.com>\r\n"
               "RCPT TO:<x@remote.test>\r\n"
               "RCPT TO:<bob@example.com>\r\n"
               "DATA\r\n")
        codes = [c.reply()[0] for _ in range(6)]
        assert codes == [250, 250, 550, 554, 250, 354]
        c.send(dot_stuff(make_message("piped")) + b"NOOP\r\nQUIT\r\n")
        codes = [c.reply()[0] for _ in range(3)]
        assert codes == [250, 250, 221]
        assert c.at_eof()
    assert subjects(server, "alice@example.com") == ["piped"]
    assert subjects(server, "bob@example.com") == ["piped"]


def test_pipelined_whole_transactions_with_bdat(server):
    m1, m2 = make_message("one"), make_message("two", rcpt="bob@example.com")
    c = smtp_session(server.smtp_port)
    with c:
        c.send(b"MAIL FROM:<sender@example.org>\r\n"
               b"RCPT TO:<alice@example.com>\r\n"
               b"BDAT %d LAST\r\n" % len(m1) + m1 +
               b"MAIL FROM:<sender@example.org>\r\n"
               b"RCPT TO:<bob@example.com>\r\n"
               b"BDAT %d LAST\r\n" % len(m2) + m2 + b"QUIT\r\n")
        replies = [c.reply() for _ in range(7)]
        assert [r[0] for r in replies] == [250, 250, 250, 250, 250, 250, 221]
        assert "queued as" in replies[2][1] and "queued as" in replies[5][1]
    assert [split_trace(m)[2] for m in mailbox(server, "alice@example.com")] \
        == [m1]
    assert [split_trace(m)[2] for m in mailbox(server, "bob@example.com")] \
        == [m2]


# ---- BDAT (RFC 3030) ----

def test_bdat_single_chunk(server):
    msg = make_message("bdat") + b"..not stuffed\r\n.\r\nno final newline"
    with smtp_session(server.smtp_port) as c:
        raw_transaction(c, ["alice@example.com"])
        c.send(b"BDAT %d LAST\r\n" % len(msg) + msg)
        code, text = c.reply()
        assert code == 250 and text.startswith("250 2.0.0 "), text
    with Client(server.pop3_port) as p:
        p.line()
        assert p.pop("USER alice@example.com").startswith("+OK")
        assert p.pop("PASS secret pass").startswith("+OK")
        size = int(p.pop("LIST 1").split()[2])
        assert p.pop("RETR 1").startswith("+OK")
        stored = p.multiline()
    rp, received, rest = split_trace(stored)
    # Stored exactly: no CRLF added at the end, no dot handling.
    assert size == len(b"Return-Path: " + rp + b"\r\n" + received + msg)
    assert rest == msg + b"\r\n"  # POP3 ends the last line


def test_bdat_multiple_chunks_and_zero_last(server):
    msg = make_message("chunks", body=b"one\r\n.\r\ntwo\r\n" + b"z" * 5000 +
                       b"\r\nend\r\n")
    cuts = [0, 7, 8, 100, len(msg) - 3, len(msg) - 1, len(msg)]
    with smtp_session(server.smtp_port) as c:
        raw_transaction(c, ["alice@example.com"])
        for a, b in zip(cuts, cuts[1:]):
            c.send(b"BDAT %d\r\n" % (b - a) + msg[a:b])
            code, text = c.reply()
            assert (code, text) == (250, "250 2.0.0 %d octets received"
                                    % (b - a))
        code, text = c.cmd("BDAT 0 LAST")
        assert code == 250 and "queued as" in text, text
        # The next transaction works.
        raw_transaction(c, ["bob@example.com"])
        code, text = c.cmd("BDAT 0 LAST")
        assert code == 250, text
    [stored] = mailbox(server, "alice@example.com")
    assert split_trace(stored)[2] == msg
    assert len(mailbox(server, "bob@example.com")) == 1


def test_bdat_out_of_sequence_consumes_chunk(server):
    evil = b"QUIT\r\nMAIL FROM:<x@y.test>\r\n"
    with smtp_session(server.smtp_port) as c:
        c.send(b"BDAT %d LAST\r\n" % len(evil) + evil)
        code, text = c.reply()
        assert code == 503 and " 5.5.1 " in text, text
        assert c.cmd("NOOP")[0] == 250
        assert c.cmd("MAIL FROM:<sender@example.org>")[0] == 250
        # After MAIL but with no recipient yet.
        c.send(b"BDAT %d\r\n" % len(evil) + evil)
        code, text = c.reply()
        assert code in (503, 554) and " 5.5.1 " in text, text
        # Still in step: the chunk's "QUIT" was not run.
        code, text = c.cmd("RCPT TO:<alice@example.com>")
        assert code == 250, text
        msg = make_message("in-step")
        c.send(b"BDAT %d LAST\r\n" % len(msg) + msg)
        code, text = c.reply()
        assert code == 250, text
    assert subjects(server, "alice@example.com") == ["in-step"]


def test_data_after_bdat_is_503(server):
    with smtp_session(server.smtp_port) as c:
        raw_transaction(c, ["alice@example.com"])
        c.send(b"BDAT 5\r\nabcde")
        assert c.reply()[0] == 250
        code, text = c.cmd("DATA")
        assert code == 503, text
        assert c.cmd("RSET")[0] == 250
        raw_transaction(c, ["alice@example.com"])
        msg = make_message("after-rset")
        c.send(b"BDAT %d LAST\r\n" % len(msg) + msg)
        assert c.reply()[0] == 250
    assert [split_trace(m)[2] for m in mailbox(server, "alice@example.com")] \
        == [msg]


def test_bdat_binary_bytes(server):
    blob = bytes(range(256)) * 4 + b"\x00\r\n\xff\xfe\r\n"
    msg = make_message("binary", body=blob)
    with smtp_session(server.smtp_port) as c:
        raw_transaction(c, ["alice@example.com"], params=" BODY=8BITMIME")
        half = len(msg) // 2
        c.send(b"BDAT %d\r\n" % half + msg[:half])
        assert c.reply()[0] == 250
        c.send(b"BDAT %d LAST\r\n" % (len(msg) - half) + msg[half:])
        code, text = c.reply()
        assert code == 250, text
    [stored] = mailbox(server, "alice@example.com")
    assert split_trace(stored)[2] == msg


def test_bdat_bad_size_never_silently_drops(server):
    """A BDAT whose size cannot be parsed gets 501; if the server then
    closes the connection, RFC 5321 3.8 wants a 421 first."""
    with smtp_session(server.smtp_port) as c:
        raw_transaction(c, ["alice@example.com"])
        code, text = c.cmd("BDAT lots")
        assert code == 501, text
        try:
            code, text = c.cmd("NOOP")
        except (EOFError, ConnectionError) as e:
            pytest.fail("connection closed after a 501 without a 421 (%s)"
                        % e)
        assert code in (250, 421), text


# ---- limits ----

def test_size_limit(custom):
    srv = custom("smtp.max_message_size=10K")
    with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=30) as s:
        s.ehlo("client.test")
        assert s.esmtp_features["size"] == "10240"
    with smtp_session(srv.smtp_port) as c:
        code, text = c.cmd("MAIL FROM:<sender@example.org> SIZE=10241")
        assert code == 552 and text.startswith("552 5.3.4 "), text
        code, text = c.cmd("MAIL FROM:<sender@example.org> SIZE=99999999999")
        assert code == 552, text
        code, text = c.cmd("MAIL FROM:<sender@example.org> SIZE=10240")
        assert code == 250, text
        assert c.cmd("RCPT TO:<alice@example.com>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        exact = make_message("exact")
        exact += b"e" * (10240 - 2 - len(exact)) + b"\r\n"
        c.send(dot_stuff(exact))
        code, text = c.reply()
        assert code == 250, "a message of exactly SIZE: %s" % text
        assert c.cmd("MAIL FROM:<sender@example.org> SIZE=900")[0] == 250
        assert c.cmd("RCPT TO:<alice@example.com>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send(dot_stuff(exact[:-2] + b"e\r\n"))
        code, text = c.reply()
        assert code == 552 and text.startswith("552 5.3.4 "), text
        # The transaction is over; the session goes on.
        assert c.cmd("DATA")[0] == 503
        raw_transaction(c, ["alice@example.com"])
        assert c.cmd("DATA")[0] == 354
        c.send(dot_stuff(make_message("small")))
        code, text = c.reply()
        assert code == 250, text
        # BDAT too.
        raw_transaction(c, ["alice@example.com"])
        big = b"x" * 12000
        c.send(b"BDAT %d LAST\r\n" % len(big) + big)
        code, text = c.reply()
        assert code == 552, text
        assert c.cmd("NOOP")[0] == 250
        raw_transaction(c, ["alice@example.com"])
        c.send(b"BDAT 6000\r\n" + b"y" * 6000)
        assert c.reply()[0] == 250
        c.send(b"BDAT 6000\r\n" + b"y" * 6000)
        assert c.reply()[0] == 552
        assert c.cmd("QUIT")[0] == 221
    assert subjects(srv, "alice@example.com") == ["exact", "small"]
    assert wait_log(srv, r"reject .* code=552 size=\d+ ")


def test_max_recipients(custom):
    srv = custom("smtp.max_recipients=100")
    with smtp_session(srv.smtp_port) as c:
        c.send("MAIL FROM:<sender@example.org>\r\n" +
               "".join("RCPT TO:<alice+%d@example.com>\r\n" % i
                       for i in range(100)) +
               "RCPT TO:<bob@example.com>\r\n")
        replies = [c.reply() for _ in range(102)]
        assert [r[0] for r in replies[:101]] == [250] * 101
        code, text = replies[101]
        assert code == 452 and text.startswith("452 4.5.3 "), text
        assert c.cmd("DATA")[0] == 354
        c.send(dot_stuff(make_message("many")))
        assert c.reply()[0] == 250
    # One copy per mailbox, and bob (refused) got none.
    assert subjects(srv, "alice@example.com") == ["many"]
    assert subjects(srv, "bob@example.com") == []


def test_too_many_errors_421_and_close(server):
    with smtp_session(server.smtp_port) as c:
        replies = []
        for i in range(10):
            c.send("BOGUS %d\r\n" % i)
            replies.append(c.reply())
        assert all(code == 500 and text.startswith("500 5.5.2 ")
                   for code, text in replies[:9]), replies
        last = replies[9]
        if last[0] == 500:
            last = c.reply()
        assert last[0] == 421 and last[1].startswith("421 4."), last
        assert c.at_eof()
    assert wait_log(server, r"result=too-many-errors")


def test_idle_timeout_421(custom):
    srv = custom("smtp.timeout=2", "smtp.data_timeout=2")
    start = time.time()
    idle = smtp_session(srv.smtp_port)
    in_data = smtp_session(srv.smtp_port)
    raw_transaction(in_data, ["alice@example.com"])
    assert in_data.cmd("DATA")[0] == 354
    in_data.send(make_message("stalled"))
    for c in (idle, in_data):
        with c:
            c.sock.settimeout(10)
            code, text = c.reply()
            assert code == 421 and text.startswith("421 4.4.2 "), text
            assert c.at_eof()
    assert 1.5 <= time.time() - start <= 8
    # A stalled message is not stored.
    assert mailbox(srv, "alice@example.com") == []


def test_long_command_line_500_and_resync(server):
    with smtp_session(server.smtp_port) as c:
        c.send("NOOP " + "x" * 5000 + "\r\n")
        code, text = c.reply()
        assert code == 500 and text.startswith("500 5.5.2 "), text
        # The same, arriving in pieces.
        for _ in range(4):
            c.send("y" * 2000)
            time.sleep(0.02)
        c.send("\r\nNOOP\r\n")
        code, text = c.reply()
        assert code == 500, text
        assert c.cmd("NOOP")[0] == 250
        assert c.cmd("NOOP " + "z" * 400)[0] == 250


def test_clients_vanishing_at_every_step(server):
    """Peers that drop the connection mid-command, mid-lookup, mid-data or
    right after the final dot: the server keeps serving (and the fixture
    checks it exits cleanly, without sanitizer reports)."""
    msg = make_message("vanish")
    steps = [
        b"EHLO x.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<alice@example.com>"
        b"\r\n",
        b"EHLO x.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<alice@example.com>"
        b"\r\nRCPT TO:<nobody@example.com>\r\nDATA\r\n" + msg,
        b"EHLO x.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<alice@example.com>"
        b"\r\nDATA\r\n" + msg + b".\r\n",
        b"EHLO x.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<alice@example.com>"
        b"\r\nBDAT 1000 LAST\r\n" + msg,
        b"EHLO x.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<alice@example.com>"
        b"\r\nBDAT %d LAST\r\n" % len(msg) + msg,
        b"EHLO x.test\r\nNOOP " + b"x" * 100000,
    ]
    for _ in range(5):
        for data in steps:
            s = socket.create_connection(("127.0.0.1", server.smtp_port))
            s.sendall(data)
            s.close()
    code, text = smtp_send(server.smtp_port, "bob@example.com",
                           make_message("still here"))
    assert code == 250, text
    assert subjects(server, "bob@example.com") == ["still here"]


# ---- other commands ----

def test_rset_clears_transaction(server):
    with smtp_session(server.smtp_port) as c:
        raw_transaction(c, ["alice@example.com"])
        assert c.cmd("RSET") == (250, "250 2.0.0 Ok")
        code, text = c.cmd("DATA")
        assert code == 503 and " 5.5.1 " in text, text
        code, text = c.cmd("RCPT TO:<alice@example.com>")
        assert code == 503 and " 5.5.1 " in text, text
        raw_transaction(c, ["bob@example.com"])
        assert c.cmd("DATA")[0] == 354
        c.send(dot_stuff(make_message("after-rset", rcpt="bob@example.com")))
        assert c.reply()[0] == 250
    assert subjects(server, "alice@example.com") == []
    assert subjects(server, "bob@example.com") == ["after-rset"]


def test_noop_help_vrfy_expn(server):
    with smtp_session(server.smtp_port) as c:
        assert c.cmd("NOOP")[0] == 250
        assert c.cmd("NOOP anything")[0] == 250
        code, text = c.cmd("HELP")
        assert code == 214, text
        # VRFY discloses nothing: same reply for real and unknown users.
        replies = {c.cmd("VRFY " + who)
                   for who in ("alice", "alice@example.com", "nobody",
                               "nobody@example.com")}
        assert len(replies) == 1, replies
        code, text = replies.pop()
        assert code == 252, text
        code, text = c.cmd("EXPN staff")
        assert code in (252, 502, 550), text
        assert c.cmd("QUIT")[0] == 221


@pytest.mark.parametrize("command, code, enhanced", [
    ("FROB", 500, "5.5.2"),
    ("MAIL FROM:sender@example.org", 501, "5.5.4"),
    ("MAIL FROM:<sender@example.org", 501, "5.5.4"),
    ("MAIL FROM:<sender@example.org> FOO=BAR", 555, "5.5.4"),
    ("MAIL FROM:<sender@example.org> SIZE=abc", 501, "5.5.4"),
    ("RCPT TO:<alice@example.com>", 503, "5.5.1"),
    ("DATA", 503, "5.5.1"),
    ("EHLO", 501, "5.5.4"),
    ("QUIT now", 501, "5.5.4"),
    ("STARTTLS now", 501, "5.5.4"),
])
def test_error_replies(server, command, code, enhanced):
    with smtp_session(server.smtp_port) as c:
        got, text = c.cmd(command)
        assert got == code and text.startswith("%d %s " % (code, enhanced)), \
            text
        # Still usable.
        assert c.cmd("NOOP")[0] == 250


def test_sequence_errors(server):
    with Client(server.smtp_port) as c:
        c.reply()
        code, text = c.cmd("MAIL FROM:<sender@example.org>")
        assert code == 503 and " 5.5.1 " in text, text
        assert c.cmd("EHLO client.test")[0] == 250
        assert c.cmd("MAIL FROM:<sender@example.org>")[0] == 250
        code, text = c.cmd("MAIL FROM:<sender@example.org>")
        assert code == 503, text
        code, text = c.cmd("DATA")
        assert code in (503, 554), text


# ---- SMTPUTF8 and IDN ----

def test_smtputf8_sender(server):
    with smtp_session(server.smtp_port) as c:
        code, text = c.cmd("MAIL FROM:<\u00fc@example.org>")
        assert code == 553 and text.startswith("553 5.6.7 "), text
        code, text = c.cmd("MAIL FROM:<\u00fc@example.org> SMTPUTF8")
        assert code == 250, text
        assert c.cmd("RCPT TO:<alice@example.com>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        msg = ("From: \u00fc@example.org\r\nTo: alice@example.com\r\n"
               "Subject: gr\u00fc\u00dfe\r\n\r\nH\u00e9llo\r\n").encode()
        c.send(dot_stuff(msg))
        assert c.reply()[0] == 250
    [stored] = mailbox(server, "alice@example.com")
    rp, received, rest = split_trace(stored)
    assert rp == "<\u00fc@example.org>".encode()
    assert b" with UTF8SMTP id " in received
    assert rest == msg


def test_utf8_recipient_needs_smtputf8(server):
    with smtp_session(server.smtp_port) as c:
        assert c.cmd("MAIL FROM:<sender@example.org>")[0] == 250
        code, text = c.cmd("RCPT TO:<j\u00fcrgen@example.com>")
        assert code == 553 and text.startswith("553 5.6.7 "), text


def test_idn_domain(server):
    server.cli("domain", "add", "b\u00fccher.example")
    server.add_user("anna@b\u00fccher.example")
    assert smtp_send(server.smtp_port, "anna@xn--bcher-kva.example",
                     make_message("alabel"))[0] == 250
    with smtp_session(server.smtp_port) as c:
        assert c.cmd("MAIL FROM:<sender@example.org>")[0] == 250
        code, text = c.cmd("RCPT TO:<anna@b\u00fccher.example>")
        assert code == 553 and " 5.6.7 " in text, text
        assert c.cmd("RSET")[0] == 250
        raw_transaction(c, ["anna@b\u00fccher.example",
                            "ANNA@B\u00dcCHER.EXAMPLE"],
                        params=" SMTPUTF8")
        assert c.cmd("DATA")[0] == 354
        c.send(dot_stuff(make_message("ulabel")))
        assert c.reply()[0] == 250
    assert subjects(server, "anna@xn--bcher-kva.example") == [
        "alabel", "ulabel"]
    # The user can log in with either form of the domain.
    assert subjects(server, "anna@b\u00fccher.example") == [
        "alabel", "ulabel"]


# ---- the log ----

def test_log_lines(server):
    sent = []
    for tag, rcpts in [("l1", ["alice@example.com"]),
                       ("l2", ["alice@example.com", "bob@example.com"])]:
        msg = make_message(tag)
        code, text = smtp_send(server.smtp_port, rcpts, msg)
        assert code == 250
        sent.append((queue_id(text), rcpts, len(msg)))
    rcpt_reply(server.smtp_port, "ghost@example.com")
    lines = wait_log(server, r"^.* message id=.*$", count=2)
    assert len(lines) == 2, lines
    for line, (qid, rcpts, size) in zip(lines, sent):
        assert re.search(r" message id=%s client=127\.0\.0\.1 size=%d "
                         r"result=delivered helo=client\.test "
                         r"from=<sender@example\.org> %s$"
                         % (qid, size, re.escape(" ".join("to=<%s>" % r
                                                          for r in rcpts))),
                         line), line
    assert wait_log(server, r" reject client=\S+ code=550 helo=client\.test "
                            r"from=<sender@example\.org> "
                            r"to=<ghost@example\.com>$")
