"""Submission (RFC 6409) on listen.submission (STARTTLS) and
listen.submissions (implicit TLS): SMTP AUTH (RFC 4954), sender checks,
the fields submission adds, the outbound queue and the per-user limits,
with smtplib, swaks and openssl s_client against a real server."""

import base64
import re
import smtplib
import ssl
import subprocess
import time

import pytest

from conftest import (PASSWORD, Client, free_port, pop3_fetch, split_trace)

ALICE = "alice@example.com"
BOB = "bob@example.com"
REMOTE = "someone@remote.example"


def no_verify():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def sub_server(custom, *sets, before_start=None):
    """A running server with submission on two more free ports: srv.sub
    (587-style, STARTTLS) and srv.subs (465-style, implicit TLS)."""
    sub, subs = free_port(), free_port()
    srv = custom("listen.submission=127.0.0.1:%d" % sub,
                 "listen.submissions=127.0.0.1:%d" % subs, *sets,
                 before_start=before_start)
    srv.sub, srv.subs = sub, subs
    return srv


def plain(user=ALICE, password=PASSWORD):
    return base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()


def b64(text):
    return base64.b64encode(text.encode()).decode()


def message(sender=ALICE, subject="test", extra=""):
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\n%s\r\nHello.\r\n"
            % (sender, BOB, subject, extra)).encode()


def starttls_client(port):
    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    s.ehlo("client.test")
    s.starttls(context=no_verify())
    s.ehlo("client.test")
    return s


def raw_session(port):
    c = Client(port)
    code, text = c.reply()
    assert code == 220, text
    code, text = c.cmd("EHLO client.test")
    assert code == 250, text
    return c, text


def inbox(srv, user=BOB):
    return pop3_fetch(srv.pop3_port, user)


def header_block(stored):
    return stored.split(b"\r\n\r\n", 1)[0]


# ---- AUTH with real clients ----

def test_starttls_then_auth_plain_and_login_with_smtplib(custom):
    srv = sub_server(custom)
    s = smtplib.SMTP("127.0.0.1", srv.sub, timeout=30)
    s.ehlo("client.test")
    assert s.has_extn("starttls")
    s.starttls(context=no_verify())
    s.ehlo("client.test")
    assert s.esmtp_features["auth"].split() == [
        "PLAIN", "LOGIN", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"]
    s.user, s.password = ALICE, PASSWORD
    code, text = s.auth("PLAIN", s.auth_plain)
    assert (code, text) == (235, b"2.7.0 Authentication successful")
    assert s.sendmail(ALICE, [BOB], message(subject="plain")) == {}
    s.quit()

    s = starttls_client(srv.sub)
    s.user, s.password = ALICE, PASSWORD
    code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
    assert code == 235
    assert s.sendmail(ALICE, [BOB], message(subject="login")) == {}
    s.quit()
    subjects = [re.search(rb"Subject: (\w+)", m).group(1) for m in inbox(srv)]
    assert subjects == [b"plain", b"login"]


def test_implicit_tls_465_with_smtplib(custom):
    srv = sub_server(custom)
    s = smtplib.SMTP_SSL("127.0.0.1", srv.subs, timeout=30,
                         context=no_verify())
    s.ehlo("client.test")
    assert not s.has_extn("starttls")
    s.login(ALICE, PASSWORD)
    assert s.sendmail(ALICE, [BOB], message(subject="implicit")) == {}
    s.quit()
    [stored] = inbox(srv)
    _, received, _ = split_trace(stored)
    assert b" with ESMTPSA id " in received, received
    assert b"(using TLSv1." in received, received
    assert b"(authenticated as alice@example.com)" in received, received


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_swaks_starttls_auth(custom, mech):
    srv = sub_server(custom)
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port",
                        str(srv.sub), "--from", ALICE, "--to", BOB,
                        "--tls", "--auth", mech, "--auth-user", ALICE,
                        "--auth-password", PASSWORD, "--header",
                        "Subject: swaks " + mech],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "TLS started" in r.stdout and "235 2.7.0" in r.stdout, r.stdout
    [stored] = inbox(srv)
    assert ("Subject: swaks " + mech).encode() in stored


def test_swaks_implicit_tls(custom):
    srv = sub_server(custom)
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port",
                        str(srv.subs), "--from", ALICE, "--to", BOB,
                        "--tlsc", "--auth", "PLAIN", "--auth-user", ALICE,
                        "--auth-password", PASSWORD],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "235 2.7.0" in r.stdout, r.stdout
    assert len(inbox(srv)) == 1


