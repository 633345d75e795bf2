"""The login flood and the SMTP transaction timer of the latency rows.

LoginFlood: POP3 clients from 127.0.0.2, 127.0.0.3, ... (one address each,
bound before connecting) that log in with a wrong password over and over:
USER, PASS with a wrong password, and again after the -ERR; when the server
closes the connection (too many failures), they connect again.  Optionally
as many IMAP clients from the same addresses do the same with LOGIN.  They
run in a forked process of their own, so the timer below never waits for
them.

smtp_transaction: one full SMTP transaction on a new connection, timed from
before connect() to the end of the 221 reply to QUIT.

imap_session: the good user's IMAP session (LOGIN, SELECT, FETCH 1 BODY[],
LOGOUT) on a new connection, with the time from before connect() to the
tagged OK of LOGIN."""

import multiprocessing
import re
import selectors
import socket
import time

from .common import BenchError
from .clients import smtp_reply_done

ATTEMPTS, CONNECTS, ERRORS, SUCCESSES, IMAP_ATTEMPTS = range(5)
RECONNECT_PAUSE = 0.05      # after a connection that failed before any reply


class _Client:
    __slots__ = ("addr", "port", "imap", "sock", "buf", "step", "n", "talked",
                 "retry_at")

    def __init__(self, addr, port, imap=False):
        self.addr, self.port, self.imap = addr, port, imap
        self.sock, self.buf, self.step = None, bytearray(), 0
        self.n, self.talked, self.retry_at = 0, False, 0.0


def _imap_line(c, line, user, stats, send):
    """One line from an IMAP server to a flood client: after the greeting
    and after each tagged reply to LOGIN, LOGIN again with a wrong
    password.  Returns False when the client has dropped the connection."""
    if c.step == 0:
        if not line.startswith(b"* OK"):
            return False                        # refused at the greeting
    elif line.startswith(b"f%d " % c.n):
        stats[ATTEMPTS] += 1
        stats[IMAP_ATTEMPTS] += 1
        if line.split()[1:2] == [b"OK"]:
            stats[SUCCESSES] += 1
    else:
        return True                             # untagged: * BYE, * OK ...
    c.n += 1
    if send(c, b"f%d LOGIN %s wrong-%d\r\n" % (c.n, user.encode(), c.n)):
        c.step = 2
    return True


def _flood(pop3_port, imap_port, addrs, user, stats, stop):
    sel = selectors.DefaultSelector()
    clients = [_Client(a, pop3_port) for a in addrs]
    if imap_port:
        clients += [_Client(a, imap_port, imap=True) for a in addrs]

    def connect(c):
        c.buf, c.step, c.talked = bytearray(), 0, False
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((c.addr, 0))
        try:
            s.connect(("127.0.0.1", c.port))
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            stats[ERRORS] += 1
            c.retry_at = time.monotonic() + RECONNECT_PAUSE
            return
        c.sock = s
        stats[CONNECTS] += 1
        sel.register(s, selectors.EVENT_READ, c)

    def drop(c):
        sel.unregister(c.sock)
        c.sock.close()
        c.sock = None
        # A server that closes at once (refusal, limit) is retried after a
        # pause, not in a busy loop.
        c.retry_at = 0.0 if c.talked else time.monotonic() + RECONNECT_PAUSE

    def send(c, line):
        try:
            c.sock.send(line)
            return True
        except OSError:
            drop(c)
            return False

    while not stop.is_set():
        now = time.monotonic()
        for c in clients:
            if c.sock is None and now >= c.retry_at:
                connect(c)
        for key, _ in sel.select(timeout=0.05):
            c = key.data
            try:
                data = c.sock.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                drop(c)
                continue
            c.buf += data
            while c.sock is not None:
                i = c.buf.find(b"\r\n")
                if i < 0:
                    break
                line = bytes(c.buf[:i])
                del c.buf[:i + 2]
                c.talked = True
                if c.imap:
                    if not _imap_line(c, line, user, stats, send):
                        drop(c)
                        break
                    continue
                if c.step == 2:                 # the reply to PASS
                    stats[ATTEMPTS] += 1
                    if line.startswith(b"+OK"):
                        stats[SUCCESSES] += 1
                if c.step == 0 and not line.startswith(b"+OK"):
                    drop(c)                     # refused at the greeting
                    break
                if c.step in (0, 2):
                    c.n += 1
                    if send(c, b"USER %s\r\n" % user.encode()):
                        c.step = 1
                else:
                    # Whatever USER got, send the wrong password: a server
                    # that refuses unknown users at USER still pays for PASS.
                    if send(c, b"PASS wrong-%d\r\n" % c.n):
                        c.step = 2
    for c in clients:
        if c.sock is not None:
            c.sock.close()
    sel.close()


class LoginFlood:
    """`n` POP3 clients failing logins as `user` on 127.0.0.1:port, from
    127.0.0.2 upwards, until stop(); with imap_port, `n` IMAP clients from
    the same addresses as well."""

    def __init__(self, port, user, n=100, imap_port=None):
        if n > 250:
            raise ValueError("at most 250 flood addresses")
        self.addrs = ["127.0.0.%d" % (2 + i) for i in range(n)]
        ctx = multiprocessing.get_context("fork")
        self.stats = ctx.Array("q", 5, lock=False)
        self.stop_ev = ctx.Event()
        self.proc = ctx.Process(target=_flood, daemon=True,
                                args=(port, imap_port, self.addrs, user,
                                      self.stats, self.stop_ev))

    def start(self):
        self.proc.start()

    def counts(self):
        """(failed-login replies so far, connections made, connect errors,
        unexpected successes, of the failed logins those over IMAP)."""
        return tuple(self.stats[i] for i in range(5))

    def alive(self):
        return self.proc.is_alive()

    def stop(self):
        self.stop_ev.set()
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)


