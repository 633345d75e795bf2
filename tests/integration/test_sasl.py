"""SASL mechanisms on IMAP AUTHENTICATE and POP3 AUTH: LOGIN
(draft-murchison-sasl-login), SCRAM-SHA-256 (RFC 5802, RFC 7677) and
SCRAM-SHA-256-PLUS with the tls-exporter binding (RFC 9266).

The SCRAM client here is written from RFC 5802 with hashlib and hmac, and
checked against RFC 7677's example first, so that the server is tested
against an implementation of its own.  -PLUS needs the TLS exporter, which
Python's ssl module does not give: openssl s_client computes it
(-keymatexport) and carries the session."""

import base64
import hashlib
import hmac
import imaplib
import os
import poplib
import queue
import re
import ssl
import subprocess
import threading

import pytest

from conftest import PASSWORD, free_port
from test_imap import Imap
from test_tls import no_verify

ALICE = "alice@example.com"
B64 = lambda b: base64.b64encode(b).decode()


def saslname(name):
    return name.replace(b"=", b"=3D").replace(b",", b"=2C")


class Scram:
    """The client side of SCRAM-SHA-256, RFC 5802 section 3."""

    def __init__(self, user, password, gs2=b"n,,", cb=b"", nonce=None):
        self.user = user.encode() if isinstance(user, str) else user
        self.password = password.encode() if isinstance(password, str) \
            else password
        self.gs2 = gs2
        self.cb = cb
        self.nonce = nonce or base64.b64encode(os.urandom(18))
        self.expect = None

    def first(self):
        self.bare = b"n=" + saslname(self.user) + b",r=" + self.nonce
        return self.gs2 + self.bare

    def final(self, server_first):
        attrs = dict(a.split(b"=", 1) for a in server_first.split(b","))
        r, salt, i = attrs[b"r"], base64.b64decode(attrs[b"s"]), \
            int(attrs[b"i"])
        assert r.startswith(self.nonce) and len(r) > len(self.nonce)
        self.salt, self.iterations = salt, i
        salted = hashlib.pbkdf2_hmac("sha256", self.password, salt, i)
        ckey = hmac.new(salted, b"Client Key", "sha256").digest()
        stored = hashlib.sha256(ckey).digest()
        without = b"c=" + base64.b64encode(self.gs2 + self.cb) + b",r=" + r
        am = self.bare + b"," + server_first + b"," + without
        sig = hmac.new(stored, am, "sha256").digest()
        proof = bytes(a ^ b for a, b in zip(ckey, sig))
        skey = hmac.new(salted, b"Server Key", "sha256").digest()
        self.expect = b"v=" + base64.b64encode(
            hmac.new(skey, am, "sha256").digest())
        return without + b",p=" + base64.b64encode(proof)


def test_client_matches_rfc7677():
    """The client of these tests, on RFC 7677's example."""
    c = Scram("user", "pencil", nonce=b"rOprNGfwEbeRWgbNEkqO")
    assert c.first() == b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    final = c.final(b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                    b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
    assert final == (b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)"
                     b"hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    assert c.expect == b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


# ---- IMAP ----

def caps(c):
    untagged, tagged = c.cmd("CAPABILITY")
    assert b" OK" in tagged
    return untagged[0].decode().split()[2:]


def imap_scram(c, user, password, mech="SCRAM-SHA-256", ir=True, **kw):
    """AUTHENTICATE with SCRAM on an Imap; returns the tagged reply and
    the client (its expect is the server-final it should have got)."""
    sc = Scram(user, password, **kw)
    tag = c.tag()
    if ir:
        c.send("%s AUTHENTICATE %s %s\r\n" % (tag, mech, B64(sc.first())))
    else:
        c.send("%s AUTHENTICATE %s\r\n" % (tag, mech))
        assert c.response() == b"+ "
        c.send(B64(sc.first()) + "\r\n")
    r = c.response()
    if not r.startswith(b"+ "):
        return r, sc
    c.send(B64(sc.final(base64.b64decode(r[2:]))) + "\r\n")
    r = c.response()
    if not r.startswith(b"+ "):
        return r, sc
    assert base64.b64decode(r[2:]) == sc.expect, r
    c.send("\r\n")
    return c.response(), sc


def test_imap_capability_lists_mechanisms(server):
    with Imap(server.imap_port) as c:
        cs = caps(c)
        for m in ("AUTH=PLAIN", "AUTH=LOGIN", "AUTH=SCRAM-SHA-256"):
            assert m in cs, cs
        # No TLS, no channel binding.
        assert "AUTH=SCRAM-SHA-256-PLUS" not in cs, cs


def test_imap_scram_with_imaplib(server):
    m = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=30)
    sc = Scram(ALICE, PASSWORD)
    seen = []

    def step(challenge):
        seen.append(challenge)
        if len(seen) == 1:
            return sc.first()
        if len(seen) == 2:
            return sc.final(challenge)
        assert challenge == sc.expect
        return b""

    typ, _ = m.authenticate("SCRAM-SHA-256", step)
    assert typ == "OK" and len(seen) == 3
    assert sc.iterations == 4096 and len(sc.salt) == 16
    assert m.select("INBOX")[0] == "OK"
    m.logout()
    assert re.search(r" login client=127\.0\.0\.1 result=ok "
                     r"mech=SCRAM-SHA-256 user=alice@example\.com",
                     server.log())


