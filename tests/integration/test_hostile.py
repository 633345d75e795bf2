"""Hostile and broken clients.  Whatever they do, a well-behaved client
keeps sending and retrieving mail, during the attack and after it, and the
server exits cleanly on SIGTERM at the end (the `server` fixture checks the
exit code, which a sanitizer report would make non-zero)."""

import random
import resource
import selectors
import socket
import struct
import threading
import time
import uuid

import pytest

from conftest import (Client, PASSWORD, dot_stuff, make_message, pop3_fetch,
                      pop3_login, pop3_login_wait, pop3_quit, smtp_send,
                      smtp_session)

LONG = 100 * 1024
GOOD_TIMEOUT = 20   # seconds a good client may take for one round trip


def roundtrip(srv, user="alice@example.com"):
    """A well-behaved client: send a message, retrieve it intact over POP3
    and delete it.  Returns the seconds it took."""
    t0 = time.time()
    tag = "good-" + uuid.uuid4().hex
    msg = make_message(tag, b"Line one.\r\n.leading dot\r\nLast line.\r\n",
                       rcpt=user)
    try:
        code, text = smtp_send(srv.smtp_port, user, msg,
                               timeout=GOOD_TIMEOUT)
        assert code == 250, "good client: %s" % text
        got = pop3_fetch(srv.pop3_port, user, delete=True,
                         timeout=GOOD_TIMEOUT)
        mine = [m for m in got if m.endswith(msg)]
        assert len(mine) == 1, \
            "good client's message missing or altered: %r" % (got,)
    except (AssertionError, OSError, EOFError) as e:
        raise AssertionError("good client %s at %.3f: %s\nserver log:\n%s" % (
            tag, time.time(), e, srv.log()[-4000:])) from e
    took = time.time() - t0
    assert took < GOOD_TIMEOUT, "good client took %.1f s" % took
    return took