def test_openssl_s_client_starttls_offers_auth(custom):
    srv = sub_server(custom, "auth.allow_insecure=no")
    pl = plain()
    r = subprocess.run(["openssl", "s_client", "-quiet", "-connect",
                        "127.0.0.1:%d" % srv.sub, "-starttls", "smtp"],
                       input=("EHLO client.test\r\nAUTH PLAIN %s\r\n"
                              "QUIT\r\n" % pl).encode(),
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().split("\r\n")
    assert "250-AUTH PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS" in lines, lines
    assert "235 2.7.0 Authentication successful" in lines, lines
    assert lines[-2:] == ["221 2.0.0 Bye", ""], lines


# ---- AUTH: the rules ----

def test_no_auth_before_tls_unless_allowed(custom):
    srv = sub_server(custom, "auth.allow_insecure=no")
    c, ehlo = raw_session(srv.sub)
    with c:
        assert "STARTTLS" in ehlo and "AUTH" not in ehlo, ehlo
        code, text = c.cmd("AUTH PLAIN " + plain())
        assert (code, text[:10]) == (538, "538 5.7.11"), text
        code, text = c.cmd("MAIL FROM:<%s>" % ALICE)
        assert text.startswith("530 5.7.0"), text
    # After STARTTLS, AUTH is offered and works.
    s = starttls_client(srv.sub)
    assert "auth" in s.esmtp_features
    s.login(ALICE, PASSWORD)
    s.quit()


def test_loopback_may_auth_without_tls_by_default(custom):
    srv = sub_server(custom)
    c, ehlo = raw_session(srv.sub)
    with c:
        assert "250-AUTH PLAIN LOGIN SCRAM-SHA-256" in ehlo, ehlo
        assert c.cmd("AUTH PLAIN " + plain())[0] == 235
        assert c.cmd("MAIL FROM:<%s>" % ALICE)[0] == 250


def test_auth_required_before_mail(custom):
    srv = sub_server(custom)
    c, _ = raw_session(srv.sub)
    with c:
        code, text = c.cmd("MAIL FROM:<%s>" % ALICE)
        assert text == "530 5.7.0 Authentication required", text
        code, text = c.cmd("RCPT TO:<%s>" % BOB)
        assert code == 503, text
        code, text = c.cmd("DATA")
        assert code == 503, text
    assert inbox(srv) == []


def test_wrong_password_cancel_and_bad_mechanism(custom):
    srv = sub_server(custom)
    c, _ = raw_session(srv.sub)
    with c:
        code, text = c.cmd("AUTH PLAIN " + plain(password="wrong"))
        assert text == "535 5.7.8 Authentication credentials invalid", text
        code, text = c.cmd("AUTH PLAIN " + plain(user="nobody@example.com"))
        assert text == "535 5.7.8 Authentication credentials invalid", text
        assert c.cmd("AUTH PLAIN")[1] == "334 "
        code, text = c.cmd("*")
        assert code == 501, text
        assert c.cmd("AUTH LOGIN")[1] == "334 VXNlcm5hbWU6"
        assert c.cmd(b64(ALICE))[1] == "334 UGFzc3dvcmQ6"
        code, text = c.cmd(b64("wrong"))
        assert code == 535, text
        code, text = c.cmd("AUTH CRAM-MD5")
        assert text.startswith("504 5.5.4"), text
        code, text = c.cmd("AUTH LOGIN %s" % b64(ALICE))
        assert text == "334 UGFzc3dvcmQ6", text
        assert c.cmd(b64(PASSWORD))[0] == 235
        code, text = c.cmd("AUTH PLAIN " + plain())
        assert text.startswith("503 5.5.1"), text
    log = srv.log()
    assert re.search(r"result=auth-failed mech=PLAIN "
                     r"user=alice@example\.com", log), log
    assert "wrong" not in log and PASSWORD not in log


def test_starttls_forgets_the_login(custom):
    srv = sub_server(custom)
    s = smtplib.SMTP("127.0.0.1", srv.sub, timeout=30)
    s.ehlo("client.test")
    s.login(ALICE, PASSWORD)
    s.starttls(context=no_verify())
    s.ehlo("client.test")
    code, text = s.mail(ALICE)
    assert (code, text) == (530, b"5.7.0 Authentication required")
    s.quit()


def test_port_25_offers_no_auth_and_never_relays(custom):
    srv = sub_server(custom)
    c, ehlo = raw_session(srv.smtp_port)
    with c:
        assert "AUTH" not in ehlo, ehlo
        code, text = c.cmd("AUTH PLAIN " + plain())
        assert text == "502 5.5.1 AUTH not available", text
        assert c.cmd("MAIL FROM:<%s>" % ALICE)[0] == 250
        code, text = c.cmd("RCPT TO:<%s>" % REMOTE)
        assert code == 554 and "Relay access denied" in text, text
    assert "the queue is empty" in srv.cli("queue", "list").stdout


# ---- who may send as whom ----

def authed(srv):
    c, _ = raw_session(srv.sub)
    assert c.cmd("AUTH PLAIN " + plain())[0] == 235
    return c


def send_data(c, data):
    code, text = c.cmd("DATA")
    assert code == 354, text
    c.send(data + b".\r\n")
    return c.reply()


def test_mail_from_must_be_own_or_alias(custom):
    srv = sub_server(custom, before_start=lambda s: s.cli(
        "alias", "add", "sales@example.com", ALICE))
    with authed(srv) as c:
        for bad in ("bob@example.com", "alice@other.example",
                    "bob+alice@example.com"):
            code, text = c.cmd("MAIL FROM:<%s>" % bad)
            assert text.startswith("553 5.7.1 <%s>" % bad), text
        code, text = c.cmd("MAIL FROM:<>")
        assert text.startswith("553 5.7.1"), text
        for good in (ALICE, "Alice+lists@Example.COM", "sales@example.com",
                     "sales+x@example.com"):
            assert c.cmd("MAIL FROM:<%s>" % good)[0] == 250, good
            assert c.cmd("RSET")[0] == 250
    assert "code=553" in srv.log()


def test_from_header_must_be_own_or_alias(custom):
    srv = sub_server(custom, before_start=lambda s: s.cli(
        "alias", "add", "sales@example.com", ALICE))
    with authed(srv) as c:
        cases = [
            (b"From: Bob <bob@example.com>\r\n\r\nx\r\n", 553),
            (b"From: alice@example.com, bob@example.com\r\n\r\nx\r\n", 553),
            (b"From: alice@example.com\r\nFrom: alice@example.com\r\n\r\n"
             b"x\r\n", 553),
            (b"Subject: no from\r\n\r\nx\r\n", 553),
            (b"From: \"Sales\" <Sales@EXAMPLE.com>\r\n\r\nx\r\n", 250),
            (b"From: Alice <alice+tag@example.com>\r\n\r\nx\r\n", 250),
        ]
        for data, want in cases:
            assert c.cmd("MAIL FROM:<%s>" % ALICE)[0] == 250
            assert c.cmd("RCPT TO:<%s>" % BOB)[0] == 250
            code, text = send_data(c, data)
            assert code == want, (data, text)
            if want == 553:
                assert text.startswith("553 5.7.1"), text
    assert len(inbox(srv)) == 2
    assert 'cause="From not allowed: bob@example.com"' in srv.log()


def test_sender_exceptions(custom):
    srv = sub_server(custom)
    r = srv.cli("user", "sender", "add", ALICE, "*@Other.Example")
    assert "may now send as *@other.example" in r.stdout
    srv.cli("user", "sender", "add", ALICE, "boss@example.com")
    assert srv.cli("user", "sender", "list", ALICE).stdout == \
        "*@other.example\nboss@example.com\n"
    with authed(srv) as c:
        for ok in ("anyone@other.example", "boss@example.com"):
            assert c.cmd("MAIL FROM:<%s>" % ok)[0] == 250, ok
            assert c.cmd("RSET")[0] == 250
        assert c.cmd("MAIL FROM:<bob@example.com>")[0] == 553
    srv.cli("user", "sender", "remove", ALICE, "boss@example.com")
    with authed(srv) as c:
        assert c.cmd("MAIL FROM:<boss@example.com>")[0] == 553
    r = srv.cli("user", "sender", "add", "nobody@example.com", "*",
                check=False)
    assert r.returncode == 1 and "no such user" in r.stderr
    r = srv.cli("user", "sender", "add", ALICE, "not an address",
                check=False)
    assert r.returncode == 1
    # A removed user's exceptions go with it.
    srv.cli("user", "remove", ALICE)
    srv.add_user(ALICE)
    assert srv.cli("user", "sender", "list", ALICE).stdout == ""


# ---- what submission adds ----

def test_message_id_and_date_added(custom):
    srv = sub_server(custom)
    with authed(srv) as c:
        assert c.cmd("MAIL FROM:<%s>" % ALICE)[0] == 250
        assert c.cmd("RCPT TO:<%s>" % BOB)[0] == 250
        assert send_data(c, message(subject="bare"))[0] == 250
        assert c.cmd("MAIL FROM:<%s>" % ALICE)[0] == 250
        assert c.cmd("RCPT TO:<%s>" % BOB)[0] == 250
        own = "Message-ID: <mine@client.test>\r\nDate: Tue, 1 Dec 2026 " \
              "06:00:00 +0000\r\n"
        assert send_data(c, message(subject="own", extra=own))[0] == 250
    bare, mine = inbox(srv)
    head = header_block(bare)
    assert re.search(rb"\r\nMessage-ID: <[0-9a-f]{30}@mx\.test>\r\n", head), head
    assert re.search(rb"\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d "
                     rb"[+-]\d{4}\r\n", head), head
    _, received, _ = split_trace(bare)
    assert received.startswith(b"Received: from client.test ([127.0.0.1])")
    assert b"with ESMTPA id" in received
    assert b"(authenticated as alice@example.com)" in received
    head = header_block(mine)
    assert head.count(b"Message-ID:") == 1 and head.count(b"Date:") == 1
    assert b"Message-ID: <mine@client.test>" in head


def test_hide_client_leaves_out_the_client(custom):
    srv = sub_server(custom, "submission.hide_client=yes")
    s = starttls_client(srv.sub)
    s.login(ALICE, PASSWORD)
    s.sendmail(ALICE, [BOB], message())
    s.quit()
    [stored] = inbox(srv)
    _, received, _ = split_trace(stored)
    assert received.startswith(b"Received: by mx.test (posthorn) with "
                               b"ESMTPSA id "), received
    assert b"127.0.0.1" not in received and b"client.test" not in received
    assert b"(authenticated as alice@example.com)" in received


# ---- the outbound queue ----

def queue_lines(srv):
    return srv.cli("queue", "list").stdout.splitlines()


def test_remote_recipient_queued_and_survives_kill(custom):
    srv = sub_server(custom)
    s = starttls_client(srv.sub)
    s.login(ALICE, PASSWORD)
    code, text = s.mail(ALICE)
    assert code == 250
    assert s.rcpt(REMOTE)[0] == 250
    assert s.rcpt("Other@Remote.Example")[0] == 250
    assert s.rcpt(BOB)[0] == 250
    code, text = s.data(message(subject="out"))
    assert code == 250, text
    qid = re.search(rb"queued as (\w+)", text).group(1).decode()
    # Killed at once after the 250: nothing acknowledged is lost.
    srv.kill()
    lines = queue_lines(srv)
    assert re.match(r"%s \d+ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ <%s> queued "
                    r"attempts=0 next=\S+ user=%s$" % (qid, ALICE, ALICE),
                    lines[0]), lines
    assert lines[1:] == ["  <other@remote.example> queued",
                         "  <%s> queued" % REMOTE,
                         "1 message in the queue"], lines
    size = int(lines[0].split()[1])
    srv.start()
    assert queue_lines(srv)[:3] == lines[:3]
    # The local recipient got it too, once.
    [stored] = inbox(srv)
    assert b"Subject: out" in stored
    assert size > len(message(subject="out"))   # Received etc. added
    r = srv.cli("queue", "flush", check=False)
    assert r.returncode == 1 and "does not send mail" in r.stderr
    assert queue_lines(srv)[:3] == lines[:3]
    assert srv.cli("queue", "remove", qid).stdout == \
        "removed %s from the queue\n" % qid
    assert queue_lines(srv) == ["the queue is empty"]
    r = srv.cli("queue", "remove", qid, check=False)
    assert r.returncode == 1 and "no queued message" in r.stderr
    r = srv.cli("queue", "remove", "../etc", check=False)
    assert r.returncode == 2


def test_queue_takes_a_large_message(custom):
    srv = sub_server(custom)
    body = b"".join(b"line %06d of a long message\r\n" % i
                    for i in range(20000))
    s = starttls_client(srv.sub)
    s.login(ALICE, PASSWORD)
    s.sendmail(ALICE, [REMOTE], b"From: alice@example.com\r\n\r\n" + body)
    s.quit()
    lines = queue_lines(srv)
    assert int(lines[0].split()[1]) > len(body), lines


def test_unknown_local_recipient_still_refused(custom):
    srv = sub_server(custom)
    with authed(srv) as c:
        assert c.cmd("MAIL FROM:<%s>" % ALICE)[0] == 250
        code, text = c.cmd("RCPT TO:<nobody@example.com>")
        assert code == 550, text


# ---- limits ----

def test_recipients_per_message(custom):
    srv = sub_server(custom, "submission.max_recipients=3")
    with authed(srv) as c:
        assert c.cmd("MAIL FROM:<%s>" % ALICE)[0] == 250
        for i in range(3):
            assert c.cmd("RCPT TO:<r%d@remote.example>" % i)[0] == 250
        code, text = c.cmd("RCPT TO:<r9@remote.example>")
        assert text == "452 4.5.3 Too many recipients", text
    assert "code=452 user=alice@example.com cause=recipient-limit" in srv.log()


def test_messages_per_hour(custom):
    srv = sub_server(custom, "submission.max_messages_per_hour=2")
    with authed(srv) as c:
        for i in range(2):
            assert c.cmd("MAIL FROM:<%s>" % ALICE)[0] == 250
            assert c.cmd("RCPT TO:<%s>" % BOB)[0] == 250
            assert send_data(c, message())[0] == 250
        code, text = c.cmd("MAIL FROM:<%s>" % ALICE)
        assert text.startswith("450 4.7.1"), text
    # Another user is not held back by alice's count.
    c, _ = raw_session(srv.sub)
    with c:
        assert c.cmd("AUTH PLAIN " + plain(user=BOB))[0] == 235
        assert c.cmd("MAIL FROM:<%s>" % BOB)[0] == 250
    assert 'code=450 user=alice@example.com cause="hourly message limit"' \
        in srv.log()


# ---- logs ----

def test_failed_logins_feed_the_documented_fail2ban_filter(custom, tmp_path):
    from test_logs import documented_filter, fail2ban_regex, run_filter
    prog = fail2ban_regex()
    srv = sub_server(custom)
    forged = "x client=203.0.113.9 result=auth-failed"
    c, _ = raw_session(srv.sub)
    with c:
        for user in (ALICE, forged, ALICE):
            code, _ = c.cmd("AUTH PLAIN " + plain(user=user,
                                                  password="wrong"))
            assert code == 535
    deadline = time.time() + 30
    want = "login client=127.0.0.1 result=auth-failed"
    while srv.log().count(want) < 3 and time.time() < deadline:
        time.sleep(0.05)
    got = run_filter(prog, srv.log_path, documented_filter(), tmp_path,
                     "posthorn")
    assert got["ip"] == ["127.0.0.1"] * 3, got


def test_empty_message_and_bdat(custom):
    srv = sub_server(custom)
    with authed(srv) as c:
        assert c.cmd("MAIL FROM:<%s>" % ALICE)[0] == 250
        assert c.cmd("RCPT TO:<%s>" % BOB)[0] == 250
        code, text = send_data(c, b"")
        assert text == "553 5.7.1 Message has no From address", text
        data = b"From: alice@example.com\r\nSubject: chunks\r\n\r\nbody\r\n"
        assert c.cmd("MAIL FROM:<%s>" % ALICE)[0] == 250
        assert c.cmd("RCPT TO:<%s>" % BOB)[0] == 250
        assert c.cmd("RCPT TO:<%s>" % REMOTE)[0] == 250
        c.send(b"BDAT 20\r\n" + data[:20])
        assert c.reply()[0] == 250
        c.send(b"BDAT %d LAST\r\n" % (len(data) - 20) + data[20:])
        code, text = c.reply()
        assert code == 250, text
    [stored] = inbox(srv)
    assert b"Subject: chunks" in stored and b"\r\nMessage-ID: <" in stored
    assert len(srv.cli("queue", "list").stdout.splitlines()) == 3


def test_scram_sha_256_on_submission(custom):
    """SCRAM-SHA-256 (RFC 5802, RFC 7677) over SMTP AUTH (RFC 4954): the
    server's challenges in 334 lines, its final message checked by the
    client (an independent SCRAM client, test_sasl.Scram), then 235; a
    wrong password gets 535, and the user can send after success."""
    from test_sasl import Scram
    srv = sub_server(custom)
    s = starttls_client(srv.sub)
    sc = Scram(ALICE, PASSWORD)
    code, text = s.docmd("AUTH", "SCRAM-SHA-256 " +
                         base64.b64encode(sc.first()).decode())
    assert code == 334, text
    final = sc.final(base64.b64decode(text))
    code, text = s.docmd(base64.b64encode(final).decode())
    assert code == 334 and base64.b64decode(text) == sc.expect, text
    code, text = s.docmd("")
    assert (code, text) == (235, b"2.7.0 Authentication successful")
    assert s.sendmail(ALICE, [BOB], message(subject="scram")) == {}
    s.quit()
    s = starttls_client(srv.sub)
    sc = Scram(ALICE, "wrong")
    code, text = s.docmd("AUTH", "SCRAM-SHA-256")
    assert code == 334 and text == b"", text
    code, text = s.docmd(base64.b64encode(sc.first()).decode())
    assert code == 334, text
    code, text = s.docmd(base64.b64encode(
        sc.final(base64.b64decode(text))).decode())
    assert code == 535, (code, text)
    s.quit()