def test_imap_scram_initial_response_and_failures(server):
    with Imap(server.imap_port) as c:
        tagged, _ = imap_scram(c, ALICE, "wrong")
        assert re.match(rb"t\d+ NO \[AUTHENTICATIONFAILED\]", tagged), tagged
        tagged, _ = imap_scram(c, ALICE, PASSWORD, ir=False)
        assert re.match(rb"t\d+ OK \[CAPABILITY ", tagged), tagged
        c.select()
    # An unknown user gets a salt and iterations as a real one does, the
    # same salt each time, and fails as a wrong password does.
    with Imap(server.imap_port) as c:
        t1, s1 = imap_scram(c, "nobody@example.com", PASSWORD)
        t2, s2 = imap_scram(c, "nobody@example.com", PASSWORD)
        t3, s3 = imap_scram(c, "bob@example.com", "wrong")
        assert t1[3:] == t2[3:] == t3[3:]
        assert t1.split(b" ", 1)[1].startswith(b"NO [AUTHENTICATIONFAILED]")
        assert s1.salt == s2.salt and len(s1.salt) == len(s3.salt) == 16
        assert s1.iterations == s3.iterations == 4096
        assert s1.salt != s3.salt


def test_imap_scram_malformed(server):
    with Imap(server.imap_port) as c:
        for bad in ["!!!", B64(b"x,,n=alice,r=abc"),
                    B64(b"n,,n=alice@example.com"),
                    B64(b"p=tls-exporter,,n=alice@example.com,r=abc"),
                    B64(b"n,a=bob@example.com,n=alice@example.com,r=abc"),
                    B64(b"n,,m=ext,n=alice@example.com,r=abc")]:
            _, tagged = c.cmd("AUTHENTICATE SCRAM-SHA-256 " + bad)
            assert re.match(rb"t\d+ BAD", tagged), (bad, tagged)
        # A bad client-final: BAD; a cancel: BAD; the session goes on.
        tag = c.tag()
        c.send("%s AUTHENTICATE SCRAM-SHA-256 %s\r\n" % (
            tag, B64(b"n,,n=alice@example.com,r=abc")))
        assert c.response().startswith(b"+ ")
        c.send(B64(b"c=biws,r=abc,p=short") + "\r\n")
        assert c.response().startswith(tag.encode() + b" BAD")
        tag = c.tag()
        c.send("%s AUTHENTICATE SCRAM-SHA-256\r\n" % tag)
        assert c.response() == b"+ "
        c.send("*\r\n")
        assert c.response().startswith(tag.encode() + b" BAD")
        # The server-final must be answered with an empty response.
        sc = Scram(ALICE, PASSWORD)
        tag = c.tag()
        c.send("%s AUTHENTICATE SCRAM-SHA-256 %s\r\n" % (tag, B64(sc.first())))
        r = c.response()
        c.send(B64(sc.final(base64.b64decode(r[2:]))) + "\r\n")
        assert base64.b64decode(c.response()[2:]) == sc.expect
        c.send("AAAA\r\n")
        assert c.response().startswith(tag.encode() + b" BAD")
        c.login()
    log = server.log()
    # Malformed exchanges are protocol errors, not failed logins.
    assert "result=auth-failed" not in log, log[-3000:]
    assert re.search(r" auth-error client=127\.0\.0\.1 mech=SCRAM-SHA-256 "
                     r"cause=", log), log[-3000:]