def under_attack(srv, attack, *args, min_rounds=1, max_rounds=40):
    """Runs attack(*args) in a thread; while it runs (at least min_rounds
    times) and once after, the good client does a round trip.  Returns
    what the attack returned; its exceptions fail the test."""
    result = {}

    def target():
        try:
            result["value"] = attack(*args)
        except BaseException as e:  # noqa: B902 - re-raised below
            result["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    rounds = 0
    deadline = time.time() + 120
    while rounds < max_rounds and time.time() < deadline and (
            rounds < min_rounds or t.is_alive()):
        roundtrip(srv)
        rounds += 1
    t.join(timeout=max(1, deadline - time.time()))
    assert not t.is_alive(), "attack did not finish"
    if "error" in result:
        raise result["error"]
    roundtrip(srv)
    return result.get("value")


def rst_close(sock):
    """Close so that the peer gets a RST, not a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))
    sock.close()


NO_CR_LF = bytes.maketrans(b"\r\n", b"\0\0")


def garbage(rng, size, line_ends=True):
    """Random bytes (NULs and all) with CRLFs every few hundred bytes."""
    out = bytearray()
    while len(out) < size:
        out += rng.randbytes(rng.randint(0, 300)).translate(NO_CR_LF)
        if line_ends:
            out += b"\r\n"
    return bytes(out)


def vm_rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


# ---- over-long command lines ----

def long_lines_smtp(port):
    with smtp_session(port) as c:
        # One send, the tail of the line looks like a command.
        c.send(b"x" * LONG + b"QUIT\r\nNOOP\r\n")
        assert c.reply() == (500, "500 5.5.2 Line too long")
        assert c.reply()[0] == 250

        # The line arrives in pieces; a piece starts with "QUIT\r\n"
        # that is still the same line.
        c.send(b"NOOP " + b"x" * LONG)
        assert c.reply() == (500, "500 5.5.2 Line too long")
        time.sleep(0.2)
        c.send(b"QUIT\r\n")
        c.send(b"NOOP\r\n")
        assert c.reply()[0] == 250

        # A bare CR inside the line does not end it.
        c.send(b"x" * LONG + b"\r")
        time.sleep(0.2)
        c.send(b"QUIT\r\nNOOP\r\n")
        assert c.reply() == (500, "500 5.5.2 Line too long")
        assert c.reply()[0] == 250

        # Within a transaction: the transaction survives the long line.
        assert c.cmd("MAIL FROM:<s@example.org>")[0] == 250
        assert c.cmd("RCPT TO:<bob@example.com>")[0] == 250
        c.send(b"RCPT TO:<" + b"y" * LONG + b"@example.com>\r\n")
        assert c.reply() == (500, "500 5.5.2 Line too long")
        assert c.cmd("DATA")[0] == 354
        msg = make_message("after-long-line", rcpt="bob@example.com")
        c.send(dot_stuff(msg))
        assert c.reply()[0] == 250
        assert c.cmd("QUIT")[0] == 221
        return msg


def test_long_command_line_smtp(server):
    msg = under_attack(server, long_lines_smtp, server.smtp_port)
    got = pop3_fetch(server.pop3_port, "bob@example.com")
    assert len(got) == 1 and got[0].endswith(msg)


def test_line_just_over_the_limit_smtp(server):
    with smtp_session(server.smtp_port) as c:
        c.send(b"NOOP " + b"x" * 4200 + b"\r\nNOOP\r\n")
        assert c.reply() == (500, "500 5.5.2 Line too long")
        assert c.reply()[0] == 250
        assert c.cmd("QUIT")[0] == 221
    roundtrip(server)


def long_lines_pop3(port):
    with Client(port) as c:
        assert c.line().startswith(b"+OK")
        # Before login.
        c.send(b"USER " + b"x" * LONG + b"\r\n")
        assert c.line() == b"-ERR Line too long"
        assert c.pop("USER bob@example.com") == "+OK"
        assert c.pop("PASS " + PASSWORD).startswith("+OK")
        # Logged in: the tail must not run as QUIT (which would end the
        # session and commit deletions).
        assert c.pop("DELE 1").startswith("+OK")
        c.send(b"x" * LONG + b"QUIT\r\nSTAT\r\n")
        assert c.line() == b"-ERR Line too long"
        assert c.line().startswith(b"+OK 0 ")
        c.send(b"NOOP " + b"x" * LONG)
        assert c.line() == b"-ERR Line too long"
        time.sleep(0.2)
        c.send(b"QUIT\r\n")
        assert c.pop("RSET") == "+OK"
        assert c.pop("STAT").startswith("+OK 1 ")
        assert c.pop("QUIT").startswith("+OK")


def test_long_command_line_pop3(server):
    code, _ = smtp_send(server.smtp_port, "bob@example.com",
                        make_message("keep"))
    assert code == 250
    under_attack(server, long_lines_pop3, server.pop3_port)
    # Nothing was deleted: the QUIT in the long line never ran.
    got = pop3_fetch(server.pop3_port, "bob@example.com")
    assert len(got) == 1 and b"Subject: keep\r\n" in got[0]


# ---- binary garbage ----

def send_garbage(port, seed, greeted, read):
    """64 KB of garbage (seeded) after the greeting, which `greeted(c)`
    must accept; returns up to 50 replies, each read by `read(c)`, until
    the server hangs up."""
    rng = random.Random(seed)
    data = garbage(rng, 64 * 1024)
    with Client(port, timeout=20) as c:
        assert greeted(c)
        sender = threading.Thread(target=lambda: _send_quietly(c.sock, data),
                                  daemon=True)
        sender.start()
        replies = []
        while len(replies) < 50:
            try:
                replies.append(read(c))
            except (EOFError, ConnectionResetError):
                break
        sender.join(timeout=30)
    return replies


def garbage_smtp(port, seed):
    replies = send_garbage(port, seed, lambda c: c.reply()[0] == 220,
                           Client.reply)
    assert replies, "no reply to garbage"
    codes = [code for code, _ in replies]
    assert codes[-1] == 421 and "Too many errors" in replies[-1][1], replies
    assert all(500 <= code < 600 for code in codes[:-1]), replies
    assert len(codes) - 1 == 10, "expected 10 errors (smtp.max_errors), " \
        "got %r" % replies
    return replies


def _send_quietly(sock, data):
    try:
        sock.sendall(data)
    except OSError:
        pass    # the server hung up on us, as it should


def test_binary_garbage_smtp(server):
    under_attack(server, garbage_smtp, server.smtp_port, 1)


def test_binary_garbage_smtp_many_at_once(server):
    def many():
        threads = [threading.Thread(target=garbage_smtp,
                                    args=(server.smtp_port, seed))
                   for seed in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    under_attack(server, many)


def garbage_pop3(port, seed):
    replies = send_garbage(port, seed,
                           lambda c: c.line().startswith(b"+OK"), Client.line)
    assert replies[-1] == b"-ERR Too many errors, closing connection", replies
    assert all(r.startswith(b"-ERR") for r in replies), replies
    assert len(replies) - 1 == 10, replies


def test_binary_garbage_pop3(server):
    under_attack(server, garbage_pop3, server.pop3_port, 2)


def test_garbage_without_line_ends(server):
    """64 KB with no CRLF at all is one over-long line: one error, and
    the session goes on after the next CRLF."""
    def attack():
        rng = random.Random(3)
        with smtp_session(server.smtp_port) as c:
            c.send(garbage(rng, 64 * 1024, line_ends=False))
            assert c.reply() == (500, "500 5.5.2 Line too long")
            c.send(b"\r\nNOOP\r\n")
            assert c.reply()[0] == 250
            assert c.cmd("QUIT")[0] == 221
    under_attack(server, attack)


# ---- DATA that never ends ----

def test_stalled_data(server):
    port = server.smtp_port
    first_half = (b"From: staller@example.org\r\nTo: bob@example.com\r\n"
                  b"Subject: stalled\r\n\r\n" + b"half a message\r\n" * 100)
    second_half = b"the rest\r\n" * 100

    abandoned = smtp_session(port)
    finished = smtp_session(port)
    for c in (abandoned, finished):
        assert c.cmd("MAIL FROM:<staller@example.org>")[0] == 250
        assert c.cmd("RCPT TO:<bob@example.com>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send(first_half)
    try:
        # Others deliver meanwhile, to the same mailbox too.
        t0 = time.time()
        rounds = 0
        while time.time() - t0 < 3 and rounds < 20:
            roundtrip(server)
            code, _ = smtp_send(port, "bob@example.com",
                                make_message("meanwhile-%d" % rounds,
                                             rcpt="bob@example.com"))
            assert code == 250
            rounds += 1
            time.sleep(0.3)
        # The stalled sessions are still in step.
        finished.send(second_half + b".\r\n")
        assert finished.reply()[0] == 250
        assert finished.cmd("QUIT")[0] == 221
    finally:
        finished.close()
        abandoned.close()
    roundtrip(server)
    got = pop3_fetch(server.pop3_port, "bob@example.com")
    stalled = [m for m in got if b"Subject: stalled\r\n" in m]
    # The finished one arrived whole; the abandoned one not at all.
    assert len(stalled) == 1, [m[:300] for m in stalled]
    assert stalled[0].endswith(first_half + second_half)
    assert len(got) == rounds + 1


def test_stalled_clients_time_out(make_server):
    """With short timeouts, a client that stalls (idle, or in the middle of
    DATA, or logged in to POP3) is cut off, and what it left unfinished is
    not stored; the mailbox it held is free again."""
    srv = make_server("smtp.timeout=2", "smtp.data_timeout=2",
                      "pop3.timeout=2")
    srv.cli("domain", "add", "example.com")
    srv.add_user("alice@example.com")
    srv.add_user("bob@example.com")
    srv.start()
    idle = smtp_session(srv.smtp_port)
    stalled = smtp_session(srv.smtp_port)
    assert stalled.cmd("MAIL FROM:<s@example.org>")[0] == 250
    assert stalled.cmd("RCPT TO:<bob@example.com>")[0] == 250
    assert stalled.cmd("DATA")[0] == 354
    stalled.send(b"Subject: stalled\r\n\r\nhalf a message\r\n")
    pop = pop3_login(srv.pop3_port, "bob@example.com")
    t0 = time.time()
    try:
        for c in (idle, stalled):
            code, text = c.reply()
            assert code == 421 and "4.4.2" in text, text
            with pytest.raises((EOFError, ConnectionResetError)):
                c.line()
        # RFC 1939 3: the autologout closes without a response.
        with pytest.raises((EOFError, ConnectionResetError)):
            pop.line()
        assert time.time() - t0 < 10
    finally:
        idle.close()
        stalled.close()
        pop.close()
    roundtrip(srv)
    assert pop3_fetch(srv.pop3_port, "bob@example.com") == []
    assert srv.stop() == 0, srv.log()[-3000:]


# ---- slowloris ----

def test_slowloris(make_server):
    srv = make_server()
    srv.cli("domain", "add", "example.com")
    srv.add_user("alice@example.com")
    srv.start()
    slow = []
    try:
        for _ in range(50):
            c = Client(srv.smtp_port, source="127.0.0.3", timeout=20)
            slow.append(c)
        for c in slow:
            code, text = c.reply()
            assert code == 220, text

        def drip():
            for byte in b"NOOP\r":
                for c in slow:
                    c.send(bytes([byte]))
                time.sleep(1)

        under_attack(srv, drip)
        # Each slow client gets its answer once its line is complete.
        for c in slow:
            c.send(b"\n")
        for c in slow:
            assert c.reply()[0] == 250
        # SIGTERM with all of them still connected: a clean, quick exit.
        t0 = time.time()
        rc = srv.stop()
        assert rc == 0, srv.log()[-3000:]
        assert time.time() - t0 < 10
    finally:
        for c in slow:
            c.close()


# ---- a thousand connections at once ----

def open_many(port, n, source):
    """Open n connections from `source`; returns (greetings, sockets):
    the first line each got (None: nothing) and whether the server then
    closed it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, n + 512))
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind((source, 0))
        s.settimeout(10)
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        socks.append(s)
    bufs = {s: b"" for s in socks}
    closed = set()
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    deadline = time.time() + 60

    def done(s):
        b = bufs[s]
        return b"\r\n" in b and (s in closed or b.startswith(b"220"))

    pending = set(socks)
    while pending and time.time() < deadline:
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            try:
                got = s.recv(4096)
            except (ConnectionResetError, BlockingIOError):
                got = b""
            if not got:
                closed.add(s)
                sel.unregister(s)
            else:
                bufs[s] += got
            if done(s):
                pending.discard(s)
    sel.close()
    firsts = [bufs[s].split(b"\r\n")[0].decode("ascii", "replace")
              if b"\r\n" in bufs[s] else None for s in socks]
    return socks, firsts, [s in closed for s in socks]


