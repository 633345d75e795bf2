"""Real mail clients against the real server, run the way users run them:
swaks and curl (SMTP and POP3), fetchmail, Python's smtplib."""

import getpass
import os
import re
import shutil
import smtplib
import subprocess
import time
from email.message import EmailMessage

import pytest

from conftest import (PASSWORD, body_of, make_message, pop3_fetch_wait,
                      smtp_send)

ALICE = "alice@example.com"
BOB = "bob@example.com"


def tool(name):
    path = shutil.which(name)
    assert path, "%s is not installed (make check installs it)" % name
    return path


def run(args, timeout=60, **kw):
    return subprocess.run(args, capture_output=True, timeout=timeout, **kw)


def subject(msg):
    m = re.search(rb"^Subject: (.*?)\r?$", msg, re.M)
    return m.group(1).decode() if m else None


# ---- swaks ----

def test_swaks_sends(server):
    swaks = tool("swaks")
    r = run([swaks, "--server", "127.0.0.1:%d" % server.smtp_port,
             "--helo", "client.test", "--from", "sender@example.org",
             "--to", ALICE, "--header", "Subject: from swaks",
             "--body", "Hello from swaks.\n.dot line\n"])
    out = r.stdout.decode()
    assert r.returncode == 0, out + r.stderr.decode()
    assert re.search(r"<-  250 2\.0\.0 Ok: queued as \w+", out), out
    [msg] = pop3_fetch_wait(server.pop3_port, ALICE)
    assert subject(msg) == "from swaks"
    assert b"\r\nHello from swaks.\r\n.dot line\r\n" in msg


def test_swaks_pipelining_to_several(server):
    swaks = tool("swaks")
    r = run([swaks, "--server", "127.0.0.1:%d" % server.smtp_port,
             "--pipeline", "--helo", "client.test", "--from", "<>",
             "--to", "%s,%s" % (ALICE, BOB), "--header", "Subject: piped"])
    out = r.stdout.decode()
    assert r.returncode == 0, out + r.stderr.decode()
    assert "PIPELINING" in out
    for user in (ALICE, BOB):
        [msg] = pop3_fetch_wait(server.pop3_port, user)
        assert subject(msg) == "piped"
        assert msg.startswith(b"Return-Path: <>\r\n")


@pytest.mark.parametrize("rcpt, reply", [
    ("nobody@example.com", "550 5.1.1"),
    ("someone@remote.test", "554 5.7.1"),
])
def test_swaks_refused_recipient(server, rcpt, reply):
    swaks = tool("swaks")
    r = run([swaks, "--server", "127.0.0.1:%d" % server.smtp_port,
             "--helo", "client.test", "--from", "sender@example.org",
             "--to", rcpt])
    out = r.stdout.decode()
    assert r.returncode != 0, out
    assert "<** " + reply in out, out
    assert re.search(r"<-  221 ", out), out  # swaks still says goodbye


# ---- curl ----

CURL_MSG = (b"From: Sender <sender@example.org>\r\n"
            b"To: alice@example.com, bob@example.com\r\n"
            b"Subject: from curl\r\n"
            b"Message-Id: <curl-1@client.test>\r\n"
            b"\r\n"
            b".dot line\r\n"
            b"..two dots\r\n"
            b".\r\n"
            b"\xc3\xa4\xc3\xb6\xc3\xbc 8bit\r\n"
            b"last line\r\n")


def curl_pop3(curl, srv, path="", *extra, user=ALICE):
    # A maildrop still locked by the session that just answered QUIT
    # makes curl fail the login (67): that is given a few seconds.
    deadline = time.time() + 5
    while True:
        r = run([curl, "-sS", "-u", "%s:%s" % (user, PASSWORD), *extra,
                 "pop3://127.0.0.1:%d/%s" % (srv.pop3_port, path)])
        if r.returncode != 67 or time.time() > deadline:
            break
        time.sleep(0.05)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


def test_curl_smtp_upload_and_pop3_retrieve(server, tmp_path):
    curl = tool("curl")
    f = tmp_path / "msg.eml"
    f.write_bytes(CURL_MSG)
    r = run([curl, "-sS", "--url", "smtp://127.0.0.1:%d" % server.smtp_port,
             "--mail-from", "sender@example.org", "--mail-rcpt", ALICE,
             "--mail-rcpt", BOB, "-T", str(f)])
    assert r.returncode == 0, r.stderr.decode()
    for user in (ALICE, BOB):
        listing = curl_pop3(curl, server, user=user)
        m = re.fullmatch(rb"1 (\d+)\r\n", listing)
        assert m, listing
        got = curl_pop3(curl, server, "1", user=user)
        assert len(got) == int(m.group(1))
        assert body_of(got) == CURL_MSG
        assert got.startswith(b"Return-Path: <sender@example.org>\r\n")
        # curl's SASL PLAIN with an initial response logs in as well.
        assert curl_pop3(curl, server, "1", "--sasl-ir", user=user) == got
    uidl = curl_pop3(curl, server, "", "-X", "UIDL")
    assert re.fullmatch(rb"1 \S+\r\n", uidl), uidl
    # DELE through curl, then the maildrop is empty.
    curl_pop3(curl, server, "1", "-X", "DELE", "-I")
    # (curl prints an empty listing as a bare CRLF.)
    assert curl_pop3(curl, server).strip() == b""
    assert len(pop3_fetch_wait(server.pop3_port, BOB)) == 1