def test_imap_login_mechanism(server):
    u, p = B64(ALICE.encode()), B64(PASSWORD.encode())
    with Imap(server.imap_port) as c:
        tag = c.tag()
        c.send("%s AUTHENTICATE LOGIN\r\n" % tag)
        assert c.response() == b"+ VXNlcm5hbWU6"
        c.send(u + "\r\n")
        assert c.response() == b"+ UGFzc3dvcmQ6"
        c.send(B64(b"wrong") + "\r\n")
        assert c.response().startswith(tag.encode() +
                                       b" NO [AUTHENTICATIONFAILED]")
        # The user name as the initial response.
        tag = c.tag()
        c.send("%s AUTHENTICATE LOGIN %s\r\n" % (tag, u))
        assert c.response() == b"+ UGFzc3dvcmQ6"
        c.send("not base64!\r\n")
        assert c.response().startswith(tag.encode() + b" BAD")
        tag = c.tag()
        c.send("%s authenticate login\r\n" % tag)
        assert c.response() == b"+ VXNlcm5hbWU6"
        c.send("*\r\n")
        assert c.response().startswith(tag.encode() + b" BAD")
        tag = c.tag()
        c.send("%s AUTHENTICATE LOGIN %s\r\n" % (tag, u))
        assert c.response() == b"+ UGFzc3dvcmQ6"
        c.send(p + "\r\n")
        assert c.response().startswith(tag.encode() + b" OK")
        c.select()
    m = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=30)
    answers = iter([ALICE.encode(), PASSWORD.encode()])
    typ, _ = m.authenticate("LOGIN", lambda _: next(answers))
    assert typ == "OK"
    m.logout()


def test_imap_mechanisms_refused_before_tls(custom):
    srv = custom("auth.allow_insecure=no")
    with Imap(srv.imap_port) as c:
        cs = caps(c)
        assert "LOGINDISABLED" in cs and not [
            x for x in cs if x.startswith("AUTH=")], cs
        for mech in ("LOGIN", "SCRAM-SHA-256"):
            _, tagged = c.cmd("AUTHENTICATE " + mech)
            assert b"NO [PRIVACYREQUIRED]" in tagged, tagged


# ---- secrets follow the password ----

def test_scram_secret_follows_password(custom):
    """user passwd makes a new secret and the old password stops working;
    user import of a plain-text password makes one too."""
    srv = custom(before_start=lambda srv: srv.cli(
        "user", "passwd", ALICE, input="second one\n"))
    with Imap(srv.imap_port) as c:
        tagged, _ = imap_scram(c, ALICE, PASSWORD)
        assert b"NO [AUTHENTICATIONFAILED]" in tagged, tagged
        tagged, _ = imap_scram(c, ALICE, "second one")
        assert re.match(rb"t\d+ OK", tagged), tagged
    path = os.path.join(os.path.dirname(srv.data), "import.csv")
    with open(path, "w") as f:
        f.write("carol@example.com,%s\n" % PASSWORD)
    srv.cli("user", "import", path)
    with Imap(srv.imap_port) as c:
        tagged, _ = imap_scram(c, "carol@example.com", PASSWORD)
        assert re.match(rb"t\d+ OK", tagged), tagged


def test_scram_secret_made_at_password_login(custom):
    """A user imported as a crypt hash has no SCRAM secret (a hash cannot
    give one): SCRAM fails as a wrong password would, until a PLAIN or
    LOGIN login makes the secret from the password."""
    crypt = subprocess.run(["openssl", "passwd", "-6", "-salt", "saltsalt",
                            PASSWORD], capture_output=True, text=True,
                           check=True).stdout.strip()

    def add(srv):
        path = os.path.join(os.path.dirname(srv.data), "hashes.csv")
        with open(path, "w") as f:
            f.write("dave@example.com,{SHA512-CRYPT}%s\n" % crypt)
        srv.cli("user", "import", path)

    srv = custom(before_start=add)
    dave = "dave@example.com"
    with Imap(srv.imap_port) as c:
        tagged, _ = imap_scram(c, dave, PASSWORD)
        assert b"NO [AUTHENTICATIONFAILED]" in tagged, tagged
        plain = B64(b"\0" + dave.encode() + b"\0" + PASSWORD.encode())
        _, tagged = c.cmd("AUTHENTICATE PLAIN " + plain)
        assert re.match(rb"t\d+ OK", tagged), tagged
    with Imap(srv.imap_port) as c:
        tagged, _ = imap_scram(c, dave, PASSWORD)
        assert re.match(rb"t\d+ OK", tagged), tagged
    assert re.search(r"auth scram-secret result=stored "
                     r"user=dave@example\.com", srv.log()), srv.log()[-3000:]