def test_thousand_connections_default_limit(server):
    port = server.smtp_port
    socks = []
    try:
        socks, firsts, closed = open_many(port, 1000, "127.0.0.2")
        greeted = [i for i, f in enumerate(firsts)
                   if f is not None and f.startswith("220 ")]
        refused = [i for i, f in enumerate(firsts)
                   if f == "421 4.7.0 Too many connections, try again later"]
        other = [firsts[i] for i in range(1000)
                 if i not in set(greeted) | set(refused)]
        assert not other, "unexpected first lines: %r" % other[:10]
        assert len(greeted) == 50, len(greeted)
        assert len(refused) == 950
        assert all(closed[i] for i in refused), "a refused one stayed open"
        assert not any(closed[i] for i in greeted)
        # The good client, from another address, is not affected.
        for _ in range(3):
            roundtrip(server)
        # The limit counts all listeners together.
        with Client(server.pop3_port, source="127.0.0.2") as c:
            assert c.line().startswith(b"-ERR [SYS/TEMP]")
    finally:
        for s in socks:
            s.close()
    # Once they are gone, 127.0.0.2 may connect again.
    deadline = time.time() + 10
    while True:
        with Client(port, source="127.0.0.2") as c:
            code, _ = c.reply()
        if code == 220 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert code == 220
    roundtrip(server)