def test_curl_smtp_refused_recipient(server, tmp_path):
    curl = tool("curl")
    f = tmp_path / "msg.eml"
    f.write_bytes(make_message("curl-refused"))
    base = [curl, "-sS", "--url", "smtp://127.0.0.1:%d" % server.smtp_port,
            "--mail-from", "sender@example.org", "-T", str(f)]
    r = run(base + ["--mail-rcpt", "nobody@example.com"])
    assert r.returncode != 0
    assert b"550" in r.stderr, r.stderr
    r = run(base + ["--mail-rcpt", "nobody@example.com", "--mail-rcpt", ALICE,
                    "--mail-rcpt-allowfails"])
    assert r.returncode == 0, r.stderr.decode()
    [msg] = pop3_fetch_wait(server.pop3_port, ALICE)
    assert subject(msg) == "curl-refused"


def test_curl_pop3_bad_password(server):
    curl = tool("curl")
    r = run([curl, "-sS", "-u", "%s:wrong" % ALICE,
             "pop3://127.0.0.1:%d/" % server.pop3_port])
    assert r.returncode == 67, (r.returncode, r.stderr)  # login denied


# ---- fetchmail ----

def fetchmail(srv, home, *args):
    """Run fetchmail with a generated rc file in `home`; returns
    (exit code, output)."""
    prog = tool("fetchmail")
    rc = home / "fetchmailrc"
    if not rc.exists():
        rc.write_text(
            "set no bouncemail\n"
            "poll 127.0.0.1 with proto POP3 port %d\n"
            "  user \"%s\" there with password \"%s\" is \"%s\" here\n"
            "  sslproto '' no rewrite\n"
            % (srv.pop3_port, ALICE, PASSWORD, getpass.getuser()))
        rc.chmod(0o600)
    env = dict(os.environ, HOME=str(home), FETCHMAILHOME=str(home))
    deadline = time.time() + 5
    while True:
        r = run([prog, "--fetchmailrc", str(rc), "--pidfile",
                 str(home / "fetchmail.pid"), "-p", "POP3", *args], env=env,
                timeout=120)
        # 9: the maildrop is still locked by the session that has just
        # answered QUIT; that is given a few seconds.
        if r.returncode != 9 or time.time() > deadline:
            return r.returncode, (r.stdout + r.stderr).decode("utf-8",
                                                               "replace")
        time.sleep(0.05)


def without_fetchmail_received(msg):
    """fetchmail adds a Received header of its own; drop it."""
    lines = msg.split(b"\n")
    for i, line in enumerate(lines):
        if line.startswith(b"Received: ") and i + 1 < len(lines):
            end = i + 1
            while lines[end][:1] in (b" ", b"\t"):
                end += 1
            if b"fetchmail" in b"\n".join(lines[i:end]):
                return b"\n".join(lines[:i] + lines[end:])
    raise AssertionError("no fetchmail Received header in %r" % msg[:300])


