"""The session core under clients that reset, flood, stall or crawl.

Whatever state a session is in when its client vanishes, everything it
held is given back: the descriptor, the session (its connect and
disconnect log lines balance), the per-address connection slot and, in
POP3, the maildrop lock.  A client that sends without reading cannot make
the server buffer without bound.  A slow reader gets its whole message; a
silent client is closed.  Failed logins elsewhere do not stop mail."""

import os
import re
import smtplib
import socket
import statistics
import struct
import threading
import time

import pytest

from conftest import (PASSWORD, Client, Server, body_of, dot_stuff,
                      make_message, pop3_fetch, pop3_fetch_wait, pop3_login,
                      pop3_login_wait, pop3_quit, quit_and_close, smtp_send,
                      smtp_session)

ALICE = "alice@example.com"
BOB = "bob@example.com"

SETTLE = 10     # seconds the server may take to give everything back
MIB = 1024 * 1024


# ---- looking at the server process ----

def fd_count(srv):
    return len(os.listdir("/proc/%d/fd" % srv.proc.pid))


def rss_mib(srv):
    with open("/proc/%d/status" % srv.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS for %d" % srv.proc.pid)


def wait_fds(srv, baseline, wait=SETTLE):
    """Polls until the server holds no more descriptors than `baseline`;
    returns the last count."""
    deadline = time.time() + wait
    while True:
        n = fd_count(srv)
        if n <= baseline or time.time() > deadline:
            return n
        time.sleep(0.05)


SESSION_LINE = re.compile(
    r"\b(smtp|pop3)\[([^\]\s]+)\] (connect|disconnect)\b")


def sessions(srv, proto):
    """(ids logged as connected, ids logged as disconnected) for `proto`."""
    opened, closed = set(), set()
    for m in SESSION_LINE.finditer(srv.log()):
        if m.group(1) == proto:
            (opened if m.group(3) == "connect" else closed).add(m.group(2))
    return opened, closed


def wait_balanced(srv, proto, before, wait=SETTLE):
    """Polls until every session of `proto` logged as connected since
    `before` (ids) has its disconnect line; returns (those connected,
    those still open) as sets of ids."""
    deadline = time.time() + wait
    while True:
        opened, closed = sessions(srv, proto)
        opened -= before
        left = opened - closed
        if not left or time.time() > deadline:
            return opened, left


def rst_close(sock):
    """Close so that the server gets a RST, not a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))
    sock.close()


class Refused(AssertionError):
    pass


def greeted(c, proto):
    """Reads the greeting; a connection-limit refusal raises Refused."""
    line = c.line()
    if proto == "smtp":
        if line.startswith(b"421"):
            raise Refused(line.decode("ascii", "replace"))
        assert line.startswith(b"220 "), line
    else:
        if line.startswith(b"-ERR [SYS/TEMP]"):
            raise Refused(line.decode("ascii", "replace"))
        assert line.startswith(b"+OK"), line


def expect(c, code, what):
    got, text = c.reply()
    assert got == code, "%s: %s" % (what, text)


# ---- 1. resets in every session state ----

PARTIAL = (b"From: s@example.org\r\nTo: bob@example.com\r\n"
           b"Subject: cut off\r\n\r\n"
           + b"a line of a message cut off\r\n" * 300)
WHOLE = dot_stuff(make_message("reset-after-dot", rcpt=BOB))
BIG_LINES = 40000   # lines of the message RETR is reset in the middle of


def smtp_into(c, state):
    """Drives a fresh SMTP connection into `state`; the reset follows."""
    if state == "connected":
        return      # before the greeting is even read
    greeted(c, "smtp")
    if state == "pipelined":
        # 200 commands whose replies the client never reads; its small
        # receive window keeps them in the server.
        c.send(b"NOOP\r\nEHLO x\r\n" * 100)
        return
    c.send(b"EHLO client.test\r\n")
    expect(c, 250, "EHLO")
    if state == "ehlo":
        return
    c.send(b"MAIL FROM:<s@example.org>\r\n")
    expect(c, 250, "MAIL")
    if state == "mail":
        return
    c.send(b"RCPT TO:<bob@example.com>\r\n")
    if state == "rcpt":
        return      # reset while the lookup runs
    expect(c, 250, "RCPT")
    if state == "bdat":
        c.send(b"BDAT 100000 LAST\r\n" + PARTIAL)
        return
    c.send(b"DATA\r\n")
    expect(c, 354, "DATA")
    if state == "data":
        c.send(PARTIAL)
    elif state == "dot":
        c.send(WHOLE)   # reset while the delivery runs
    else:
        raise AssertionError(state)


def pop3_into(c, state):
    if state == "connected":
        return
    greeted(c, "pop3")
    line = c.pop("USER " + ALICE)
    assert line.startswith("+OK"), line
    if state == "user":
        return
    c.send("PASS %s\r\n" % PASSWORD)
    if state == "pass":
        return      # reset while the password is checked
    line = c.line()
    assert line.startswith(b"+OK"), line
    if state == "login":
        return
    if state == "retr":
        c.send(b"RETR 1\r\n")
        # Once the first bytes are here the server is sending a message
        # far larger than the client's window: its output is pending.
        assert c.sock.recv(100)
        return
    if state == "quit":
        c.send(b"QUIT\r\n")
        return
    raise AssertionError(state)


def pop3_enter(port, source, state):
    """A POP3 connection in `state`.  A maildrop still locked by a session
    the server has not yet seen reset is given a few seconds; past that
    the lock is taken to be leaked."""
    deadline = time.time() + 5
    while True:
        c = Client(port, source=source, timeout=20, rcvbuf=4096)
        try:
            pop3_into(c, state)
            return c
        except AssertionError as e:
            c.close()
            if "[IN-USE]" not in str(e) or time.time() > deadline:
                raise
        time.sleep(0.02)


@pytest.fixture(scope="module")
def rst_server(tmp_path_factory):
    """One server for all reset batches, with at most 3 connections per
    client address, so that a leaked slot shows after 3 resets."""
    # No IMAP: its start-up probe would be a third connection in flight.
    srv = Server(tmp_path_factory.mktemp("rst") / "data",
                 ["server.max_connections_per_ip=3", "listen.imap="])
    srv.cli("domain", "add", "example.com")
    srv.add_user(ALICE)
    srv.add_user(BOB)
    srv.start()
    big = make_message("big", b"".join(
        b"line %07d of a message read while it is reset\r\n" % i
        for i in range(BIG_LINES)))
    assert len(big) > 1 * MIB
    code, text = smtp_send(srv.smtp_port, ALICE, big)
    assert code == 250, text
    yield srv
    rc = srv.stop()
    assert rc == 0, "server exit %r:\n%s" % (rc, srv.log()[-5000:])


def warm_up(srv):
    """Opens what a normal session of every kind leaves open (account
    databases and their journals), so that the descriptor baseline is the
    steady state."""
    code, text = smtp_send(srv.smtp_port, BOB, make_message("warm", rcpt=BOB))
    assert code == 250, text
    got = pop3_fetch_wait(srv.pop3_port, ALICE)
    assert len(got) == 1


SMTP_STATES = ["connected", "ehlo", "pipelined", "mail", "rcpt", "data",
               "bdat", "dot"]
POP3_STATES = ["connected", "user", "pass", "login", "retr", "quit"]
SMTP_ROUNDS = 300
POP3_ROUNDS = 250
SOURCES = 32    # client addresses per batch, used in turn


def sources_for(proto, state):
    k = (SMTP_STATES.index(state) if proto == "smtp"
         else 20 + POP3_STATES.index(state))
    return ["127.1.%d.%d" % (k, i) for i in range(1, SOURCES + 1)]


def reset_batch(srv, proto, state, rounds):
    """`rounds` connections from the batch's addresses in turn, each
    driven into `state` and reset; returns the addresses.  A refusal
    for too many connections from one address fails at once."""
    port = srv.smtp_port if proto == "smtp" else srv.pop3_port
    addrs = sources_for(proto, state)
    for i in range(rounds):
        src = addrs[i % len(addrs)]
        try:
            if proto == "smtp":
                c = Client(port, source=src, timeout=20, rcvbuf=4096)
                try:
                    smtp_into(c, state)
                except BaseException:
                    c.close()
                    raise
            else:
                c = pop3_enter(port, src, state)
        except Refused as e:
            raise AssertionError(
                "%s reset #%d in state %s: a new connection from %s was "
                "refused (%s): the slots of the sessions reset before "
                "were not released; server holds %d fds" % (
                    proto, i, state, src, e, fd_count(srv))) from e
        rst_close(c.sock)
    return addrs


def check_released(srv, proto, state, baseline, before, addrs, rounds):
    """After a batch: descriptors back to the baseline, each session
    logged as connected is logged as gone, and each address may connect
    again (its slots were released)."""
    t0 = time.time()
    fds = wait_fds(srv, baseline)
    opened, left = wait_balanced(srv, proto, before,
                                 wait=max(1, SETTLE - (time.time() - t0)))
    new = len(opened)
    problems = []
    if fds > baseline:
        problems.append("server holds %d fds, %d before the batch"
                        % (fds, baseline))
    if left:
        problems.append("%d %s sessions logged connect without disconnect"
                        % (len(left), proto))
    # The log format is what the balance relies on: it must have matched
    # (connections refused for the limit are logged apart).
    prefix = addrs[0].rsplit(".", 1)[0] + "."
    refusals = len(re.findall(r'refused client="?' + re.escape(prefix),
                              srv.log()))
    if new + refusals < rounds // 2:
        problems.append("only %d connect lines for %d connections"
                        % (new, rounds))
    port = srv.smtp_port if proto == "smtp" else srv.pop3_port
    refused = []
    for src in addrs:
        with Client(port, source=src, timeout=20) as c:
            try:
                greeted(c, proto)
            except Refused as e:
                refused.append("%s: %s" % (src, e))
                continue
            if proto == "smtp":
                assert c.cmd("QUIT")[0] == 221
            else:
                assert c.pop("QUIT").startswith("+OK")
    if refused:
        problems.append("%d of %d addresses still refused, e.g. %s"
                        % (len(refused), len(addrs), refused[0]))
    assert not problems, "after %d resets in %s state %s: %s" % (
        rounds, proto, state, "; ".join(problems))


@pytest.mark.parametrize("state", SMTP_STATES)
def test_smtp_reset_in_every_state(rst_server, state):
    srv = rst_server
    warm_up(srv)
    baseline = fd_count(srv)
    before, _ = sessions(srv, "smtp")
    addrs = reset_batch(srv, "smtp", state, SMTP_ROUNDS)
    check_released(srv, "smtp", state, baseline, before, addrs, SMTP_ROUNDS)


@pytest.mark.parametrize("state", POP3_STATES)
def test_pop3_reset_in_every_state(rst_server, state):
    srv = rst_server
    warm_up(srv)
    baseline = fd_count(srv)
    before, _ = sessions(srv, "pop3")
    addrs = reset_batch(srv, "pop3", state, POP3_ROUNDS)
    check_released(srv, "pop3", state, baseline, before, addrs, POP3_ROUNDS)
    # The maildrop is not left locked: a login now gets it at once.
    c = pop3_login(srv.pop3_port, ALICE)
    try:
        line = c.pop("STAT")
        assert line.startswith("+OK 1 "), line
        pop3_quit(c)
    finally:
        c.close()


# ---- 2. pipelined floods from clients that do not read ----

RSS_BOUND = 32          # MiB the server may grow by under one flood
# The flooding clients' receive buffer: what the kernel holds for them is
# not the server's to bound, so keep it small and the same everywhere.
FLOOD_RCVBUF = 256 * 1024


def live_memory(srv):
    """Before start: AddressSanitizer keeps freed memory in quarantine
    (256 MiB by default), so the RSS of a server that frees what it should
    still grows with every byte it handled.  A small quarantine makes the
    RSS follow what is live."""
    env = dict(srv.env)
    opts = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "quarantine_size_mb=1"
    srv.env = env
FLOOD_BYTES = 12 * MIB  # of pipelined commands
OBSERVE = 3             # seconds of no progress that end the watching


def watch_rss(srv, sender, wait=30):
    """Samples the server's RSS while a flood goes in unread, until for
    OBSERVE seconds neither the sender got more taken nor the RSS moved
    by 4 MiB; returns the peak in MiB."""
    peak = rss_mib(srv)
    last, since = None, time.time()
    deadline = time.time() + wait
    while time.time() < deadline:
        rss = rss_mib(srv)
        peak = max(peak, rss)
        now = (sender.sent, rss // 4)
        if now != last:
            last, since = now, time.time()
        elif time.time() - since > OBSERVE:
            break
        time.sleep(0.02)
    return peak


class Sender(threading.Thread):
    """Sends `chunk` `count` times; .sent counts the chunks the kernel
    took.  An error (the server hung up) is kept in .error."""

    def __init__(self, sock, chunk, count):
        super().__init__(daemon=True)
        self.sock, self.chunk, self.count = sock, chunk, count
        self.sent = 0
        self.error = None

    def run(self):
        try:
            for _ in range(self.count):
                self.sock.sendall(self.chunk)
                self.sent += 1
        except OSError as e:
            self.error = e


def count_smtp_replies(c, want):
    """Reads until `want` replies, all of them 250, have come; returns the
    number read.  Anything that is not part of a 250 reply fails."""
    buf = bytes(c.buf)
    c.buf.clear()
    finals = 0
    while finals < want:
        cut = buf.rfind(b"\n") + 1
        part, buf = b"\n" + buf[:cut], buf[cut:]
        lines = part.count(b"\n") - 1
        finals += part.count(b"\n250 ")
        if part.count(b"\n250") != lines:
            bad = [l for l in part.split(b"\n") if l and
                   not l.startswith(b"250")]
            raise AssertionError("after %d replies, not a 250: %r" % (
                finals, bad[:3]))
        if finals >= want:
            break
        try:
            got = c.sock.recv(1 << 20)
        except OSError as e:
            raise AssertionError("read failed after %d of %d replies: %s"
                                 % (finals, want, e)) from e
        if not got:
            raise AssertionError("session cut after %d of %d replies"
                                 % (finals, want))
        buf += got
    assert not buf, "more than one reply per command: %r" % buf[:200]
    return finals


def test_smtp_pipelined_flood_without_reading(custom):
    srv = custom(before_start=live_memory)
    with smtp_session(srv.smtp_port) as c:
        assert c.cmd("EHLO x")[0] == 250
        assert c.cmd("QUIT")[0] == 221
    base = rss_mib(srv)
    chunk = b"EHLO x\r\n" * 8192
    chunks = FLOOD_BYTES // len(chunk)
    with Client(srv.smtp_port, timeout=120, rcvbuf=FLOOD_RCVBUF) as c:
        greeted(c, "smtp")
        sender = Sender(c.sock, chunk, chunks)
        sender.start()
        peak = watch_rss(srv, sender)
        accepted = sender.sent
        # Now the client reads: a reply to each command, in order, and
        # the session goes on.
        got = count_smtp_replies(c, chunks * 8192)
        sender.join(timeout=60)
        assert sender.error is None, sender.error
        assert c.cmd("QUIT")[0] == 221
        assert c.at_eof()
    print("\nSMTP flood: %d MiB of EHLO, %d MiB taken while unread, RSS "
          "%.0f -> %.0f MiB, %d replies" % (
              FLOOD_BYTES // MIB, accepted * len(chunk) // MIB, base, peak,
              got))
    assert peak - base < RSS_BOUND, (
        "RSS grew from %.0f to %.0f MiB while the client did not read"
        % (base, peak))


def pop3_raw_reply(c):
    """One multi-line reply exactly as sent: status line, stuffed body and
    the terminating dot line."""
    out = c.line() + b"\r\n"
    assert out.startswith(b"+OK"), out
    while True:
        line = c.line() + b"\r\n"
        out += line
        if line == b".\r\n":
            return out


def read_replies(c, one, count):
    """Reads `count` replies, each the same bytes as `one`."""
    for i in range(count):
        while len(c.buf) < len(one):
            c._fill()
        got = bytes(c.buf[:len(one)])
        assert got == one, "reply %d of %d differs: %r" % (
            i + 1, count, got[:200])
        del c.buf[:len(one)]


def sixty_k_message():
    body = b"".join(b"%s line %05d of a message fetched again and again\r\n"
                    % (b"." if i % 7 == 0 else b"", i) for i in range(1150))
    msg = make_message("sixty", body)
    assert 55000 < len(msg) < 70000, len(msg)
    return msg


def test_pop3_pipelined_retr_without_reading(custom):
    srv = custom(before_start=live_memory)
    msg = sixty_k_message()
    code, text = smtp_send(srv.smtp_port, ALICE, msg)
    assert code == 250, text
    count = 3000
    with pop3_login(srv.pop3_port, ALICE, timeout=120,
                    rcvbuf=FLOOD_RCVBUF) as c:
        c.send(b"RETR 1\r\n")
        one = pop3_raw_reply(c)
        # The same pipelined, read as it comes, first: what a normal
        # session of this kind needs (threads touched, caches filled) is
        # in the baseline, not in the growth.
        c.send(b"RETR 1\r\n" * 300)
        read_replies(c, one, 300)
        base = rss_mib(srv)
        sender = Sender(c.sock, b"RETR 1\r\n" * 100, count // 100)
        sender.start()
        # The commands fit in the socket buffers at once; what counts is
        # what the server does with them while nothing is read.
        peak = watch_rss(srv, sender)
        sender.join(timeout=60)
        assert sender.error is None, sender.error
        read_replies(c, one, count)
        assert not c.buf, c.buf[:200]
        pop3_quit(c)
    print("\nPOP3 flood: %d x RETR of %d bytes, RSS %.0f -> %.0f MiB"
          % (count, len(one), base, peak))
    assert body_of(one[one.index(b"\r\n") + 2:-3].replace(
        b"\r\n..", b"\r\n.")) == msg
    assert peak - base < RSS_BOUND, (
        "RSS grew from %.0f to %.0f MiB while the client did not read"
        % (base, peak))


# ---- 3. slow readers and silent clients ----

TIMEOUT = 3     # the session timeouts set below; the minimum is 1


def ten_mb_message():
    lines = []
    for i in range(150000):
        lead = b"." if i % 11 == 0 else b""
        lines.append(lead + b"%06d a line of a ten megabyte message, read "
                     b"slowly by a patient client\r\n" % i)
    msg = make_message("ten-mb", b"".join(lines))
    assert len(msg) > 10 * 1000 * 1000, len(msg)
    return msg


def test_pop3_slow_reader_gets_whole_message(custom):
    srv = custom("pop3.timeout=%d" % TIMEOUT)
    msg = ten_mb_message()
    code, text = smtp_send(srv.smtp_port, ALICE, msg, timeout=120)
    assert code == 250, text
    with pop3_login(srv.pop3_port, ALICE, timeout=60, rcvbuf=65536) as c:
        t0 = time.time()
        c.send(b"RETR 1\r\n")
        status = c.line()
        assert status.startswith(b"+OK"), status
        raw = bytearray(c.buf)
        c.buf.clear()
        # 256 KiB every quarter second: about ten seconds in all, three
        # times the timeout, with the server's output pending throughout.
        while not raw.endswith(b"\r\n.\r\n"):
            time.sleep(0.25)
            want = len(raw) + 256 * 1024
            while len(raw) < want and not raw.endswith(b"\r\n.\r\n"):
                got = c.sock.recv(want - len(raw))
                assert got, "closed after %d bytes: %s" % (
                    len(raw), srv.log()[-1000:])
                raw += got
        took = time.time() - t0
        body = bytes(raw[:-3])
        if body.startswith(b"."):
            body = body[1:]
        body = body.replace(b"\r\n.", b"\r\n")
        assert body_of(body) == msg, "message altered"
        # The session goes on after it.
        try:
            assert c.pop("NOOP").startswith("+OK")
            pop3_quit(c)
        except (EOFError, OSError) as e:
            raise AssertionError("after RETR: %s\n%s" % (
                e, srv.log()[-1500:])) from e
    assert took > 2 * TIMEOUT, "read too fast to test anything: %.1f s" % took
    timeouts = [l for l in srv.log().splitlines()
                if "pop3[" in l and "timeout" in l]
    assert not timeouts, timeouts


def closed_within(c, limit):
    """Waits up to `limit` s for the server to close; returns when it did
    (time.time()) and whatever it sent before."""
    c.sock.settimeout(limit)
    data = bytes(c.buf)
    try:
        while True:
            got = c.sock.recv(65536)
            if not got:
                break
            data += got
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise AssertionError("still open after %d s" % limit)
    return time.time(), data


def test_silent_clients_closed(custom):
    srv = custom("pop3.timeout=%d" % TIMEOUT, "smtp.timeout=%d" % TIMEOUT)
    pop = pop3_login(srv.pop3_port, ALICE)
    t_pop = time.time()
    smtp = smtp_session(srv.smtp_port)
    t_smtp = time.time()
    try:
        end_pop, data = closed_within(pop, 30)
        # RFC 1939 3: the autologout ends the session without a reply.
        assert data == b"", data
        end_smtp, data = closed_within(smtp, 30)
        assert data.startswith(b"421 4.4.2 "), data
    finally:
        pop.close()
        smtp.close()
    # Not before about the timeout (the upper bound is closed_within's).
    assert end_pop - t_pop >= TIMEOUT - 1, end_pop - t_pop
    assert end_smtp - t_smtp >= TIMEOUT - 1, end_smtp - t_smtp
    # The maildrop was released.
    with pop3_login_wait(srv.pop3_port, ALICE) as c:
        pop3_quit(c)


def test_smtp_client_not_reading_is_closed(custom):
    """A client that sends commands, then neither reads their replies nor
    sends more, makes no progress either way: it is closed like a silent
    one."""
    srv = custom("smtp.timeout=%d" % TIMEOUT)
    # Once a session of our own has ended, the start-up probe's (which
    # came before it) is logged too.
    with smtp_session(srv.smtp_port) as c:
        assert c.cmd("QUIT")[0] == 221
        assert c.at_eof()
    assert not wait_balanced(srv, "smtp", set())[1]
    before, _ = sessions(srv, "smtp")
    c = Client(srv.smtp_port, timeout=5, rcvbuf=4096)
    try:
        greeted(c, "smtp")
        try:
            c.send(b"EHLO x\r\n" * 20000)   # some 4 MB of replies
        except socket.timeout:
            pass        # the server stopped reading: as good
        opened, _ = sessions(srv, "smtp")
        mine = opened - before
        assert len(mine) == 1, mine
        sid = mine.pop()
        deadline = time.time() + 30
        while sid not in sessions(srv, "smtp")[1]:
            assert time.time() < deadline, \
                "session %s still open after 30 s:\n%s" % (
                    sid, srv.log()[-2000:])
            time.sleep(0.1)
        # Whatever was still queued for the client, it ends in a close.
        closed_within(c, 20)
    finally:
        c.close()
    with smtp_session(srv.smtp_port) as c:
        assert c.cmd("QUIT")[0] == 221


# ---- 4. mail goes on while others fail logins ----

FLOODERS = 100
FLOOD_SECONDS = 15


class LoginFlood(threading.Thread):
    """A POP3 client from its own address that fails logins over and
    over, reconnecting whenever the server closes, until told to stop;
    then it hangs up at once, whatever reply it was waiting for."""

    def __init__(self, port, source, stop):
        super().__init__(daemon=True)
        self.port, self.source, self.stop = port, source, stop
        self.failed = 0
        self.busy = 0       # refused at once: the login queue was full
        self.error = None
        self.sock = None
        self.lock = threading.Lock()

    def run(self):
        try:
            while not self.stop.is_set():
                self.session()
        except Exception as e:  # noqa: B902 - reported by the test
            if not self.stop.is_set():
                self.error = e

    def hang_up(self):
        """From another thread, once `stop` is set."""
        with self.lock:
            if self.sock is not None:
                try:
                    self.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def session(self):
        # How long a login takes depends on the machine's load; only the
        # replies themselves are checked.
        with Client(self.port, source=self.source, timeout=600) as c:
            with self.lock:
                if self.stop.is_set():
                    return
                self.sock = c.sock
            try:
                greeted(c, "pop3")
                while not self.stop.is_set():
                    line = c.pop("USER " + ALICE)
                    # Closed after an instant refusal by the login
                    # limits (auth.fail_limit_ip): its last words were
                    # already on their way.
                    if line.startswith("-ERR Too many errors"):
                        return
                    assert line.startswith("+OK"), line
                    line = c.pop("PASS wrong password")
                    if line.startswith("-ERR Too many errors"):
                        return
                    if line.startswith("-ERR [SYS/TEMP]"):
                        self.busy += 1
                        continue
                    assert line.startswith("-ERR [AUTH]"), line
                    self.failed += 1
            except (EOFError, ConnectionResetError):
                return      # closed for too many errors: start again
            finally:
                with self.lock:
                    self.sock = None


def test_smtp_latency_under_login_flood(custom):
    # Real hashing cost: the defaults, not the cheap test settings.
    srv = custom("auth.argon2_memory=19456", "auth.argon2_passes=2",
                 "pop3.max_errors=50")
    stop = threading.Event()
    flood = [LoginFlood(srv.pop3_port, "127.0.0.%d" % (i + 2), stop)
             for i in range(FLOODERS)]
    times = []  # (seconds, whether the flood was on)
    # The flood is bounded in time; transactions still going when it
    # ends are counted apart.
    timer = threading.Timer(FLOOD_SECONDS, stop.set)
    t_flood = time.time()
    try:
        for t in flood:
            t.start()
        timer.start()
        # Once the logins have piled up, one transaction every half
        # second (or as soon as the one before is done).
        time.sleep(2)
        t_first = time.time()
        for i in range(20):
            time.sleep(max(0, t_first + 0.5 * i - time.time()))
            msg = make_message("under-flood-%d" % i)
            during = not stop.is_set()
            t0 = time.time()
            s = smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=120)
            try:
                s.ehlo("client.test")
                refused = s.sendmail("sender@example.org", [ALICE], msg)
                assert refused == {}, refused
            finally:
                s.quit()
            times.append((time.time() - t0, during))
        stop.wait(max(0, t_flood + FLOOD_SECONDS - time.time()))
    finally:
        stop.set()
        timer.cancel()
        flood_took = min(time.time() - t_flood, FLOOD_SECONDS)
        for t in flood:
            t.hang_up()
        for t in flood:
            t.join(timeout=30)
    stuck = [t.source for t in flood if t.is_alive()]
    assert not stuck, "flood clients stuck: %r" % stuck[:5]
    errors = [(t.source, t.error) for t in flood if t.error]
    assert not errors, errors[:5]
    failed = sum(t.failed for t in flood)
    busy = sum(t.busy for t in flood)
    under = [t for t, during in times if during]
    after = [t for t, during in times if not during]
    print("\nSMTP under a login flood (%d clients, %d failed logins and %d "
          "refused as busy in %.0f s): %d transactions begun during it: "
          "median %.3f s, max %.3f s; %d after it: median %.3f s"
          % (FLOODERS, failed, busy, flood_took, len(under),
             statistics.median(under), max(under), len(after),
             statistics.median(after) if after else 0))
    # The flood was real: logins were checked and refused (how many
    # depends on the machine).
    assert failed + busy > 0
    assert len(pop3_fetch(srv.pop3_port, ALICE)) == 20


BIG_SENDERS = 24
BIG_MESSAGE = 6 * MIB


def send_big(port, tag, errors):
    """One SMTP transaction with a BIG_MESSAGE message, sent in pieces."""
    try:
        line = b"z" * 1022 + b"\r\n"
        with smtp_session(port) as c:
            assert c.cmd("MAIL FROM:<big@example.org>")[0] == 250
            assert c.cmd("RCPT TO:<alice@example.com>")[0] == 250
            assert c.cmd("DATA")[0] == 354
            c.send(make_message(tag, b""))
            piece = line * 256
            for _ in range(BIG_MESSAGE // len(piece)):
                c.send(piece)
            c.send(b".\r\n")
            code, text = c.reply()
            assert code == 250, text
            c.cmd("QUIT")
    except Exception as e:      # reported by the test
        errors.append("%s: %r" % (tag, e))


def test_many_large_messages_at_once_are_spooled(custom):
    """Many clients sending large messages at once: the server keeps each
    in memory only up to a point and spools the rest, so its memory does
    not grow with the messages (held whole, these would be about
    150 MiB); every message arrives whole."""
    srv = custom(before_start=live_memory)
    base = rss_mib(srv)
    errors = []
    threads = [threading.Thread(target=send_big,
                                args=(srv.smtp_port, "big-%d" % i, errors))
               for i in range(BIG_SENDERS)]
    for t in threads:
        t.start()
    peak = base
    while any(t.is_alive() for t in threads):
        peak = max(peak, rss_mib(srv))
        time.sleep(0.05)
    for t in threads:
        t.join()
    assert errors == [], errors
    print("\n%d senders of %d MiB: RSS %.0f -> %.0f MiB" % (
        BIG_SENDERS, BIG_MESSAGE // MIB, base, peak))
    assert peak - base < RSS_BOUND, (base, peak)
    # Nothing was lost on the way through the spool.
    with pop3_login(srv.pop3_port, "alice@example.com") as c:
        line = c.pop("STAT")
        assert line.split()[1] == str(BIG_SENDERS), line
        assert int(c.pop("LIST 1").split()[2]) > BIG_MESSAGE
        quit_and_close(c)


def test_command_line_of_the_longest_allowed_length(custom):
    """A command line exactly as long as smtp.max_line_length allows fits
    in what the server buffers ahead: it is answered, not left waiting."""
    longest = 1048576
    srv = custom("smtp.max_line_length=%d" % longest)
    with smtp_session(srv.smtp_port) as c:
        verb = b"NOOP "
        c.send(verb + b"x" * (longest - len(verb)) + b"\r\n")
        code, text = c.reply()
        assert code == 250, text
        # One byte more is refused, and the session stays in step.
        c.send(verb + b"x" * (longest - len(verb) + 1) + b"\r\n")
        code, text = c.reply()
        assert code == 500, text
        assert c.cmd("NOOP")[0] == 250


def test_imap_fetch_to_a_client_that_stops_reading(custom):
    """FETCH 1:* BODY[] of 24 MB to a client that does not read: the
    server builds the answer a piece at a time as the client takes it, so
    its memory stays bounded; then every byte arrives, in order, with the
    tagged OK, and another client is served meanwhile."""
    import imaplib
    srv = custom(before_start=live_memory)
    size, count = 1024 * 1024, 24
    body = b"".join(b"%07d stalled fetch line of text\r\n" % i
                    for i in range(size // 32))
    m = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=60)
    m.login(ALICE, PASSWORD)
    for i in range(count):
        m.append("INBOX", None, None,
                 b"Subject: big %d\r\n\r\n" % i + body)
    m.logout()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, FLOOD_RCVBUF)
    s.connect(("127.0.0.1", srv.imap_port))
    s.settimeout(60)
    f = s.makefile("rb")
    assert f.readline().startswith(b"* OK")
    s.sendall(b"a LOGIN %s \"%s\"\r\nb SELECT INBOX\r\n" % (
        ALICE.encode(), PASSWORD.encode()))
    while not f.readline().startswith(b"b OK"):
        pass
    base = rss_mib(srv)
    s.sendall(b"c FETCH 1:* BODY.PEEK[]\r\n")
    peak = base
    for _ in range(30):
        time.sleep(0.1)
        peak = max(peak, rss_mib(srv))
    # A good client is served while the answer waits.
    g = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=60)
    g.login(BOB, PASSWORD)
    assert g.select("INBOX")[0] == "OK"
    g.logout()
    # Far less than the 24 MB answer: a few pieces and socket buffers.
    assert peak - base < 16, "RSS %.0f -> %.0f MiB" % (base, peak)
    got = 0
    while True:
        line = f.readline()
        assert line, "connection closed after %d messages" % got
        if line.startswith(b"c "):
            assert line.startswith(b"c OK"), line
            break
        mm = re.match(rb"\* \d+ FETCH \(BODY\[\] \{(\d+)\}\r\n$", line)
        assert mm, line[:80]
        data = f.read(int(mm.group(1)))
        assert data.endswith(body), len(data)
        assert f.readline() == b")\r\n"
        got += 1
    assert got == count
    s.close()
