"""IMAP over TLS: IMAPS (implicit TLS, RFC 8314) and STARTTLS (RFC 9051
6.2.1), with Python's imaplib, openssl s_client and curl as clients, and
mbsync and fetchmail (IMAPS, POP3S) checking the certificate."""

import imaplib
import os
import re
import socket
import subprocess

import pytest

from conftest import PASSWORD, free_port, smtp_send, make_message
from test_tls import no_verify

ALICE = "alice@example.com"


def imaps_server(custom, *sets):
    port = free_port()
    srv = custom("listen.imaps=127.0.0.1:%d" % port, *sets)
    srv.imaps_port = port
    return srv


def test_imaps_with_imaplib(custom):
    srv = imaps_server(custom)
    code, text = smtp_send(srv.smtp_port, ALICE, make_message("over tls"))
    assert code == 250, text
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port,
                          ssl_context=no_verify(), timeout=30)
    assert "STARTTLS" not in m.capabilities
    assert "AUTH=PLAIN" in m.capabilities
    m.login(ALICE, PASSWORD)
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"1"]
    typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK" and b"Subject: over tls" in data[0][1]
    m.logout()
    assert re.search(r"imap\[\w+\] tls client=127\.0\.0\.1 version=TLSv1\.[23] ",
                     srv.log())


def test_starttls_with_imaplib(custom):
    srv = custom("auth.allow_insecure=no")
    m = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=30)
    # Before TLS: no password may be sent, and the client is told so.
    assert "STARTTLS" in m.capabilities
    assert "LOGINDISABLED" in m.capabilities
    assert "AUTH=PLAIN" not in m.capabilities
    try:
        m.login(ALICE, PASSWORD)
        raise AssertionError("LOGIN accepted before TLS")
    except imaplib.IMAP4.error as e:
        assert "PRIVACYREQUIRED" in str(e), e
    m.starttls(ssl_context=no_verify())
    # imaplib asks again after the handshake (RFC 9051 6.2.1).
    assert "STARTTLS" not in m.capabilities
    assert "LOGINDISABLED" not in m.capabilities
    assert "AUTH=PLAIN" in m.capabilities
    typ, _ = m.login(ALICE, PASSWORD)
    assert typ == "OK"
    typ, data = m.select("INBOX")
    assert typ == "OK"
    m.logout()


def test_starttls_twice_refused(custom):
    srv = custom()
    m = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=30)
    m.starttls(ssl_context=no_verify())
    tag = m._new_tag()
    m.send(tag + b" STARTTLS\r\n")
    line = m.readline()
    assert re.match(rb"\S+ BAD ", line), line
    m.logout()


def test_starttls_injection_is_discarded(custom):
    """Commands sent in the same packet as STARTTLS are never run: after
    the handshake the server answers only what comes over TLS."""
    srv = custom()
    with socket.create_connection(("127.0.0.1", srv.imap_port), 30) as s:
        f = s.makefile("rb")
        assert f.readline().startswith(b"* OK")
        s.sendall(b"a STARTTLS\r\nb LOGIN alice@example.com x\r\n"
                  b"c CREATE Injected\r\n")
        assert f.readline() == b"a OK Begin TLS negotiation now\r\n"
        t = no_verify().wrap_socket(s, server_hostname="mx.test")
        t.sendall(b"d CAPABILITY\r\n")
        got = b""
        while not got.endswith(b"d OK CAPABILITY completed\r\n"):
            chunk = t.recv(4096)
            assert chunk, got
            got += chunk
        assert b"b " not in got and b"c " not in got, got
        t.sendall(b"e LOGOUT\r\n")
    m = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=30)
    m.login(ALICE, PASSWORD)
    typ, data = m.list('""', "Injected")
    assert data == [None], data
    m.logout()


def test_openssl_s_client_starttls_imap(custom):
    srv = custom()
    r = subprocess.run(
        ["openssl", "s_client", "-quiet", "-starttls", "imap",
         "-connect", "127.0.0.1:%d" % srv.imap_port],
        input=("a LOGIN %s \"%s\"\r\nb SELECT INBOX\r\nc LOGOUT\r\n"
               % (ALICE, PASSWORD)).encode(),
        capture_output=True, timeout=60)
    out = r.stdout.replace(b"\r\n", b"\n")
    assert b"a OK" in out, out + r.stderr
    assert b"b OK [READ-WRITE]" in out, out
    assert b"* BYE" in out, out


