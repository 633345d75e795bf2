"""TLS: STARTTLS on SMTP (RFC 3207) and POP3 (STLS, RFC 2595), POP3 over
implicit TLS (port 995), certificates (configured, chained, chosen by SNI,
self-signed), protocol versions, resumption, reload, and the STARTTLS
injection rule, against the real server with Python's ssl, smtplib and
poplib, openssl s_client and swaks."""

import json
import os
import poplib
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import (ENV, PASSWORD, Client, data_home, free_port,
                      make_message, server_user, smtp_send, split_trace)

ALICE = "alice@example.com"
TIMEOUT = 2     # session timeouts where a test waits for one


# ---- helpers ----

def no_verify(minimum=None, maximum=None):
    """A client context that takes any certificate (the self-signed one),
    optionally pinned to TLS versions."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


def tls_server(custom, *sets, before_start=None):
    """A running server (example.com, alice, bob) that also listens for
    POP3 over implicit TLS, on srv.pop3s_port."""
    port = free_port()
    srv = custom("listen.pop3s=127.0.0.1:%d" % port, *sets,
                 before_start=before_start)
    srv.pop3s_port = port
    return srv


class TlsLines:
    """A line reader over a TLS socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            got = self.sock.recv(65536)
            if not got:
                raise EOFError("closed; pending %r" % self.buf[:200])
            self.buf += got
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def rest(self):
        """Everything until the server closes."""
        out = self.buf
        self.buf = b""
        try:
            while True:
                got = self.sock.recv(65536)
                if not got:
                    return out
                out += got
        except (ConnectionResetError, ssl.SSLEOFError):
            return out

    def smtp_reply(self):
        lines = []
        while True:
            line = self.line().decode()
            lines.append(line)
            if line[3:4] != "-":
                return int(line[:3]), lines

    def capa(self):
        """The body lines of a POP3 CAPA answer."""
        self.send("CAPA\r\n")
        assert self.line().startswith(b"+OK")
        caps = []
        while True:
            line = self.line().decode()
            if line == ".":
                return caps
            caps.append(line)


def smtp_starttls(port, send_with=b""):
    """An SMTP session after EHLO and STARTTLS (with send_with pipelined
    in the same write as STARTTLS): the TLS socket, wrapped in TlsLines,
    and the EHLO keywords offered before TLS."""
    c = Client(port)
    assert c.reply()[0] == 220
    code, text = c.cmd("EHLO client.test")
    assert code == 250, text
    before = [l[4:] for l in text.split("\n")]
    c.send(b"STARTTLS\r\n" + send_with)
    code, text = c.reply()
    assert code == 220 and text.startswith("220 2.0.0 "), text
    assert not c.buf, "the server said more before the handshake: %r" % c.buf
    tls = no_verify().wrap_socket(c.sock, server_hostname="mx.test")
    return TlsLines(tls), before


def pop3_stls(port, send_with=b""):
    """A POP3 session after STLS (with send_with pipelined)."""
    c = Client(port)
    assert c.line().startswith(b"+OK")
    c.send(b"STLS\r\n" + send_with)
    line = c.line()
    assert line == b"+OK Begin TLS negotiation", line
    assert not c.buf, "the server said more before the handshake: %r" % c.buf
    tls = no_verify().wrap_socket(c.sock, server_hostname="mx.test")
    return TlsLines(tls)


def pop3s(port, ctx=None, server_hostname="mx.test", **kw):
    """A handshake on the POP3S port and the greeting read."""
    sock = socket.create_connection(("127.0.0.1", port), 30)
    tls = (ctx or no_verify()).wrap_socket(sock, server_hostname=server_hostname,
                                          **kw)
    t = TlsLines(tls)
    assert t.line().startswith(b"+OK")
    return t


def served_cert(port, server_hostname="mx.test"):
    """The certificate the POP3S port shows for that name, DER."""
    t = pop3s(port, server_hostname=server_hostname)
    der = t.sock.getpeercert(binary_form=True)
    t.sock.close()
    return der


def der_of(path):
    """The first certificate of a PEM file, DER."""
    with open(path) as f:
        pem = f.read()
    first = pem[:pem.index("-----END CERTIFICATE-----") + 25]
    return ssl.PEM_cert_to_DER_cert(first)


def pop3_messages(srv, user=ALICE):
    """Every message in the mailbox, over POP3S."""
    p = poplib.POP3_SSL("127.0.0.1", srv.pop3s_port, context=no_verify(),
                        timeout=30)
    try:
        p.user(user)
        p.pass_(PASSWORD)
        n = p.stat()[0]
        return [b"\r\n".join(p.retr(i + 1)[1]) + b"\r\n"
                for i in range(n)]
    finally:
        p.quit()