# ---- POP3 ----

def pop3(srv):
    return poplib.POP3("127.0.0.1", srv.pop3_port, timeout=30)


def test_pop3_capa_and_auth_list(server):
    p = pop3(server)
    assert p.capa()["SASL"] == ["PLAIN", "LOGIN", "SCRAM-SHA-256"]
    resp, lines, _ = p._longcmd("AUTH")
    assert lines == [b"PLAIN", b"LOGIN", b"SCRAM-SHA-256"]
    p.quit()


def test_pop3_scram(server):
    p = pop3(server)
    sc = Scram(ALICE, PASSWORD)
    r = p._shortcmd("AUTH SCRAM-SHA-256 " + B64(sc.first()))
    assert r.startswith(b"+ ")
    r = p._shortcmd(B64(sc.final(base64.b64decode(r[2:]))))
    assert base64.b64decode(r[2:]) == sc.expect
    assert p._shortcmd("").startswith(b"+OK")
    assert p.stat() == (0, 0)
    p.quit()
    # Without an initial response, and with a wrong password.
    p = pop3(server)
    sc = Scram(ALICE, "wrong")
    assert p._shortcmd("AUTH SCRAM-SHA-256") == b"+ "
    r = p._shortcmd(B64(sc.first()))
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\]"):
        p._shortcmd(B64(sc.final(base64.b64decode(r[2:]))))
    # Malformed: -ERR without [AUTH], and not a login failure.
    with pytest.raises(poplib.error_proto) as e:
        p._shortcmd("AUTH SCRAM-SHA-256 " + B64(b"n,,r=x"))
    assert b"[AUTH]" not in e.value.args[0]
    assert p._shortcmd("AUTH SCRAM-SHA-256") == b"+ "
    with pytest.raises(poplib.error_proto, match="canceled"):
        p._shortcmd("*")
    p.quit()


def test_pop3_login_mechanism(server):
    p = pop3(server)
    assert p._shortcmd("AUTH LOGIN") == b"+ VXNlcm5hbWU6"
    assert p._shortcmd(B64(ALICE.encode())) == b"+ UGFzc3dvcmQ6"
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\]"):
        p._shortcmd(B64(b"wrong"))
    assert p._shortcmd("AUTH LOGIN " + B64(ALICE.encode())) == \
        b"+ UGFzc3dvcmQ6"
    with pytest.raises(poplib.error_proto) as e:
        p._shortcmd("%%%")
    assert b"[AUTH]" not in e.value.args[0]
    assert p._shortcmd("AUTH LOGIN " + B64(ALICE.encode())) == \
        b"+ UGFzc3dvcmQ6"
    assert p._shortcmd(B64(PASSWORD.encode())).startswith(b"+OK")
    assert p.stat() == (0, 0)
    p.quit()
    log = server.log()
    assert len(re.findall(r"pop3\[\w+\] login client=127\.0\.0\.1 "
                          r"result=auth-failed", log)) == 1, log[-3000:]


# ---- over TLS: SCRAM-SHA-256-PLUS ----

def tls_server(custom):
    imaps, pop3s = free_port(), free_port()
    srv = custom("listen.imaps=127.0.0.1:%d" % imaps,
                 "listen.pop3s=127.0.0.1:%d" % pop3s)
    srv.imaps_port, srv.pop3s_port = imaps, pop3s
    return srv


def test_plus_offered_only_with_a_binding(custom):
    srv = tls_server(custom)
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port,
                          ssl_context=no_verify(), timeout=30)
    assert "AUTH=SCRAM-SHA-256-PLUS" in m.capabilities
    # The greeting, written before the handshake, offers it too.
    assert b" AUTH=SCRAM-SHA-256-PLUS" in m.welcome, m.welcome
    m.logout()
    # TLS 1.2 with the extended master secret, as clients do by default.
    ctx = no_verify(maximum=ssl.TLSVersion.TLSv1_2)
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=ctx,
                          timeout=30)
    assert "AUTH=SCRAM-SHA-256-PLUS" in m.capabilities
    m.logout()
    # TLS 1.2 without it (OpenSSL's SSL_OP_NO_EXTENDED_MASTER_SECRET):
    # the exporter would not be unique to the connection (RFC 9266 3).
    ctx = no_verify(maximum=ssl.TLSVersion.TLSv1_2)
    ctx.options |= 0x1
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=ctx,
                          timeout=30)
    assert "AUTH=SCRAM-SHA-256" in m.capabilities
    assert "AUTH=SCRAM-SHA-256-PLUS" not in m.capabilities
    typ, data = m._simple_command("AUTHENTICATE", "SCRAM-SHA-256-PLUS")
    assert typ == "NO", (typ, data)
    m.logout()
    p = poplib.POP3_SSL("127.0.0.1", srv.pop3s_port, context=no_verify(),
                        timeout=30)
    assert "SCRAM-SHA-256-PLUS" in p.capa()["SASL"]
    p.quit()