def test_curl_imaps(custom):
    srv = imaps_server(custom)
    code, text = smtp_send(srv.smtp_port, ALICE, make_message("curl tls"))
    assert code == 250, text
    r = subprocess.run(
        ["curl", "-sS", "--insecure", "-u", "%s:%s" % (ALICE, PASSWORD),
         "imaps://127.0.0.1:%d/INBOX;UID=1" % srv.imaps_port],
        capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert b"Subject: curl tls" in r.stdout
    r = subprocess.run(
        ["curl", "-sS", "--insecure", "--ssl-reqd", "-u",
         "%s:%s" % (ALICE, PASSWORD),
         "imap://127.0.0.1:%d/INBOX;UID=1" % srv.imap_port],
        capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert b"Subject: curl tls" in r.stdout


def test_imaps_refuses_clear_text(custom):
    """A client that speaks IMAP in clear text to the IMAPS port gets no
    IMAP greeting: the server waits for a TLS handshake and drops it."""
    srv = imaps_server(custom)
    with socket.create_connection(("127.0.0.1", srv.imaps_port), 30) as s:
        s.sendall(b"a CAPABILITY\r\n")
        s.settimeout(30)
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        assert b"* OK" not in data, data
    ctx = no_verify()
    with socket.create_connection(("127.0.0.1", srv.imaps_port), 30) as s:
        with ctx.wrap_socket(s, server_hostname="mx.test") as t:
            assert t.recv(4096).startswith(b"* OK [CAPABILITY")


# ---- real clients that check the certificate ----

def self_signed(srv):
    """The certificate the server made for itself (DATA/tls), which a
    client is told to trust."""
    return os.path.join(srv.data, "tls", "self-signed.pem")


@pytest.mark.parametrize("ssltype", ["IMAPS", "STARTTLS"])
def test_mbsync_over_tls(custom, tmp_path, ssltype):
    """mbsync syncs over IMAPS and over STARTTLS, trusting the server's
    self-signed certificate (CertificateFile): both ways, a message
    delivered over SMTP arrives, and one written locally is appended."""
    from test_imap_clients import mbsync, mbsync_config
    srv = imaps_server(custom)
    code, text = smtp_send(srv.smtp_port, ALICE, make_message("tls sync"))
    assert code == 250, text
    cfg, root = mbsync_config(srv, tmp_path, mech="PLAIN")
    port = srv.imaps_port if ssltype == "IMAPS" else srv.imap_port
    text = cfg.read_text()
    text = text.replace("Port %d\n" % srv.imap_port, "Port %d\n" % port)
    text = text.replace("SSLType None\n", "SSLType %s\nCertificateFile %s\n"
                        % (ssltype, self_signed(srv)))
    cfg.write_text(text)
    mbsync(cfg)
    new = os.listdir(root / "INBOX" / "new") + \
        os.listdir(root / "INBOX" / "cur")
    assert len(new) == 1, new
    where = "new" if os.listdir(root / "INBOX" / "new") else "cur"
    with open(root / "INBOX" / where / new[0], "rb") as f:
        assert b"Subject: tls sync" in f.read()
    drafts = root / "Drafts" / "cur"
    drafts.mkdir(parents=True, exist_ok=True)
    (drafts / "100.local:2,D").write_bytes(make_message("draft over tls"))
    mbsync(cfg)
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port,
                          ssl_context=no_verify(), timeout=30)
    m.login(ALICE, PASSWORD)
    typ, data = m.select("Drafts")
    assert typ == "OK" and data == [b"1"], data
    m.logout()
    assert re.search(r"imap\[\w+\] tls client=127\.0\.0\.1 version=TLSv1\.3",
                     srv.log())


@pytest.mark.parametrize("proto", ["IMAP", "POP3"])
def test_fetchmail_over_tls(custom, tmp_path, proto):
    """fetchmail fetches over IMAPS and POP3S (ssl), checking the
    certificate against the server's own (sslcertfile) and its name
    (server.hostname of the test servers)."""
    pop3s = free_port()
    srv = imaps_server(custom, "listen.pop3s=127.0.0.1:%d" % pop3s)
    code, text = smtp_send(srv.smtp_port, ALICE, make_message("fetched"))
    assert code == 250, text
    out = tmp_path / "mbox"
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        'poll 127.0.0.1 service %d protocol %s auth password\n'
        '  user "%s" password "%s" is "nobody" here\n'
        '  ssl sslcertck sslcertfile "%s" sslcommonname mx.test\n'
        '  sslproto TLS1.2+\n'
        '  keep mda "/bin/sh -c \'cat >> %s\'"\n'
        % (srv.imaps_port if proto == "IMAP" else pop3s, proto, ALICE,
           PASSWORD, self_signed(srv), out))
    rc.chmod(0o600)
    r = subprocess.run(["fetchmail", "--fetchmailrc", str(rc), "--pidfile",
                        str(tmp_path / "pid"), "--nosyslog", "-v"],
                       capture_output=True, timeout=120,
                       env=dict(os.environ, HOME=str(tmp_path)))
    log = r.stdout.decode() + r.stderr.decode()
    assert r.returncode == 0, log
    assert b"Subject: fetched" in out.read_bytes(), log
