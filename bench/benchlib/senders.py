"""Many SMTP clients sending one large message each, all at once: the load of
the memory row "under N senders of M MiB messages".

Every client connects, says EHLO, MAIL FROM (with SIZE=), RCPT TO and DATA,
and waits at the 354 until every client has got there.  Then all of them send
their whole message (headers and body) at once.  None of them sends the final
"." line: each holds its session open until told to go, then closes it.  So
each server has to take in every byte of every message, but stores nothing,
and the measurement sees all the messages in flight at the same time.

The clients are a few forked processes, each driving its share of the
sockets with a selector, so that one Python interpreter (one core) does not
limit the load."""

import base64
import multiprocessing
import os
import selectors
import socket
import time

from .clients import smtp_reply_done

LINE = 998              # longest line RFC 5321 allows, without CRLF
CHUNK = 1 << 20         # bytes offered to one send(); the kernel takes what fits

# Per-process counters in a shared array, one slot group per process.
READY, FAILED, DONE, SENT = range(4)
NSTAT = 4


def make_message(size, sender, rcpt):
    """A message of exactly `size` bytes (headers, body, every CRLF), the
    body in lines of 998 characters of base64 text: the longest lines SMTP
    allows keep the servers' per-line cost (Postfix handles mail line by
    line) from turning a memory test into a CPU test.  No line starts with
    a dot, so what is sent is what the server has to hold."""
    head = ("From: <%s>\r\nTo: <%s>\r\nSubject: bench: one large message\r\n"
            "Message-ID: <large.%d@client.bench.test>\r\n"
            "Date: Thu, 1 Jan 2026 00:00:00 +0000\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n"
            "\r\n" % (sender, rcpt, os.getpid())).encode()
    # 256 different lines (1000 bytes each with CRLF), repeated; the last
    # one or two lines are shorter so that the total is exact.
    pool = base64.b64encode(os.urandom(LINE * 256 * 3 // 4 + 3))
    lines = [pool[i * LINE:(i + 1) * LINE] + b"\r\n" for i in range(256)]
    nfull, tail = divmod(size - len(head), LINE + 2)
    last = []
    if tail == 1:                       # no 1-byte line: 998 + 3 bytes instead
        if nfull == 0:
            raise ValueError("message size %d too small" % size)
        nfull -= 1
        last = [pool[:LINE - 2] + b"\r\n", b"A\r\n"]
    elif tail >= 2:
        last = [pool[:tail - 2] + b"\r\n"]
    body = b"".join(lines) * (nfull // 256) + b"".join(lines[:nfull % 256]) + b"".join(last)
    msg = head + body
    assert len(msg) == size, (len(msg), size)
    return msg


class _Session:
    __slots__ = ("sock", "step", "buf", "off")

    def __init__(self, sock):
        self.sock, self.step, self.buf, self.off = sock, 0, bytearray(), 0


def _open(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    return s


def _child(slot, port, n, script, msg, stats, go, stop, errors, deadline, in_flight):
    """One sender process: `n` sessions up to the 354, then (after `go`) the
    message on all of them, then hold until `stop`."""
    base = slot * NSTAT
    sel = selectors.DefaultSelector()
    errs = []

    def fail(sess, why):
        stats[base + FAILED] += 1
        if len(errs) < 3:
            errs.append(why)
        try:
            sel.unregister(sess.sock)
        except (KeyError, ValueError):
            pass
        sess.sock.close()

    # Phase 1: sessions up to the DATA's 354, at most in_flight at a time.
    ready, started, active = [], 0, 0
    while (started < n or active) and time.monotonic() < deadline and not stop.is_set():
        while started < n and active < in_flight:
            started += 1
            try:
                sess = _Session(_open(port))
            except OSError as e:
                stats[base + FAILED] += 1
                if len(errs) < 3:
                    errs.append("connect: %s" % e)
                continue
            sel.register(sess.sock, selectors.EVENT_READ, sess)
            active += 1
        for key, _ in sel.select(timeout=0.2):
            sess = key.data
            try:
                data = sess.sock.recv(4096)
            except BlockingIOError:
                continue
            except OSError as e:
                active -= 1
                fail(sess, "recv: %s" % e)
                continue
            if not data:
                active -= 1
                fail(sess, "closed by server before DATA (%r)" % bytes(sess.buf[-120:]))
                continue
            sess.buf += data
            ok = smtp_reply_done(bytes(sess.buf))
            if ok is None:
                continue
            if not ok:
                active -= 1
                fail(sess, "refused: %r" % bytes(sess.buf[-120:]))
                continue
            if sess.step == len(script):        # that was the 354
                sel.unregister(sess.sock)
                active -= 1
                ready.append(sess)
                stats[base + READY] += 1
                continue
            sess.buf = bytearray()
            try:
                sess.sock.send(script[sess.step])   # short line: fits
            except OSError as e:
                active -= 1
                fail(sess, "send: %s" % e)
                continue
            sess.step += 1
    for key in list(sel.get_map().values()):
        fail(key.data, "timed out before DATA")

    # Phase 2: the whole message on every session, no final dot.
    while not go.is_set() and not stop.is_set() and time.monotonic() < deadline:
        go.wait(0.2)
    if go.is_set() and not stop.is_set():
        view = memoryview(msg)
        total = len(msg)
        for sess in ready:
            sel.register(sess.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, sess)
        sending = len(ready)
        while sending and time.monotonic() < deadline and not stop.is_set():
            for key, ev in sel.select(timeout=0.2):
                sess = key.data
                if ev & selectors.EVENT_READ:
                    # The server has nothing to say before the final dot;
                    # anything (an error reply, a close) ends this sender.
                    try:
                        data = sess.sock.recv(4096)
                    except OSError as e:
                        data = ("recv: %s" % e).encode()
                    ready.remove(sess)
                    sending -= 1
                    fail(sess, "server spoke during the message: %r" % data[:120])
                    continue
                try:
                    k = sess.sock.send(view[sess.off:sess.off + CHUNK])
                except BlockingIOError:
                    continue
                except OSError as e:
                    ready.remove(sess)
                    sending -= 1
                    fail(sess, "send: %s" % e)
                    continue
                sess.off += k
                stats[base + SENT] += k
                if sess.off == total:
                    # Sent in full: stop watching it for writing; a reply
                    # before the close would still be seen by the parent
                    # as unread data, not lost.
                    sel.unregister(sess.sock)
                    sending -= 1
                    stats[base + DONE] += 1
        view.release()

    # Phase 3: hold the sessions until told to close them.
    while not stop.is_set() and time.monotonic() < deadline:
        stop.wait(0.2)
    for sess in ready:
        try:
            sess.sock.close()
        except OSError:
            pass
    sel.close()
    for e in errs:
        errors.put("%d: %s" % (slot, e))


class LargeSenders:
    """`n` SMTP clients, each sending `msg` to one server at `port`, spread
    over `procs` processes.  The parent steers them: start() (sessions up to
    the 354), go() (send), close() (drop every session) and reads their
    progress from shared counters."""

    def __init__(self, port, n, msg, sender, rcpt, timeout, procs=4, in_flight=16):
        self.port, self.n, self.msg = port, n, msg
        self.procs = max(1, min(procs, n))
        self.script = [b"EHLO client.bench.test\r\n",
                       b"MAIL FROM:<%s> SIZE=%d\r\n" % (sender.encode(), len(msg)),
                       b"RCPT TO:<%s>\r\n" % rcpt.encode(),
                       b"DATA\r\n"]
        self.timeout, self.in_flight = timeout, in_flight
        ctx = multiprocessing.get_context("fork")
        self.ctx = ctx
        self.stats = ctx.Array("q", self.procs * NSTAT, lock=False)
        self.go_ev, self.stop_ev = ctx.Event(), ctx.Event()
        self.errors = ctx.Queue()
        self.children = []

    def start(self):
        deadline = time.monotonic() + self.timeout
        per, extra = divmod(self.n, self.procs)
        for i in range(self.procs):
            p = self.ctx.Process(target=_child, daemon=True, args=(
                i, self.port, per + (1 if i < extra else 0), self.script, self.msg,
                self.stats, self.go_ev, self.stop_ev, self.errors, deadline,
                self.in_flight))
            p.start()
            self.children.append(p)

    def _sum(self, what):
        return sum(self.stats[i * NSTAT + what] for i in range(self.procs))

    def ready(self):
        return self._sum(READY)

    def failed(self):
        return self._sum(FAILED)

    def done(self):
        return self._sum(DONE)

    def sent(self):
        return self._sum(SENT)

    def alive(self):
        return any(p.is_alive() for p in self.children)

    def go(self):
        self.go_ev.set()

    def close(self):
        """Tell every process to drop its sessions; wait for them, kill any
        that does not exit.  Returns the first few errors they reported."""
        self.stop_ev.set()
        errs = []
        deadline = time.monotonic() + 30
        for p in self.children:
            p.join(max(0.1, deadline - time.monotonic()))
        while True:
            try:
                errs.append(self.errors.get(timeout=0.2))
            except Exception:           # queue.Empty (or a broken queue)
                break
        for p in self.children:
            if p.is_alive():
                p.kill()
                p.join(5)
        self.errors.close()
        return errs[:5]
