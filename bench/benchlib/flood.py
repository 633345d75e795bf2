"""The login flood and the SMTP transaction timer of the latency rows.

LoginFlood: POP3 clients from 127.0.0.2, 127.0.0.3, ... (one address each,
bound before connecting) that log in with a wrong password over and over:
USER, PASS with a wrong password, and again after the -ERR; when the server
closes the connection (too many failures), they connect again.  They run in
a forked process of their own, so the timer below never waits for them.

smtp_transaction: one full SMTP transaction on a new connection, timed from
before connect() to the end of the 221 reply to QUIT."""

import multiprocessing
import selectors
import socket
import time

from .common import BenchError
from .clients import smtp_reply_done

ATTEMPTS, CONNECTS, ERRORS, SUCCESSES = range(4)
RECONNECT_PAUSE = 0.05      # after a connection that failed before any reply


class _Client:
    __slots__ = ("addr", "sock", "buf", "step", "n", "talked", "retry_at")

    def __init__(self, addr):
        self.addr, self.sock, self.buf, self.step = addr, None, bytearray(), 0
        self.n, self.talked, self.retry_at = 0, False, 0.0


def _flood(port, addrs, user, stats, stop):
    sel = selectors.DefaultSelector()
    clients = [_Client(a) for a in addrs]

    def connect(c):
        c.buf, c.step, c.talked = bytearray(), 0, False
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((c.addr, 0))
        try:
            s.connect(("127.0.0.1", port))
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
    127.0.0.2 upwards, until stop()."""

    def __init__(self, port, user, n=100):
        if n > 250:
            raise ValueError("at most 250 flood addresses")
        self.addrs = ["127.0.0.%d" % (2 + i) for i in range(n)]
        ctx = multiprocessing.get_context("fork")
        self.stats = ctx.Array("q", 4, lock=False)
        self.stop_ev = ctx.Event()
        self.proc = ctx.Process(target=_flood, daemon=True,
                                args=(port, self.addrs, user, self.stats, self.stop_ev))

    def start(self):
        self.proc.start()

    def counts(self):
        """(failed-login replies so far, connections made, connect errors,
        unexpected successes)."""
        return tuple(self.stats[i] for i in range(4))

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