def wait_log(srv, pattern, wait=30):
    deadline = time.time() + wait
    while time.time() < deadline:
        m = re.search(pattern, srv.log())
        if m:
            return m
        time.sleep(0.05)
    raise AssertionError("no %r in the log:\n%s" % (pattern, srv.log()[-3000:]))


# ---- certificates made with the openssl command ----

def openssl(cwd, *args):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


class Pki:
    """A root CA, an intermediate CA under it, and leaf certificates
    signed by the intermediate, in a directory the server's user can
    read (certificates are read again by that user on SIGHUP)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(dir=data_home() if server_user() else None)
        os.chmod(self.dir, 0o755)
        self.serial = 1000
        self._self_signed("root", "Test Root CA")
        self._signed("inter", "root", ["Test Intermediate CA"], ca=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def _key(self, name):
        openssl(self.dir, "genpkey", "-algorithm", "EC", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-out", name + ".key")
        os.chmod(self.path(name + ".key"), 0o644)

    def _self_signed(self, name, cn):
        self._key(name)
        openssl(self.dir, "req", "-x509", "-key", name + ".key", "-out",
                name + ".pem", "-days", "30", "-subj", "/CN=" + cn,
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def _signed(self, name, issuer, names, ca=False):
        self._key(name)
        openssl(self.dir, "req", "-new", "-key", name + ".key", "-out",
                name + ".csr", "-subj", "/CN=" + names[0])
        ext = ["subjectKeyIdentifier=hash",
               "authorityKeyIdentifier=keyid"]
        if ca:
            ext += ["basicConstraints=critical,CA:TRUE",
                    "keyUsage=critical,keyCertSign,cRLSign"]
        else:
            ext += ["basicConstraints=critical,CA:FALSE",
                    "keyUsage=critical,digitalSignature",
                    "extendedKeyUsage=serverAuth",
                    "subjectAltName=" + ",".join("DNS:" + n for n in names)]
        with open(self.path(name + ".ext"), "w") as f:
            f.write("\n".join(ext) + "\n")
        self.serial += 1
        openssl(self.dir, "x509", "-req", "-in", name + ".csr", "-CA",
                issuer + ".pem", "-CAkey", issuer + ".key", "-set_serial",
                str(self.serial), "-days", "30", "-extfile", name + ".ext",
                "-out", name + ".pem")

    def leaf(self, name, names):
        """Leaf `name` for the host names; returns (chain file, key file):
        the chain file holds the leaf, then the intermediate."""
        self._signed(name, "inter", names)
        chain = self.path(name + ".chain.pem")
        with open(chain, "w") as out:
            for part in (name + ".pem", "inter.pem"):
                with open(self.path(part)) as f:
                    out.write(f.read())
        os.chmod(chain, 0o644)
        return chain, self.path(name + ".key")

    def verifying(self):
        """A client context that trusts only the root and checks names."""
        return ssl.create_default_context(cafile=self.path("root.pem"))

    def remove(self):
        shutil.rmtree(self.dir, True)


@pytest.fixture
def pki():
    p = Pki()
    yield p
    p.remove()


# ---- SMTP STARTTLS ----

def test_smtp_starttls_with_smtplib(custom):
    srv = tls_server(custom)
    msg = make_message("over-tls")
    with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=30) as s:
        s.ehlo("client.test")
        assert s.has_extn("starttls")
        code, text = s.starttls(context=no_verify())
        assert code == 220, text
        assert s.sock.version() in ("TLSv1.2", "TLSv1.3")
        s.ehlo("client.test")
        # RFC 3207 4.2: not offered again.
        assert not s.has_extn("starttls")
        s.sendmail("sender@example.org", [ALICE], msg)
        version, cipher = s.sock.version(), s.sock.cipher()[0]
    [stored] = pop3_messages(srv)
    _, received, rest = split_trace(stored)
    assert rest.rstrip(b"\r\n") == msg.rstrip(b"\r\n")
    text = received.decode()
    assert "(using %s with cipher %s (" % (version, cipher) in text, text
    assert " with ESMTPS id " in text, text
    assert re.search(r"\r\n\ttls TLS_[A-Z0-9_]+;\r\n", text), text
    wait_log(srv, r"smtp\[\w+\] tls client=127\.0\.0\.1 version=%s "
             r"cipher=%s " % (re.escape(version), re.escape(cipher)))


def test_plain_smtp_received_has_no_tls(server):
    code, _ = smtp_send(server.smtp_port, ALICE, make_message("plain"))
    assert code == 250
    p = poplib.POP3("127.0.0.1", server.pop3_port, timeout=30)
    p.user(ALICE)
    p.pass_(PASSWORD)
    stored = b"\r\n".join(p.retr(1)[1]) + b"\r\n"
    p.quit()
    _, received, _ = split_trace(stored)
    assert b"using" not in received and b" with ESMTP id " in received
    assert b"\ttls " not in received


def test_smtp_starttls_injection_is_discarded(custom):
    """Commands sent in the same packet as STARTTLS never run: not the
    RSET (no reply), not the EHLO and MAIL (no effect)."""
    srv = tls_server(custom)
    t, before = smtp_starttls(srv.smtp_port, b"RSET\r\n")
    assert "STARTTLS" in before
    t.send("QUIT\r\n")
    assert t.rest() == b"221 2.0.0 Bye\r\n"

    t, _ = smtp_starttls(srv.smtp_port,
                         b"EHLO evil.test\r\nMAIL FROM:<evil@example.org>\r\n")
    # Back to the state of a new connection: no EHLO, no MAIL.
    t.send("RCPT TO:<%s>\r\n" % ALICE)
    code, lines = t.smtp_reply()
    assert code == 503 and "HELO/EHLO first" in lines[0], lines
    t.send("EHLO good.test\r\n")
    code, lines = t.smtp_reply()
    assert code == 250 and "STARTTLS" not in lines, lines
    t.send("RCPT TO:<%s>\r\n" % ALICE)
    code, lines = t.smtp_reply()
    assert code == 503 and "MAIL" in lines[0], lines
    t.send("QUIT\r\n")
    assert t.rest() == b"221 2.0.0 Bye\r\n"
    assert "evil" not in srv.log()


def test_smtp_starttls_rules(custom):
    srv = tls_server(custom)
    # Not within a transaction, and no arguments.
    with Client(srv.smtp_port) as c:
        c.reply()
        assert c.cmd("EHLO client.test")[0] == 250
        assert c.cmd("STARTTLS now")[0] == 501
        assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
        code, text = c.cmd("STARTTLS")
        assert code == 503, text
        assert c.cmd("RSET")[0] == 250
        assert c.cmd("STARTTLS")[0] == 220
    # Once is enough.
    t, _ = smtp_starttls(srv.smtp_port)
    t.send("STARTTLS\r\n")
    code, lines = t.smtp_reply()
    assert code == 503 and "already" in lines[0], lines
    t.send("QUIT\r\n")
    assert t.rest() == b"221 2.0.0 Bye\r\n"


def test_smtp_starttls_before_ehlo(custom):
    srv = tls_server(custom)
    with Client(srv.smtp_port) as c:
        c.reply()
        c.send(b"STARTTLS\r\n")
        assert c.reply()[0] == 220
        t = TlsLines(no_verify().wrap_socket(c.sock))
        t.send("EHLO client.test\r\n")
        assert t.smtp_reply()[0] == 250


@pytest.mark.skipif(shutil.which("swaks") is None, reason="no swaks")
def test_swaks_tls(custom):
    srv = tls_server(custom)
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port",
                        str(srv.smtp_port), "--from", "sender@example.org",
                        "--to", ALICE, "--tls", "--header",
                        "Subject: swaks over tls"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "TLS started" in r.stdout, r.stdout
    [stored] = pop3_messages(srv)
    _, received, rest = split_trace(stored)
    assert b" with ESMTPS id " in received and b"(using TLSv1." in received
    assert b"Subject: swaks over tls" in rest


# ---- POP3: STLS and POP3S ----

def test_pop3_stls_with_poplib(custom):
    srv = tls_server(custom, "auth.allow_insecure=no")
    smtp_send(srv.smtp_port, ALICE, make_message("for-stls"))
    p = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=30)
    try:
        caps = p.capa()
        assert "STLS" in caps and "USER" not in caps, caps
        p.stls(context=no_verify())
        caps = p.capa()
        # RFC 2595 4: STLS is gone, and passwords may now be sent.
        assert "STLS" not in caps, caps
        assert "USER" in caps and caps["SASL"] == [
            "PLAIN", "LOGIN", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"], caps
        p.user(ALICE)
        p.pass_(PASSWORD)
        assert p.stat()[0] == 1
        assert b"for-stls" in b"\r\n".join(p.retr(1)[1])
    finally:
        p.quit()


def test_pop3s_with_poplib(custom):
    srv = tls_server(custom, "auth.allow_insecure=no")
    smtp_send(srv.smtp_port, ALICE, make_message("for-pop3s"))
    [stored] = pop3_messages(srv)
    assert b"for-pop3s" in stored
    p = poplib.POP3_SSL("127.0.0.1", srv.pop3s_port, context=no_verify(),
                        timeout=30)
    try:
        caps = p.capa()
        assert "STLS" not in caps and "USER" in caps, caps
        with pytest.raises(poplib.error_proto, match="TLS active"):
            p._shortcmd("STLS")
    finally:
        p.quit()
    wait_log(srv, r"pop3\[\w+\] tls client=127\.0\.0\.1 version=TLSv1\.3 ")


def test_pop3_stls_injection_is_discarded(custom):
    srv = tls_server(custom)
    t = pop3_stls(srv.pop3_port, b"CAPA\r\n")
    t.send("QUIT\r\n")
    assert t.rest() == b"+OK Bye\r\n"
    # USER sent with STLS is not taken: PASS finds no user.
    t = pop3_stls(srv.pop3_port, ("USER %s\r\n" % ALICE).encode())
    t.send("PASS %s\r\n" % PASSWORD)
    assert t.line() == b"-ERR USER first"
    t.send("QUIT\r\n")
    assert t.rest() == b"+OK Bye\r\n"


def test_pop3_stls_forgets_clear_text_user(custom):
    srv = tls_server(custom)
    with Client(srv.pop3_port) as c:
        c.line()
        assert c.pop("USER " + ALICE).startswith("+OK")
        assert c.pop("STLS") == "+OK Begin TLS negotiation"
        t = TlsLines(no_verify().wrap_socket(c.sock))
        t.send("PASS %s\r\n" % PASSWORD)
        assert t.line() == b"-ERR USER first"


def test_pop3_stls_only_before_login(custom):
    srv = tls_server(custom)
    p = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=30)
    try:
        p.user(ALICE)
        p.pass_(PASSWORD)
        with pytest.raises(poplib.error_proto):
            p._shortcmd("STLS")
        assert "STLS" not in p.capa()
    finally:
        p.quit()


# ---- openssl s_client ----

def s_client_lines(args, stdin):
    # -quiet implies -ign_eof: the client waits for the server to close,
    # which QUIT makes it do.
    r = subprocess.run(["openssl", "s_client", "-quiet"] + args,
                       input=stdin, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode().split("\r\n")


def test_openssl_s_client_starttls_smtp(custom):
    srv = tls_server(custom)
    lines = s_client_lines(["-connect", "127.0.0.1:%d" % srv.smtp_port,
                            "-starttls", "smtp"],
                           b"EHLO client.test\r\nQUIT\r\n")
    assert "250-mx.test" in lines and "250 CHUNKING" in lines, lines
    assert "250-STARTTLS" not in lines, lines
    assert lines[-2:] == ["221 2.0.0 Bye", ""], lines


def test_openssl_s_client_starttls_pop3(custom):
    srv = tls_server(custom, "auth.allow_insecure=no")
    lines = s_client_lines(["-connect", "127.0.0.1:%d" % srv.pop3_port,
                            "-starttls", "pop3"],
                           ("CAPA\r\nUSER %s\r\nPASS %s\r\nSTAT\r\nQUIT\r\n"
                            % (ALICE, PASSWORD)).encode())
    assert "USER" in lines and "STLS" not in lines, lines
    assert "+OK Logged in" in lines and "+OK 0 0" in lines, lines
    assert lines[-2:] == ["+OK Bye", ""], lines


def test_openssl_s_client_pop3s(custom):
    srv = tls_server(custom)
    lines = s_client_lines(["-connect", "127.0.0.1:%d" % srv.pop3s_port,
                            "-servername", "mx.test"], b"CAPA\r\nQUIT\r\n")
    assert lines[0] == "+OK posthorn POP3 ready", lines
    assert "STLS" not in lines and "USER" in lines, lines
    assert lines[-2:] == ["+OK Bye", ""], lines


# ---- versions, ciphers, resumption ----

@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1:DeprecationWarning")
def test_tls_1_1_refused(custom):
    srv = tls_server(custom)
    ctx = no_verify(ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_1)
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError):
        pop3s(srv.pop3s_port, ctx)
    # The server refused it, not the client: it says so.
    wait_log(srv, r"pop3\[\w+\] tls-failed client=127\.0\.0\.1 "
             r"reason=\"unsupported protocol\"")
    # And over STARTTLS.
    with Client(srv.smtp_port) as c:
        c.reply()
        c.send(b"STARTTLS\r\n")
        assert c.reply()[0] == 220
        with pytest.raises(ssl.SSLError):
            ctx.wrap_socket(c.sock)
    wait_log(srv, r"smtp\[\w+\] tls-failed client=127\.0\.0\.1 "
             r"reason=\"unsupported protocol\"")
    m = wait_log(srv, r"smtp\[\w+\] disconnect .* end=tls-failed")
    assert m


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_tls_1_2_and_1_3_accepted(custom, version):
    srv = tls_server(custom)
    v = getattr(ssl.TLSVersion, version)
    t = pop3s(srv.pop3s_port, no_verify(v, v))
    assert t.sock.version() == version.replace("_", "."), t.sock.version()
    name = t.sock.cipher()[0]
    if version == "TLSv1_2":
        # Forward secrecy and AEAD only.
        assert name.startswith("ECDHE-") and ("GCM" in name or
                                              "CHACHA20" in name), name
    t.send("QUIT\r\n")
    assert t.rest() == b"+OK Bye\r\n"


def test_tls_1_2_without_ecdhe_or_aead_refused(custom):
    srv = tls_server(custom)
    for ciphers in ("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384",
                    "AES128-GCM-SHA256:AES256-GCM-SHA384"):
        ctx = no_verify(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2)
        ctx.set_ciphers(ciphers)
        with pytest.raises(ssl.SSLError):
            pop3s(srv.pop3s_port, ctx)
    wait_log(srv, r"tls-failed client=127\.0\.0\.1 "
             r"reason=\"no shared cipher\"")


def test_server_cipher_order(custom):
    srv = tls_server(custom)
    ctx = no_verify(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2)
    # The client would rather have AES-256; the server prefers AES-128.
    ctx.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384:"
                    "ECDHE-ECDSA-AES128-GCM-SHA256")
    t = pop3s(srv.pop3s_port, ctx)
    assert t.sock.cipher()[0] == "ECDHE-ECDSA-AES128-GCM-SHA256"
    t.sock.close()


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_session_resumption(custom, version):
    srv = tls_server(custom)
    v = getattr(ssl.TLSVersion, version)
    ctx = no_verify(v, v)
    first = pop3s(srv.pop3s_port, ctx)
    # TLS 1.3 tickets come after the handshake: read a reply first.
    first.send("NOOP\r\n")
    first.line()
    session = first.sock.session
    assert not first.sock.session_reused
    first.send("QUIT\r\n")
    first.rest()
    second = pop3s(srv.pop3s_port, ctx, session=session)
    assert second.sock.session_reused
    second.send("QUIT\r\n")
    assert second.rest() == b"+OK Bye\r\n"


# ---- certificates ----

def test_self_signed_created_once_and_reused(make_server):
    srv = make_server("server.hostname=mx.test")
    port = free_port()
    srv.sets.append("listen.pop3s=127.0.0.1:%d" % port)
    srv.start()
    cert = os.path.join(srv.data, "tls", "self-signed.pem")
    key = os.path.join(srv.data, "tls", "self-signed.key")
    wait_log(srv, r"tls self-signed action=created reason=none-yet "
             r"hostname=mx\.test cert=\S+ key=\S+ hint=\".*tls\.cert")
    st = os.stat(key)
    assert st.st_mode & 0o777 == 0o600, oct(st.st_mode)
    if server_user():
        import pwd
        assert st.st_uid == pwd.getpwnam(server_user()).pw_uid
    der = served_cert(port)
    assert der == der_of(cert)
    # It names server.hostname: a client that trusts it and checks the
    # name gets through.
    ctx = ssl.create_default_context(cafile=cert)
    t = pop3s(port, ctx, server_hostname="mx.test")
    t.sock.close()
    with open(key, "rb") as f:
        key_bytes = f.read()
    srv.stop()
    srv.start()
    assert served_cert(port) == der
    with open(key, "rb") as f:
        assert f.read() == key_bytes
    assert srv.log().count("action=created") == 1
    wait_log(srv, r"tls self-signed action=reused hostname=mx\.test")
    srv.stop()
    # A new name gets a new certificate.
    srv.sets.append("server.hostname=mail.example.com")
    srv.start()
    wait_log(srv, r"action=created reason=hostname-changed "
             r"hostname=mail\.example\.com")
    ctx = ssl.create_default_context(cafile=cert)
    t = pop3s(port, ctx, server_hostname="mail.example.com")
    t.sock.close()


def test_configured_chain_is_served_whole(custom, pki):
    chain, key = pki.leaf("mail", ["mail.example.org"])
    srv = tls_server(custom, "tls.cert=" + chain, "tls.key=" + key)
    # The client trusts only the root: it needs the intermediate from
    # the server.
    t = pop3s(srv.pop3s_port, pki.verifying(),
              server_hostname="mail.example.org")
    assert t.sock.getpeercert(binary_form=True) == der_of(pki.path("mail.pem"))
    t.sock.close()
    out = openssl(pki.dir, "s_client", "-connect",
                  "127.0.0.1:%d" % srv.pop3s_port, "-servername",
                  "mail.example.org", "-showcerts", "-CAfile",
                  pki.path("root.pem"), "-verify_return_error")
    chain_lines = re.findall(r"^ *(\d+) s:", out, re.M)
    assert chain_lines == ["0", "1"], out
    assert "Verify return code: 0 (ok)" in out, out
    assert not os.path.exists(os.path.join(srv.data, "tls"))


def test_key_in_the_certificate_file(custom, pki):
    chain, key = pki.leaf("both", ["both.example.org"])
    combined = pki.path("combined.pem")
    with open(combined, "w") as out:
        for p in (chain, key):
            with open(p) as f:
                out.write(f.read())
    srv = tls_server(custom, "tls.cert=" + combined)
    t = pop3s(srv.pop3s_port, pki.verifying(),
              server_hostname="both.example.org")
    t.sock.close()


def test_sni_chooses_the_certificate(custom, pki):
    a_chain, a_key = pki.leaf("a", ["a.example.org"])
    b_chain, b_key = pki.leaf("b", ["b.example.net", "*.b.example.net"])
    srv = tls_server(custom, "tls.cert=%s, %s" % (a_chain, b_chain),
                     "tls.key=%s,%s" % (a_key, b_key))
    a, b = der_of(pki.path("a.pem")), der_of(pki.path("b.pem"))
    for name, want in [("a.example.org", a), ("b.example.net", b),
                       ("imap.b.example.net", b), ("B.EXAMPLE.NET", b),
                       ("other.example", a)]:
        assert served_cert(srv.pop3s_port, name) == want, name
    # No SNI at all: the first one.
    assert served_cert(srv.pop3s_port, None) == a
    # What a verifying client sees works for each name.
    for name in ("a.example.org", "x.b.example.net"):
        t = pop3s(srv.pop3s_port, pki.verifying(), server_hostname=name)
        t.sock.close()
    # STARTTLS is served the same way.
    with Client(srv.smtp_port) as c:
        c.reply()
        c.send(b"STARTTLS\r\n")
        assert c.reply()[0] == 220
        tls = pki.verifying().wrap_socket(c.sock,
                                          server_hostname="b.example.net")
        assert tls.getpeercert(binary_form=True) == b


def start_must_fail(make_server, *sets):
    """serve with these settings exits non-zero before listening; returns
    its log."""
    srv = make_server(*sets)
    proc = subprocess.run(srv.args() + ["serve"], capture_output=True,
                          text=True, env=ENV, timeout=60)
    assert proc.returncode != 0, proc.stderr
    for port in (srv.smtp_port, srv.pop3_port):
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), 1).close()
    return proc.stderr


def test_bad_key_or_cert_is_a_clear_start_up_error(make_server, pki):
    chain, key = pki.leaf("good", ["good.example.org"])
    other_chain, other_key = pki.leaf("other", ["other.example.org"])
    missing = pki.path("missing.key")
    err = start_must_fail(make_server, "tls.cert=" + chain,
                          "tls.key=" + missing)
    assert re.search(r"tls\.key: cannot read %s: No such file or directory"
                     % re.escape(missing), err), err
    garbage = pki.path("garbage.key")
    with open(garbage, "w") as f:
        f.write("not a key\n")
    err = start_must_fail(make_server, "tls.cert=" + chain,
                          "tls.key=" + garbage)
    assert "tls.key: %s holds no usable PEM private key" % garbage in err, err
    err = start_must_fail(make_server, "tls.cert=" + garbage,
                          "tls.key=" + key)
    assert "tls.cert: %s holds no usable PEM certificate chain" % garbage \
        in err, err
    err = start_must_fail(make_server, "tls.cert=" + chain,
                          "tls.key=" + other_key)
    assert "tls.key: the key in %s does not belong to the certificate in %s" \
        % (other_key, chain) in err, err
    err = start_must_fail(make_server, "tls.cert=%s,%s" % (chain, other_chain),
                          "tls.key=" + key)
    assert "tls.key names 1 file and tls.cert 2" in err, err
    if os.geteuid() != 0:
        os.chmod(key, 0)
        err = start_must_fail(make_server, "tls.cert=" + chain,
                              "tls.key=" + key)
        assert "tls.key: cannot read %s: Permission denied" % key in err, err


def test_reload_on_sighup_keeps_open_connections(custom, pki):
    chain, key = pki.leaf("one", ["mail.example.org"])
    live_cert, live_key = pki.path("live.pem"), pki.path("live.key")
    shutil.copy(chain, live_cert)
    shutil.copy(key, live_key)
    srv = tls_server(custom, "tls.cert=" + live_cert, "tls.key=" + live_key)
    first = der_of(pki.path("one.pem"))
    old = pop3s(srv.pop3s_port, pki.verifying(),
                server_hostname="mail.example.org")
    assert old.sock.getpeercert(binary_form=True) == first
    two_chain, two_key = pki.leaf("two", ["mail.example.org"])
    shutil.copy(two_chain, live_cert)
    shutil.copy(two_key, live_key)
    srv.proc.send_signal(signal.SIGHUP)
    wait_log(srv, r"serve reload result=ok")
    assert served_cert(srv.pop3s_port) == der_of(pki.path("two.pem"))
    # The connection opened before goes on with its own.
    old.send("USER %s\r\n" % ALICE)
    assert old.line() == b"+OK"
    old.send("PASS %s\r\n" % PASSWORD)
    assert old.line().startswith(b"+OK")
    old.send("QUIT\r\n")
    assert old.rest() == b"+OK Bye\r\n"
    # A reload that fails keeps what works, and says why.
    with open(live_key, "w") as f:
        f.write("broken\n")
    srv.proc.send_signal(signal.SIGHUP)
    wait_log(srv, r"serve reload result=failed error=\"tls\.key: %s "
             % re.escape(live_key))
    assert served_cert(srv.pop3s_port) == der_of(pki.path("two.pem"))


# ---- failures and limits ----

def test_failed_handshake_is_logged_and_harmless(custom):
    srv = tls_server(custom)
    with socket.create_connection(("127.0.0.1", srv.pop3s_port), 30) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        s.settimeout(30)
        try:
            while s.recv(4096):
                pass
        except ConnectionResetError:
            pass
    m = wait_log(srv, r"pop3\[\w+\] tls-failed client=127\.0\.0\.1 "
                 r"reason=(\S+)")
    assert m.group(1) not in ("unknown", "eof"), m.group(0)
    wait_log(srv, r"pop3\[\w+\] disconnect client=127\.0\.0\.1 .*"
             r"end=tls-failed")
    # A client that closes at once.
    socket.create_connection(("127.0.0.1", srv.pop3s_port), 30).close()
    wait_log(srv, r"tls-failed client=127\.0\.0\.1 reason=eof")
    assert pop3_messages(srv) == []


def test_stalled_handshake_times_out(custom):
    srv = tls_server(custom, "pop3.timeout=%d" % TIMEOUT,
                     "smtp.timeout=%d" % TIMEOUT)
    # Half a ClientHello on POP3S.
    s = socket.create_connection(("127.0.0.1", srv.pop3s_port), 30)
    s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    # Nothing after the 220 of STARTTLS.
    c = Client(srv.smtp_port)
    c.reply()
    c.send(b"STARTTLS\r\n")
    assert c.reply()[0] == 220
    try:
        for sock in (s, c.sock):
            sock.settimeout(30)
            data = b""
            while True:
                got = sock.recv(4096)
                if not got:
                    break
                data += got
            # Nothing in clear text, not even SMTP's 421.
            assert data == b"", data
    finally:
        s.close()
        c.close()
    wait_log(srv, r"pop3\[\w+\] drop client=127\.0\.0\.1 result=timeout")
    wait_log(srv, r"smtp\[\w+\] drop client=127\.0\.0\.1 result=timeout")


def test_slow_reader_of_a_big_tls_transfer_is_not_cut(custom):
    """The no-progress timeout counts what TLS takes from the kernel's
    queue as progress, as it does in clear text."""
    srv = tls_server(custom, "pop3.timeout=%d" % TIMEOUT)
    body = b"".join(b"%06d a line of a big message read slowly over TLS\r\n"
                    % i for i in range(100000))
    msg = make_message("big-tls", body)
    code, text = smtp_send(srv.smtp_port, ALICE, msg, timeout=120)
    assert code == 250, text
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.settimeout(60)
    sock.connect(("127.0.0.1", srv.pop3s_port))
    t = TlsLines(no_verify().wrap_socket(sock))
    t.line()
    t.send("USER %s\r\nPASS %s\r\n" % (ALICE, PASSWORD))
    t.line()
    assert t.line().startswith(b"+OK")
    t0 = time.time()
    t.send("RETR 1\r\n")
    assert t.line().startswith(b"+OK")
    raw = bytearray(t.buf)
    while not raw.endswith(b"\r\n.\r\n"):
        time.sleep(0.25)
        want = len(raw) + 192 * 1024
        while len(raw) < want and not raw.endswith(b"\r\n.\r\n"):
            got = t.sock.recv(want - len(raw))
            assert got, "closed after %d bytes: %s" % (len(raw),
                                                      srv.log()[-1000:])
            raw += got
    took = time.time() - t0
    assert b"big-tls" in raw and raw.count(b"\r\n") > 100000
    t.buf = b""
    t.send("NOOP\r\n")
    assert t.line() == b"+OK"
    t.sock.close()
    assert took > 2 * TIMEOUT, "read too fast to test anything: %.1f s" % took
    assert "result=timeout" not in srv.log()


def test_big_pipelined_input_over_tls(custom):
    """More than the input bound pipelined in one go, then the client
    waits: every command is answered, though OpenSSL may hold part of
    what the server has not read yet."""
    srv = tls_server(custom)
    t, _ = smtp_starttls(srv.smtp_port)
    t.send("EHLO client.test\r\n")
    t.smtp_reply()
    n = 6000
    t.send(b"NOOP padding the line a little bit more\r\n" * n)
    for _ in range(n):
        code, _ = t.smtp_reply()
        assert code == 250
    msg = make_message("pipelined-tls", b"x" * 70 + b"\r\n")
    t.send(b"MAIL FROM:<s@example.org>\r\nRCPT TO:<%s>\r\nDATA\r\n"
           % ALICE.encode())
    assert [t.smtp_reply()[0] for _ in range(3)] == [250, 250, 354]
    big = b"".join(b"%07d line of data sent in one go over TLS\r\n" % i
                   for i in range(20000))
    t.send(msg + big + b".\r\nQUIT\r\n")
    code, lines = t.smtp_reply()
    assert code == 250, lines
    assert t.smtp_reply()[0] == 221


def test_commands_held_by_openssl_are_read(custom):
    """Commands that arrive while the session waits for the client to read
    a big answer fill the input bound; the part OpenSSL has already taken
    from the socket must be read once there is room, though the client
    sends nothing more until it has its answers."""
    srv = tls_server(custom)
    # More than the kernel's socket buffers take, so the answer waits in
    # the server and the session reads no command meanwhile.
    body = b"".join(b"%06d a line of a message that takes a while to read\r\n"
                    % i for i in range(160000))
    code, text = smtp_send(srv.smtp_port, ALICE, make_message("big", body),
                           timeout=120)
    assert code == 250, text
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(30)
    sock.connect(("127.0.0.1", srv.pop3s_port))
    t = TlsLines(no_verify().wrap_socket(sock))
    t.line()
    t.send("USER %s\r\nPASS %s\r\n" % (ALICE, PASSWORD))
    t.line()
    assert t.line().startswith(b"+OK")
    t.send("RETR 1\r\n")
    time.sleep(0.5)     # the answer fills the buffers; the session waits
    # Just under the input bound (64 KiB), then one TLS record that
    # crosses it: OpenSSL decrypts the record whole, the server takes
    # what fits.
    first, second = 10833, 2730
    t.send(b"STAT\r\n" * first)
    time.sleep(0.5)
    t.send(b"STAT\r\n" * second)
    assert t.line().startswith(b"+OK")
    while t.line() != b".":
        pass
    for i in range(first + second):
        line = t.line()
        assert line.startswith(b"+OK 1 "), (i, line)
    t.send("QUIT\r\n")
    assert t.rest() == b"+OK Bye\r\n"


def test_many_idle_tls_connections(custom):
    srv = tls_server(custom, "server.max_connections_per_ip=1000")
    held = []
    try:
        for i in range(200):
            if i % 2:
                held.append(pop3s(srv.pop3s_port))
            else:
                t, _ = smtp_starttls(srv.smtp_port)
                held.append(t)
        smtp_send(srv.smtp_port, ALICE, make_message("while-idle"))
        [stored] = pop3_messages(srv)
        assert b"while-idle" in stored
        # The idle ones still answer.
        for t in held[:20]:
            t.send("NOOP\r\n")
            assert t.line()[:1] in (b"+", b"-", b"2")
    finally:
        for t in held:
            t.sock.close()


def test_remote_pop3_login_needs_tls(custom):
    """POP3 from another host: no password in clear text (the default
    policy), but over STLS or POP3S it is allowed."""
    from test_pop3 import Netns
    with Netns() as ns:
        port = free_port()

        def listen(srv):
            srv.sets.append("listen.pop3=127.0.0.1:%d,%s:%d" % (
                srv.pop3_port, ns.HOST_ADDR, srv.pop3_port))
            srv.sets.append("listen.pop3s=%s:%d" % (ns.HOST_ADDR, port))

        srv = custom("auth.allow_insecure=loopback", before_start=listen)
        code = (
            "import json, poplib, ssl, sys\n"
            "host, plain, tls, user, pw = sys.argv[1:]\n"
            "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\n"
            "ctx.check_hostname = False\n"
            "ctx.verify_mode = ssl.CERT_NONE\n"
            "out = {}\n"
            "p = poplib.POP3(host, int(plain), timeout=20)\n"
            "out['plain_capa'] = sorted(p.capa())\n"
            "try:\n"
            "    p.user(user); out['plain_user'] = 'ok'\n"
            "except poplib.error_proto as e:\n"
            "    out['plain_user'] = e.args[0].decode()\n"
            "p.stls(context=ctx)\n"
            "out['stls_capa'] = sorted(p.capa())\n"
            "p.user(user); out['stls_login'] = p.pass_(pw).decode()\n"
            "p.quit()\n"
            "p = poplib.POP3_SSL(host, int(tls), context=ctx, timeout=20)\n"
            "p.user(user); out['pop3s_login'] = p.pass_(pw).decode()\n"
            "p.quit()\n"
            "print(json.dumps(out))\n")
        r = subprocess.run(["ip", "netns", "exec", ns.ns, sys.executable,
                            "-c", code, ns.HOST_ADDR, str(srv.pop3_port),
                            str(port), ALICE, PASSWORD],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr + srv.log()[-2000:]
        out = json.loads(r.stdout)
        assert "STLS" in out["plain_capa"] and "USER" not in out["plain_capa"]
        assert out["plain_user"].startswith("-ERR [AUTH]"), out
        assert "USER" in out["stls_capa"] and "STLS" not in out["stls_capa"]
        assert out["stls_login"].startswith("+OK"), out
        assert out["pop3s_login"].startswith("+OK"), out
        assert re.search(r"pop3\[\w+\] login client=%s result=ok" %
                         re.escape(ns.PEER_ADDR), srv.log())