def test_fetchmail_keep_then_nokeep(server, tmp_path):
    home = tmp_path / "home"
    out = home / "out"
    out.mkdir(parents=True)
    mda = "cat > \"$(mktemp %s/msg.XXXXXX)\"" % out
    msgs = [make_message("fm%d" % i, body=b".dot\r\n..two\r\nline %d\r\n" % i)
            for i in range(3)]
    for m in msgs:
        assert smtp_send(server.smtp_port, ALICE, m)[0] == 250
    stored = pop3_fetch_wait(server.pop3_port, ALICE)

    code, log = fetchmail(server, home, "--keep", "--mda", mda)
    assert code == 0, log
    got = sorted(p.read_bytes() for p in out.iterdir())
    # fetchmail hands the MDA LF line ends.
    assert sorted(without_fetchmail_received(g) for g in got) == sorted(
        s.replace(b"\r\n", b"\n") for s in stored)
    assert len(pop3_fetch_wait(server.pop3_port, ALICE)) == 3

    # With --keep, fetchmail remembers what it saw by UIDL: only the new
    # message comes the next time.
    assert smtp_send(server.smtp_port, ALICE, make_message("fm-new"))[0] == 250
    code, log = fetchmail(server, home, "--keep", "--mda", mda)
    assert code == 0, log
    assert sorted(subject(p.read_bytes()) for p in out.iterdir()) == [
        "fm-new", "fm0", "fm1", "fm2"]

    # Now fetch everything and delete it on the server.
    bsmtp = home / "bsmtp"
    code, log = fetchmail(server, home, "--nokeep", "--all", "--bsmtp",
                          str(bsmtp))
    assert code == 0, log
    text = bsmtp.read_bytes()
    assert text.count(b"MAIL FROM:<sender@example.org>") == 4
    assert sorted(re.findall(rb"^Subject: (\S+)\r?$", text, re.M)) == [
        b"fm-new", b"fm0", b"fm1", b"fm2"]
    assert b"\n..dot\r\n...two\r\n" in text  # BSMTP is dot-stuffed again
    assert pop3_fetch_wait(server.pop3_port, ALICE) == []
    code, log = fetchmail(server, home, "--check")
    assert code == 1, log  # 1: no mail


def test_fetchmail_message_with_bare_lf_dot_line(server, tmp_path):
    """A sender can put a bare-LF "." line in a message (it does not end
    DATA).  fetchmail, like most clients, reads LF-ended lines: the
    message must still arrive whole and the session stay in step."""
    home = tmp_path / "home"
    out = home / "out"
    out.mkdir(parents=True)
    mda = "cat > \"$(mktemp %s/msg.XXXXXX)\"" % out
    evil = make_message("evil", body=b"hello\n.\n+OK 1 1\r\nmore\r\n")
    for m in (evil, make_message("fine")):
        assert smtp_send(server.smtp_port, ALICE, m)[0] == 250
    code, log = fetchmail(server, home, "--nokeep", "--all", "--mda", mda)
    got = {subject(p.read_bytes()): p.read_bytes() for p in out.iterdir()}
    assert code == 0, log
    assert sorted(got) == ["evil", "fine"], log
    assert got["evil"].endswith(b"\nmore\n"), got["evil"][-60:]
    assert pop3_fetch_wait(server.pop3_port, ALICE) == []


def test_fetchmail_bad_password(server, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    rc = home / "fetchmailrc"
    rc.write_text("poll 127.0.0.1 with proto POP3 port %d\n"
                  "  user \"%s\" there with password \"wrong\""
                  " is \"%s\" here\n"
                  "  sslproto ''\n"
                  % (server.pop3_port, ALICE, getpass.getuser()))
    rc.chmod(0o600)
    code, log = fetchmail(server, home, "--check")
    assert code == 3, log  # 3: authentication failed


# ---- smtplib ----

def test_smtplib_many_recipients(server):
    users = ["user%02d@example.com" % i for i in range(12)]
    for u in users:
        server.add_user(u)
    server.cli("alias", "add", "team@example.com", *users[:4])
    rcpts = (users + ["%s+tag@example.com" % u.split("@")[0]
                      for u in users[:6]] +
             ["team@example.com", ALICE, BOB, "ALICE@EXAMPLE.COM",
              "ghost1@example.com", "ghost2@example.com",
              "far@remote.test"])
    msg = make_message("many")
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=30) as s:
        refused = s.sendmail("sender@example.org", rcpts, msg)
    assert sorted(refused) == ["far@remote.test", "ghost1@example.com",
                               "ghost2@example.com"]
    assert refused["ghost1@example.com"][0] == 550
    assert refused["far@remote.test"][0] == 554
    # Exactly one copy per mailbox, however many ways it was addressed.
    for u in users + [ALICE, BOB]:
        got = pop3_fetch_wait(server.pop3_port, u)
        assert [body_of(m) for m in got] == [msg], u


def test_smtplib_send_message_utf8(server):
    m = EmailMessage()
    m["From"] = "J\u00fcrgen <j\u00fcrgen@example.org>"
    m["To"] = ALICE
    m["Subject"] = "Gr\u00fc\u00dfe \u2709"
    m.set_content("Hallo Alice,\n\u00e4\u00f6\u00fc \u65e5\u672c\n.\n")
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=30) as s:
        assert s.send_message(m) == {}
    [msg] = pop3_fetch_wait(server.pop3_port, ALICE)
    assert msg.startswith("Return-Path: <j\u00fcrgen@example.org>\r\n"
                          .encode())
    # SMTPUTF8 lets smtplib send the header in UTF-8 as it is.
    assert body_of(msg) == m.as_bytes(
        policy=m.policy.clone(utf8=True, linesep="\r\n"))