class SClient:
    """openssl s_client over TLS 1.3, printing the connection's
    tls-exporter value (RFC 9266: label EXPORTER-Channel-Binding, 32
    bytes; under TLS 1.3 no context and an empty one are the same)."""

    def __init__(self, port):
        self.proc = subprocess.Popen(
            ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
             "-tls1_3", "-crlf", "-nocommands", "-ign_eof",
             "-keymatexport", "EXPORTER-Channel-Binding",
             "-keymatexportlen", "32"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.cb = None
        while self.cb is None:
            line = self.line()
            m = re.match(rb"\s*Keying material: ([0-9A-Fa-f]{64})$", line)
            if m:
                self.cb = bytes.fromhex(m.group(1).decode())

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip(b"\r\n"))
        self.lines.put(None)

    def line(self):
        line = self.lines.get(timeout=30)
        assert line is not None, "s_client ended"
        return line

    def until(self, prefix):
        while True:
            line = self.line()
            if line.startswith(prefix):
                return line

    def send(self, text):
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def plus_exchange(c, tag, user, password, cb, mech="SCRAM-SHA-256-PLUS",
                  gs2=b"p=tls-exporter,,"):
    """An IMAP AUTHENTICATE over s_client; returns the tagged line."""
    sc = Scram(user, password, gs2=gs2, cb=cb)
    c.send("%s AUTHENTICATE %s %s" % (tag, mech, B64(sc.first())))
    r = c.until(b"")
    if not r.startswith(b"+ "):
        return r
    c.send(B64(sc.final(base64.b64decode(r[2:]))))
    r = c.line()
    if not r.startswith(b"+ "):
        return r
    assert base64.b64decode(r[2:]) == sc.expect
    c.send("")
    return c.line()


def test_imap_scram_plus_with_s_client(custom):
    srv = tls_server(custom)
    c = SClient(srv.imaps_port)
    try:
        c.until(b"* OK")
        # The right binding logs in.
        r = plus_exchange(c, "a1", ALICE, PASSWORD, c.cb)
        assert r.startswith(b"a1 OK [CAPABILITY "), r
        c.send("a2 LOGOUT")
        c.until(b"a2 ")
    finally:
        c.close()
    c = SClient(srv.imaps_port)
    try:
        c.until(b"* OK")
        # Another connection's binding (a man in the middle's) fails.
        other = bytes(32)
        r = plus_exchange(c, "b1", ALICE, PASSWORD, other)
        assert r.startswith(b"b1 NO [AUTHENTICATIONFAILED]"), r
        # "y" on a connection that could bind: a downgrade, refused.
        r = plus_exchange(c, "b2", ALICE, PASSWORD, b"", "SCRAM-SHA-256",
                          b"y,,")
        assert r.startswith(b"b2 BAD"), r
        # Without binding, SCRAM-SHA-256 works over TLS too.
        r = plus_exchange(c, "b3", ALICE, PASSWORD, b"", "SCRAM-SHA-256",
                          b"n,,")
        assert r.startswith(b"b3 OK"), r
        c.send("b4 LOGOUT")
        c.until(b"b4 ")
    finally:
        c.close()


def test_pop3_scram_plus_with_s_client(custom):
    srv = tls_server(custom)
    c = SClient(srv.pop3s_port)
    try:
        c.until(b"+OK")
        sc = Scram(ALICE, PASSWORD, gs2=b"p=tls-exporter,,", cb=c.cb)
        c.send("AUTH SCRAM-SHA-256-PLUS " + B64(sc.first()))
        r = c.until(b"+ ")
        c.send(B64(sc.final(base64.b64decode(r[2:]))))
        r = c.line()
        assert base64.b64decode(r[2:]) == sc.expect, r
        c.send("")
        assert c.line().startswith(b"+OK Logged in")
        c.send("QUIT")
        c.until(b"+OK")
    finally:
        c.close()
