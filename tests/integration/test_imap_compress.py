"""IMAP COMPRESS=DEFLATE (RFC 4978): the stream both ways is raw DEFLATE
after the OK, checked with Python's own zlib as the client's side (an
implementation independent of the server's), over plain TCP and inside
TLS; a compressed line that expands to gigabytes, a broken stream and a
client that stops reading a large FETCH; and mbsync, which turns
COMPRESS on by itself when offered."""

import base64
import imaplib
import random
import re
import socket
import ssl
import time
import zlib

import pytest

from conftest import PASSWORD
from test_imap_clients import mbsync, mbsync_config, maildir_files, tool
from test_imap_tls import imaps_server
from test_robust import FLOOD_RCVBUF, live_memory, rss_mib
from test_tls import no_verify

ALICE = "alice@example.com"
BOB = "bob@example.com"


class Wire:
    """An IMAP client's socket, in clear text until deflate() and raw
    DEFLATE (zlib, window 15, its defaults) after it."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""
        self.c = self.d = None
        self.packed_in = 0

    def deflate(self):
        self.c = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.d = zlib.decompressobj(-15)
        # Anything the server sent after its OK is compressed already.
        rest, self.buf = self.buf, b""
        if rest:
            self.buf = self.d.decompress(rest)

    def send(self, data):
        if self.c is not None:
            data = self.c.compress(data) + self.c.flush(zlib.Z_SYNC_FLUSH)
        self.s.sendall(data)

    def send_raw(self, data):
        self.s.sendall(data)

    def _fill(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise EOFError("server closed")
        self.packed_in += len(chunk)
        self.buf += self.d.decompress(chunk) if self.d else chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def tagged(self, tag):
        """Lines up to the tagged reply: (untagged lines, tagged line)."""
        lines = []
        while True:
            line = self.line()
            if line.startswith(tag + b" "):
                return lines, line
            lines.append(line)


def connect(srv, tls=False):
    if tls:
        raw = socket.create_connection(("127.0.0.1", srv.imaps_port), 30)
        s = no_verify().wrap_socket(raw, server_hostname="localhost")
    else:
        s = socket.create_connection(("127.0.0.1", srv.imap_port), 30)
    w = Wire(s)
    assert w.line().startswith(b"* OK")
    return w


def login(w, user=ALICE):
    w.send(b'a LOGIN %s "%s"\r\n' % (user.encode(), PASSWORD.encode()))
    _, r = w.tagged(b"a")
    assert r.startswith(b"a OK"), r


def capabilities(w, tag=b"c"):
    w.send(tag + b" CAPABILITY\r\n")
    lines, r = w.tagged(tag)
    assert r.startswith(tag + b" OK"), r
    caps = [l for l in lines if l.startswith(b"* CAPABILITY ")]
    assert len(caps) == 1, lines
    return caps[0].split()[2:]


def compress(w):
    w.send(b"z COMPRESS DEFLATE\r\n")
    _, r = w.tagged(b"z")
    assert r == b"z OK DEFLATE active", r
    w.deflate()


def append(srv, user, msgs):
    m = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=60)
    m.login(user, PASSWORD)
    for msg in msgs:
        assert m.append("INBOX", None, None, msg)[0] == "OK"
    m.logout()


def fetch_bodies(w, tag, count):
    """FETCH 1:* BODY.PEEK[] answered over w: the bodies in order."""
    w.send(tag + b" FETCH 1:* BODY.PEEK[]\r\n")
    got = []
    while True:
        line = w.line()
        if line.startswith(tag + b" "):
            assert line.startswith(tag + b" OK"), line
            break
        m = re.match(rb"\* (\d+) FETCH \(BODY\[\] \{(\d+)\}$", line)
        assert m, line[:100]
        got.append(w.read(int(m.group(2))))
        assert w.line() == b")"
    assert len(got) == count
    return got


def test_compress_offered_after_login_only(server):
    w = connect(server)
    assert b"COMPRESS=DEFLATE" not in capabilities(w, b"c0")
    w.send(b"z COMPRESS DEFLATE\r\n")
    _, r = w.tagged(b"z")
    assert r.startswith(b"z BAD"), r
    login(w)
    assert b"COMPRESS=DEFLATE" in capabilities(w)
    w.send(b"y COMPRESS GZIP\r\ny2 COMPRESS\r\n")
    _, r = w.tagged(b"y")
    assert r.startswith(b"y BAD"), r
    _, r = w.tagged(b"y2")
    assert r.startswith(b"y2 BAD"), r
    # Still clear text: those did not turn it on.
    w.send(b"n NOOP\r\n")
    assert w.tagged(b"n")[1].startswith(b"n OK")


def test_compressed_session(server):
    msgs = [b"Subject: m%d\r\n\r\n" % i +
            b"".join(b"line %d of message %d\r\n" % (j, i) for j in range(2000))
            for i in range(3)]
    append(server, ALICE, msgs)
    w = connect(server)
    login(w)
    compress(w)
    # Every response arrives at once: a sync flush ends each burst.
    w.send(b"n NOOP\r\n")
    assert w.tagged(b"n")[1] == b"n OK NOOP completed"
    w.send(b"z2 COMPRESS DEFLATE\r\n")
    _, r = w.tagged(b"z2")
    assert r.startswith(b"z2 NO [COMPRESSIONACTIVE]"), r
    w.send(b"s SELECT INBOX\r\n")
    lines, r = w.tagged(b"s")
    assert r.startswith(b"s OK [READ-WRITE]"), r
    assert b"* 3 EXISTS" in lines
    packed_before = w.packed_in
    assert fetch_bodies(w, b"f", 3) == msgs
    # Text this repetitive goes out in far fewer bytes than it has.
    assert w.packed_in - packed_before < sum(map(len, msgs)) // 4
    # Pipelined commands, each answered in order.
    w.send(b"p1 NOOP\r\np2 CHECK\r\np3 UID SEARCH ALL\r\n")
    assert w.tagged(b"p1")[1].startswith(b"p1 OK")
    assert w.tagged(b"p2")[1].startswith(b"p2 OK")
    lines, r = w.tagged(b"p3")
    assert lines == [b"* SEARCH 1 2 3"] and r.startswith(b"p3 OK"), lines
    w.send(b"l LOGOUT\r\n")
    lines, r = w.tagged(b"l")
    assert lines[0].startswith(b"* BYE") and r.startswith(b"l OK"), r
    assert "compress" in server.log() and "algorithm=deflate" in server.log()


def test_compress_inside_tls(custom):
    srv = imaps_server(custom)
    body = b"Subject: tls\r\n\r\n" + b"inside TLS, compressed\r\n" * 500
    append(srv, ALICE, [body])
    w = connect(srv, tls=True)
    login(w)
    compress(w)
    w.send(b"s EXAMINE INBOX\r\n")
    assert w.tagged(b"s")[1].startswith(b"s OK [READ-ONLY]")
    assert fetch_bodies(w, b"f", 1) == [body]
    w.send(b"l LOGOUT\r\n")
    assert w.tagged(b"l")[1].startswith(b"l OK")


def test_compress_with_starttls_first(server):
    """STARTTLS, then login, then COMPRESS, as RFC 4978 3 orders them."""
    s = socket.create_connection(("127.0.0.1", server.imap_port), 30)
    w = Wire(s)
    assert w.line().startswith(b"* OK")
    w.send(b"t STARTTLS\r\n")
    assert w.tagged(b"t")[1].startswith(b"t OK")
    w.s = no_verify().wrap_socket(s, server_hostname="localhost")
    login(w)
    compress(w)
    w.send(b"n NOOP\r\n")
    assert w.tagged(b"n")[1].startswith(b"n OK")
    w.send(b"t2 STARTTLS\r\n")
    assert w.tagged(b"t2")[1].startswith(b"t2 BAD")


def test_compressed_bomb_hits_the_line_limit(custom):
    """A line of 256 MiB without CRLF that packs into about 256 KiB: the
    server inflates it only as far as its input bound, refuses the line,
    and answers the next command; its memory does not follow the
    expanded size."""
    srv = custom(before_start=live_memory)
    w = connect(srv)
    login(w)
    compress(w)
    w.send(b"n NOOP\r\n")
    assert w.tagged(b"n")[1].startswith(b"n OK")
    base = rss_mib(srv)
    chunk = w.c.compress(b"A" * (16 << 20))
    for _ in range(16):
        w.send_raw(chunk)
        chunk = w.c.compress(b"A" * (16 << 20))
    w.send_raw(chunk)
    w.send(b"\r\nd NOOP\r\n")
    lines, r = w.tagged(b"d")
    assert lines == [b"* BAD Line too long"], lines
    assert r == b"d OK NOOP completed", r
    assert rss_mib(srv) - base < 16, "RSS %.0f -> %.0f MiB" % (
        base, rss_mib(srv))


def test_broken_stream_ends_the_session(server):
    w = connect(server)
    login(w)
    compress(w)
    # A good command, then garbage in the same write: the command is
    # answered, then the server closes.
    good = w.c.compress(b"n NOOP\r\n") + w.c.flush(zlib.Z_SYNC_FLUSH)
    w.send_raw(good + b"\xff\xff\xff\xff not deflate at all\r\n")
    w.s.settimeout(30)
    assert w.line() == b"n OK NOOP completed"
    with pytest.raises((EOFError, ConnectionResetError)):
        while True:
            w._fill()
    deadline = time.time() + 10
    while "result=compress-failed" not in server.log():
        assert time.time() < deadline, server.log()[-2000:]
        time.sleep(0.05)
    # The server goes on serving others.
    m = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=30)
    assert m.login(BOB, PASSWORD)[0] == "OK"
    m.logout()


def test_compressed_fetch_to_a_client_that_stops_reading(custom):
    """As test_robust's stalled FETCH, compressed: text that packs to
    about three quarters of its size, 24 MB of it, to a client that does
    not read; the server's memory stays bounded, another client is
    served, then every byte arrives in order."""
    srv = custom(before_start=live_memory)
    rnd = random.Random(4978)
    count = 24
    bodies = []
    for i in range(count):
        raw = bytes(rnd.getrandbits(8) for _ in range(3 * 256 * 1024))
        b64 = base64.encodebytes(raw).replace(b"\n", b"\r\n")
        bodies.append(b"Subject: big %d\r\n\r\n" % i + b64)
    append(srv, ALICE, bodies)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, FLOOD_RCVBUF)
    s.connect(("127.0.0.1", srv.imap_port))
    s.settimeout(60)
    w = Wire(s)
    assert w.line().startswith(b"* OK")
    login(w)
    compress(w)
    w.send(b"b SELECT INBOX\r\n")
    assert w.tagged(b"b")[1].startswith(b"b OK")
    base = rss_mib(srv)
    w.send(b"c FETCH 1:* BODY.PEEK[]\r\n")
    peak = base
    for _ in range(30):
        time.sleep(0.1)
        peak = max(peak, rss_mib(srv))
    g = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=60)
    g.login(BOB, PASSWORD)
    assert g.select("INBOX")[0] == "OK"
    g.logout()
    assert peak - base < 16, "RSS %.0f -> %.0f MiB" % (base, peak)
    got = []
    while True:
        line = w.line()
        if line.startswith(b"c "):
            assert line.startswith(b"c OK"), line
            break
        m = re.match(rb"\* \d+ FETCH \(BODY\[\] \{(\d+)\}$", line)
        assert m, line[:80]
        got.append(w.read(int(m.group(1))))
        assert w.line() == b")"
    assert got == bodies
    s.close()


def test_mbsync_negotiates_compress(custom, tmp_path):
    tool("mbsync")
    srv = custom("auth.allow_insecure=yes")
    msgs = [b"Subject: sync %d\r\n\r\n" % i + b"compressed sync\r\n" * 300
            for i in range(3)]
    append(srv, ALICE, msgs)
    cfg, root = mbsync_config(srv, tmp_path)
    mbsync(cfg)
    files = maildir_files(root / "INBOX")
    assert len(files) == 3
    # mbsync keeps messages with LF line ends.
    texts = sorted(p.read_bytes().replace(b"\r\n", b"\n") for p, _ in files)
    for msg in msgs:
        tail = msg.split(b"\r\n\r\n", 1)[1].replace(b"\r\n", b"\n")
        assert any(t.endswith(tail) for t in texts)
    assert re.search(r"imap\[\w+\] compress .*algorithm=deflate", srv.log())


def test_mutt_with_imap_deflate(server, tmp_path):
    """mutt with imap_deflate set (it is off by default): reads INBOX
    over a compressed session, pipes a message out, flags another and
    deletes a third; the server has the outcome afterwards."""
    from test_imap_clients import (by_subject, deliver, imap_messages,
                                   mutt_env, muttrc, run_in_terminal)
    mutt = tool("mutt")
    home = tmp_path / "home"
    rc = muttrc(server, home, mech="plain")
    for tag in ("pipe-me", "flag-me", "delete-me"):
        deliver(server, ALICE, tag, b"Body of %s.\r\n" % tag.encode() * 50)
    before = by_subject(imap_messages(server, "INBOX"))
    piped = tmp_path / "piped.eml"
    keys = ("<limit>~s pipe-me<enter>"
            "<pipe-message>cat > %s<enter>"
            "<limit>~s flag-me<enter>"
            "<flag-message>"
            "<limit>~s delete-me<enter>"
            "<delete-message>"
            "<limit>~A<enter>"
            "<sync-mailbox>"
            "<quit>" % piped)
    code, screen = run_in_terminal(
        [mutt, "-n", "-F", str(rc), "-e", "set imap_deflate=yes",
         "-e", "push '%s'" % keys], mutt_env(home))
    assert code == 0, screen
    assert piped.read_bytes() == \
        before["pipe-me"][2].replace(b"\r\n", b"\n"), screen
    after = by_subject(imap_messages(server, "INBOX"))
    assert sorted(after) == ["flag-me", "pipe-me"], screen
    assert "\\Flagged" in after["flag-me"][1], screen
    assert re.search(r"imap\[\w+\] compress .*algorithm=deflate",
                     server.log())