def test_thousand_connections_raised_limit(make_server):
    srv = make_server("server.max_connections_per_ip=2000")
    srv.cli("domain", "add", "example.com")
    srv.add_user("alice@example.com")
    srv.start()
    socks = []
    try:
        result = {}

        def flood():
            result["v"] = open_many(srv.smtp_port, 1000, "127.0.0.2")
        under_attack(srv, flood)
        socks, firsts, closed = result["v"]
        bad = [f for f in firsts if f is None or not f.startswith("220 ")]
        assert not bad, "%d of 1000 not greeted: %r" % (len(bad), bad[:10])
        assert not any(closed)
        roundtrip(srv)
        # Each of them is served, not just greeted.
        for s in socks:
            s.setblocking(True)
            s.settimeout(20)
            s.sendall(b"QUIT\r\n")
        for s in socks:
            got = b""
            while b"\r\n" not in got:
                more = s.recv(1024)
                assert more, "closed without a reply to QUIT"
                got += more
            assert got.startswith(b"221 "), got
    finally:
        for s in socks:
            s.close()
    assert srv.stop() == 0, srv.log()[-3000:]


# ---- a message over the size limit ----

class RssWatch:
    """Samples a process's VmRSS in a thread; .peak in MB."""

    def __init__(self, pid):
        self.pid = pid
        self.peak = vm_rss_mb(pid)
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.wait(0.02):
            self.peak = max(self.peak, vm_rss_mb(self.pid))

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.t.join(timeout=5)