def _reply(sock, buf, what):
    """Read one complete SMTP reply; raise unless it is 2xx/3xx.  (No
    pipelining here, so the buffer never holds more than one reply.)"""
    while True:
        ok = smtp_reply_done(bytes(buf)) if buf else None
        if ok is not None:
            reply = bytes(buf)
            del buf[:]
            if not ok:
                raise BenchError("SMTP %s: %r" % (what, reply[-200:]))
            return reply
        data = sock.recv(65536)
        if not data:
            raise BenchError("SMTP %s: connection closed" % what)
        buf += data


def smtp_transaction(port, sender, rcpt, message, timeout=60):
    """Seconds for connect, greeting, EHLO, MAIL, RCPT, DATA + message, QUIT
    on a new connection, each command sent after the previous reply."""
    t0 = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = bytearray()
        _reply(sock, buf, "greeting")
        for line, what in ((b"EHLO client.bench.test\r\n", "EHLO"),
                           (b"MAIL FROM:<%s>\r\n" % sender.encode(), "MAIL"),
                           (b"RCPT TO:<%s>\r\n" % rcpt.encode(), "RCPT"),
                           (b"DATA\r\n", "DATA"),
                           (message + b".\r\n", "end of data"),
                           (b"QUIT\r\n", "QUIT")):
            sock.sendall(line)
            _reply(sock, buf, what)
        return time.monotonic() - t0
    finally:
        sock.close()


# ---------------------------------------------------------------------------
# The good user's IMAP session

_LITERAL = re.compile(rb"\{(\d+)\+?\}$")


class _Imap:
    """Just enough of an IMAP client for one fixed session: lines, and
    literals read as such (a message body may hold any line)."""

    def __init__(self, sock):
        self.sock, self.buf = sock, bytearray()

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            if len(self.buf) > 1 << 20:
                raise BenchError("IMAP: a line over 1 MiB")
            data = self.sock.recv(65536)
            if not data:
                raise BenchError("IMAP: connection closed")
            self.buf += data

    def _skip(self, n):
        while len(self.buf) < n:
            data = self.sock.recv(max(65536, n - len(self.buf)))
            if not data:
                raise BenchError("IMAP: connection closed in a literal")
            self.buf += data
        del self.buf[:n]

    def greeting(self):
        line = self._line()
        if not line.startswith(b"* OK"):
            raise BenchError("IMAP greeting: %r" % line[:100])

    def command(self, tag, text):
        """Sends a command; returns (status, untagged bytes) at its tagged
        reply.  Literals in the responses are skipped over."""
        self.sock.sendall(b"%s %s\r\n" % (tag, text))
        got = 0
        while True:
            line = self._line()
            m = _LITERAL.search(line)
            if m:
                n = int(m.group(1))
                self._skip(n)
                got += n
                continue                    # the response goes on after it
            if line.startswith(tag + b" "):
                return line[len(tag) + 1:].split(b" ", 1)[0], got, line


class LoginTimeout(Exception):
    """The server did not get as far as the tagged reply to LOGIN within
    the timeout (connect, greeting or LOGIN)."""


def imap_session(port, user, password, timeout=30):
    """connect, LOGIN, SELECT INBOX, FETCH 1 BODY[], LOGOUT on a new
    connection.  Returns (seconds to LOGIN's tagged reply, True if it was
    OK); a refused LOGIN ends the session there.  Raises LoginTimeout when
    any step up to LOGIN's reply waits longer than `timeout`, BenchError
    when a later one does or fails."""
    t0 = time.monotonic()
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except socket.timeout:
        raise LoginTimeout()
    step = "LOGIN"
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = _Imap(sock)
        c.greeting()
        st, _, line = c.command(b"a1", b'LOGIN "%s" "%s"' % (user.encode(),
                                                          password.encode()))
        login = time.monotonic() - t0
        if st != b"OK":
            return login, False
        step = "SELECT"
        return login, _after_login(c)
    except socket.timeout:
        if step == "LOGIN":
            raise LoginTimeout()
        raise BenchError("IMAP: no reply within %ds after LOGIN" % timeout)
    finally:
        sock.close()


def _after_login(c):
    """SELECT INBOX, FETCH 1 BODY[], LOGOUT; True, or BenchError."""
    st, _, line = c.command(b"a2", b"SELECT INBOX")
    if st != b"OK":
        raise BenchError("SELECT INBOX: %r" % line[:100])
    st, got, line = c.command(b"a3", b"FETCH 1 BODY[]")
    if st != b"OK" or got == 0:
        raise BenchError("FETCH 1 BODY[]: %r (%d bytes)" % (line[:100], got))
    st, _, line = c.command(b"a4", b"LOGOUT")
    if st != b"OK":
        raise BenchError("LOGOUT: %r" % line[:100])
    return True