def big_data(port, one_line):
    size = 30 * 1024 * 1024
    with smtp_session(port, timeout=60) as c:
        assert c.cmd("MAIL FROM:<big@example.org>")[0] == 250
        assert c.cmd("RCPT TO:<bob@example.com>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send(b"Subject: too big\r\n\r\n")
        if one_line:
            piece = b"z" * (1024 * 1024)
        else:
            piece = (b"y" * 78 + b"\r\n") * (1024 * 1024 // 80)
        sent = 0
        while sent < size:
            c.send(piece)
            sent += len(piece)
        c.send(b"\r\n.\r\n")
        code, text = c.reply()
        assert code == 552, text
        assert text.startswith("552 5.3.4 ")
        # The session goes on, and a normal message still goes through.
        assert c.cmd("NOOP")[0] == 250
        assert c.cmd("MAIL FROM:<big@example.org>")[0] == 250
        assert c.cmd("RCPT TO:<bob@example.com>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send(dot_stuff(make_message("small after big",
                                      rcpt="bob@example.com")))
        assert c.reply()[0] == 250
        assert c.cmd("QUIT")[0] == 221


def big_bdat(port):
    size = 30 * 1024 * 1024
    with smtp_session(port, timeout=60) as c:
        assert c.cmd("MAIL FROM:<big@example.org>")[0] == 250
        assert c.cmd("RCPT TO:<bob@example.com>")[0] == 250
        c.send(b"BDAT %d LAST\r\n" % size)
        piece = b"w" * (1024 * 1024)
        for _ in range(size // len(piece)):
            c.send(piece)
        code, text = c.reply()
        assert code == 552, text
        assert c.cmd("NOOP")[0] == 250
        assert c.cmd("QUIT")[0] == 221


@pytest.mark.parametrize("how", ["lines", "one-line", "bdat"])
def test_message_over_size_limit(server, how):
    port = server.smtp_port
    roundtrip(server)
    base = vm_rss_mb(server.proc.pid)
    with RssWatch(server.proc.pid) as watch:
        if how == "bdat":
            under_attack(server, big_bdat, port)
        else:
            under_attack(server, big_data, port, how == "one-line")
    # The ASan build idles at roughly 30-60 MB; a server that kept the
    # 30 MB (or several copies of it) would pass 200 MB.
    assert watch.peak < 200, "VmRSS peak %.0f MB (%.0f MB before)" % (
        watch.peak, base)
    got = pop3_fetch(server.pop3_port, "bob@example.com")
    assert not any(b"Subject: too big" in m for m in got)
    if how != "bdat":
        assert [b"Subject: small after big" in m for m in got] == [True]


def test_size_announced_too_big(server):
    with smtp_session(server.smtp_port) as c:
        code, text = c.cmd("MAIL FROM:<big@example.org> SIZE=31457280")
        assert code == 552, text
        assert c.cmd("MAIL FROM:<big@example.org> SIZE=1000")[0] == 250
        assert c.cmd("QUIT")[0] == 221
    roundtrip(server)


# ---- connections that vanish ----

def vanish(smtp_port, pop3_port, rounds):
    for i in range(rounds):
        close = rst_close if i % 2 else (lambda s: s.close())
        # Mid-command.
        c = smtp_session(smtp_port)
        c.send(b"MAIL FROM:<vanish@exa")
        close(c.sock)
        # Mid-RCPT lookup: the reply is still being worked out.
        c = smtp_session(smtp_port)
        c.send(b"MAIL FROM:<v@example.org>\r\nRCPT TO:<bob@example.com>\r\n")
        close(c.sock)
        # Mid-DATA.
        c = smtp_session(smtp_port)
        c.send(b"MAIL FROM:<v@example.org>\r\nRCPT TO:<bob@example.com>\r\n"
               b"DATA\r\n")
        assert c.reply()[0] == 250
        assert c.reply()[0] == 250
        assert c.reply()[0] == 354
        c.send(b"Subject: vanished\r\n\r\n" + b"partial\r\n" * 1000)
        close(c.sock)
        # Right after the end of DATA, before the reply.
        c = smtp_session(smtp_port)
        c.send(b"MAIL FROM:<v@example.org>\r\nRCPT TO:<bob@example.com>\r\n"
               b"DATA\r\n")
        for _ in range(3):
            c.reply()
        c.send(b"Subject: complete %d\r\n\r\nbody\r\n.\r\n" % i)
        close(c.sock)
        # Mid-RETR of a big message (the mailbox lock must be released).
        c = pop3_login_wait(pop3_port, "bob@example.com")
        c.send(b"RETR 1\r\n")
        if i % 3:
            c.sock.recv(10000)
        close(c.sock)


def test_connections_closed_mid_way(server):
    big = make_message("big", b"".join(b"line %07d of a big message\r\n" % i
                                       for i in range(100000)),
                       rcpt="bob@example.com")
    assert len(big) > 2 * 1024 * 1024
    code, _ = smtp_send(server.smtp_port, "bob@example.com", big)
    assert code == 250
    # A good session in the middle of a transaction all along.
    good = smtp_session(server.smtp_port)
    assert good.cmd("MAIL FROM:<good@example.org>")[0] == 250
    assert good.cmd("RCPT TO:<alice@example.com>")[0] == 250
    under_attack(server, vanish, server.smtp_port, server.pop3_port, 10)
    assert good.cmd("DATA")[0] == 354
    msg = make_message("patient")
    good.send(dot_stuff(msg))
    assert good.reply()[0] == 250
    good.close()
    got = pop3_fetch(server.pop3_port, "alice@example.com")
    assert len(got) == 1 and got[0].endswith(msg)
    # bob's big message is still there, whole; no partial message was
    # stored; the ones cut off after their final dot are whole if there.
    with pop3_login_wait(server.pop3_port, "bob@example.com") as c:
        count = int(c.pop("STAT").split()[1])
        msgs = []
        for n in range(1, count + 1):
            assert c.pop("RETR %d" % n).startswith("+OK")
            msgs.append(c.multiline())
        c.pop("QUIT")
    assert msgs[0].endswith(big)
    for m in msgs[1:]:
        assert b"Subject: vanished" not in m
        assert m.endswith(b"\r\n\r\nbody\r\n"), m[-200:]


# ---- the mailbox lock ----

def test_pop3_mailbox_free_once_session_closed(server):
    """RFC 1939 6: after QUIT the server releases the maildrop, then
    closes the connection.  A client that logs in again as soon as the
    server has closed must never find its own maildrop [IN-USE], even while
    the server is busy with others."""
    stop = threading.Event()
    errors = []
    body = dot_stuff(garbage(random.Random(5), 4 * 1024 * 1024))

    def load():
        deadline = time.time() + 30
        try:
            while not stop.is_set() and time.time() < deadline:
                with smtp_session(server.smtp_port) as c:
                    assert c.cmd("MAIL FROM:<load@example.org>")[0] == 250
                    assert c.cmd("RCPT TO:<bob@example.com>")[0] == 250
                    assert c.cmd("DATA")[0] == 354
                    c.send(body)
                    assert c.reply()[0] == 250
        except BaseException as e:  # noqa: B902 - reported below
            errors.append(e)

    loaders = [threading.Thread(target=load, daemon=True) for _ in range(2)]
    for t in loaders:
        t.start()
    in_use = []
    try:
        t0 = time.time()
        n = 0
        while n < 300 and time.time() - t0 < 6:
            n += 1
            with Client(server.pop3_port) as c:
                assert c.line().startswith(b"+OK")
                assert c.pop("USER alice@example.com") == "+OK"
                line = c.pop("PASS " + PASSWORD)
                if line.startswith("-ERR [IN-USE]"):
                    in_use.append(n)
                    continue
                assert line.startswith("+OK"), line
                assert c.pop("STAT").startswith("+OK")
                pop3_quit(c)
    finally:
        stop.set()
        for t in loaders:
            t.join(timeout=60)
    assert not errors, errors
    assert not in_use, "[IN-USE] after QUIT and close in %d of %d logins" % (
        len(in_use), n)
