"""Load generators: smtp-source for SMTP, our own small POP3 client, and a
holder of many idle sessions for the memory measurement.

The same client code runs against posthorn and the reference, so the client's
own cost is the same on both sides of the table."""

import selectors
import socket
import subprocess
import time

from .common import BenchError

SMTP_SOURCE = "/usr/sbin/smtp-source"


def smtp_source(port, sessions, count, size, sender, rcpt, timeout):
    """Send `count` messages of `size` payload bytes with `sessions` parallel
    senders, one new SMTP connection per message (no -d).

    Returns (start, end) monotonic times: start just before the first
    connection, end when smtp-source exited (every message got its 250).
    smtp-source aborts on the first unexpected reply, which we report."""
    cmd = [SMTP_SOURCE,
           "-s", str(sessions), "-m", str(count), "-l", str(size),
           "-f", sender, "-t", rcpt,
           # Fixed HELO name: smtp-source would otherwise use the machine's
           # hostname, and nothing here should need a name lookup.
           "-M", "client.bench.test",
           "127.0.0.1:%d" % port]
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, timeout=timeout, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    except subprocess.TimeoutExpired:
        raise BenchError("smtp-source did not finish within %ss" % timeout)
    end = time.monotonic()
    if p.returncode != 0:
        raise BenchError("smtp-source failed (exit %d): %s"
                         % (p.returncode, p.stdout.strip()[-500:]))
    return start, end


# ---------------------------------------------------------------------------
# POP3

class Pop3:
    """Minimal POP3 client that reads in large chunks and finds replies with
    bytes.find, so that the client is not what limits the fetch rate."""

    def __init__(self, port, timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self._status("greeting")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self):
        data = self.sock.recv(1 << 18)
        if not data:
            raise BenchError("POP3 server closed the connection")
        self.buf += data

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            self._fill()

    def _status(self, what):
        line = self._line()
        if not line.startswith(b"+OK"):
            raise BenchError("POP3 %s: %r" % (what, line[:200]))
        return line

    def _multiline(self, what):
        """Read one +OK reply with its dot-terminated body; return body size.

        The body ends at CRLF '.' CRLF.  Searching from the CRLF that ends
        the status line also finds an empty body ("+OK\\r\\n.\\r\\n")."""
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                break
            self._fill()
        if not self.buf.startswith(b"+OK"):
            raise BenchError("POP3 %s: %r" % (what, bytes(self.buf[:200])))
        pos = i
        while True:
            j = self.buf.find(b"\r\n.\r\n", pos)
            if j >= 0:
                size = j - (i + 2)
                del self.buf[:j + 5]
                return size
            # Resume the search a little before the end: the terminator may
            # straddle two reads.
            pos = max(i, len(self.buf) - 4)
            self._fill()

    def cmd(self, line, what=None):
        self.sock.sendall(line.encode() + b"\r\n")
        return self._status(what or line.split()[0])

    def login(self, user, password):
        self.cmd("USER " + user)
        self.cmd("PASS " + password, "PASS")

    def stat(self):
        """Number of messages in the maildrop."""
        return int(self.cmd("STAT").split()[1])

    def quit(self):
        try:
            self.cmd("QUIT")
        finally:
            self.close()

    def retr_one_at_a_time(self, n):
        """RETR 1..n, each command sent only after the previous reply."""
        total = 0
        for i in range(1, n + 1):
            self.sock.sendall(b"RETR %d\r\n" % i)
            total += self._multiline("RETR %d" % i)
        return total

    def retr_pipelined(self, n, window=64):
        """RETR 1..n keeping up to `window` commands in flight.

        A bounded window (rather than writing all n commands first) keeps
        both sides' buffers bounded, so the test cannot deadlock on full
        socket buffers whatever the server's reading strategy."""
        total, sent, done = 0, 0, 0
        while done < n:
            if sent < n and sent - done < window:
                k = min(n - sent, window - (sent - done))
                self.sock.sendall(b"".join(b"RETR %d\r\n" % (sent + 1 + j)
                                           for j in range(k)))
                sent += k
            total += self._multiline("RETR %d" % (done + 1))
            done += 1
        return total

    def dele_all(self, n, window=256):
        """DELE 1..n pipelined, then QUIT to commit."""
        sent = done = 0
        while done < n:
            if sent < n and sent - done < window:
                k = min(n - sent, window - (sent - done))
                self.sock.sendall(b"".join(b"DELE %d\r\n" % (sent + 1 + j)
                                           for j in range(k)))
                sent += k
            self._status("DELE %d" % (done + 1))
            done += 1
        self.quit()


def pop3_session(port, user, password, timeout=30, attempts=40):
    """A logged-in POP3 session.

    A server may lock the maildrop per session (RFC 1939; posthorn does) and
    release it only as the previous session's QUIT/close is processed, so a
    login right after another one can briefly see "-ERR [IN-USE]": retry
    that a bounded number of times."""
    for attempt in range(attempts):
        c = Pop3(port, timeout=timeout)
        try:
            c.login(user, password)
            return c
        except BenchError as e:
            c.close()
            if "IN-USE" not in str(e) or attempt == attempts - 1:
                raise
        time.sleep(0.05)


def pop3_count(port, user, password, timeout=30):
    """Messages in the mailbox according to a fresh POP3 session's STAT."""
    c = pop3_session(port, user, password, timeout)
    try:
        n = c.stat()
        c.quit()
        return n
    finally:
        c.close()


# ---------------------------------------------------------------------------
# Idle sessions

def smtp_reply_done(buf):
    """An SMTP reply is complete when its last line has a space after the
    code ("250 ok"), not a dash ("250-PIPELINING")."""
    if not buf.endswith(b"\r\n"):
        return None
    last = buf[:-2].rsplit(b"\r\n", 1)[-1]
    if len(last) >= 4 and last[3:4] == b" ":
        return last[:1] in (b"2", b"3")
    return None


def _pop3_reply_done(buf):
    if not buf.endswith(b"\r\n"):
        return None
    return buf.startswith(b"+OK")


def smtp_idle_script():
    """Greeting, then EHLO: the state of a client that connected and paused."""
    return smtp_reply_done, [None, b"EHLO client.bench.test\r\n"]


def pop3_idle_script(users, password):
    """Greeting, USER, PASS: a logged-in client holding its session.
    Session i logs in as users[i]."""
    return _pop3_reply_done, [None, [b"USER %s\r\n" % u.encode() for u in users],
                              b"PASS %s\r\n" % password.encode()]


class IdleSessions:
    """Open `n` sessions that each run a short script and then stay open.

    A script step is a line to send, or a list of lines (one per session)
    when sessions differ, e.g. by user name.

    Non-blocking with a selector, at most `in_flight` handshakes at a time:
    fast enough that Postfix's and Dovecot's per-connection process start-up
    does not make the test crawl, gentle enough not to overflow accept
    queues.  Bounded by `timeout` overall."""

    def __init__(self, port, n, script, in_flight=32, timeout=180):
        self.port, self.n = port, n
        self.done_fn, self.steps = script
        self.in_flight, self.timeout = in_flight, timeout
        self.open = []          # sockets whose script completed
        self.errors = []        # first few failure descriptions
        self.failed = 0

    def start(self):
        sel = selectors.DefaultSelector()
        started = 0
        active = 0
        deadline = time.monotonic() + self.timeout
        while (started < self.n or active) and time.monotonic() < deadline:
            while started < self.n and active < self.in_flight:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                try:
                    s.connect(("127.0.0.1", self.port))
                except BlockingIOError:
                    pass
                except OSError as e:
                    self._fail(s, None, "connect: %s" % e)
                    started += 1
                    continue
                # state: [next step index, reply buffer, session number];
                # step 0 has nothing to send (we wait for the greeting).
                sel.register(s, selectors.EVENT_READ, [1, bytearray(), started])
                started += 1
                active += 1
            for key, _ in sel.select(timeout=0.5):
                s, st = key.fileobj, key.data
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    continue
                except OSError as e:
                    sel.unregister(s)
                    active -= 1
                    self._fail(s, None, "recv: %s" % e)
                    continue
                if not data:
                    sel.unregister(s)
                    active -= 1
                    self._fail(s, st[1], "closed by server")
                    continue
                st[1] += data
                ok = self.done_fn(bytes(st[1]))
                if ok is None:
                    continue            # reply not complete yet
                if not ok:
                    sel.unregister(s)
                    active -= 1
                    self._fail(s, st[1], "refused")
                    continue
                if st[0] >= len(self.steps):
                    sel.unregister(s)   # script done: hold it, idle
                    active -= 1
                    self.open.append(s)
                    continue
                st[1] = bytearray()
                line = self.steps[st[0]]
                if isinstance(line, list):        # per-session line
                    line = line[st[2]]
                try:
                    s.sendall(line)   # short line, fits the socket buffer
                except OSError as e:
                    sel.unregister(s)
                    active -= 1
                    self._fail(s, None, "send: %s" % e)
                    continue
                st[0] += 1
        for key in list(sel.get_map().values()):
            sel.unregister(key.fileobj)
            self._fail(key.fileobj, None, "timed out")
        sel.close()
        return len(self.open)

    def _fail(self, s, buf, why):
        self.failed += 1
        if len(self.errors) < 3:
            extra = (" (%r)" % bytes(buf[-120:])) if buf else ""
            self.errors.append(why + extra)
        try:
            s.close()
        except OSError:
            pass

    def close(self, goodbye=None):
        """Close every held session, politely if `goodbye` (e.g. b"QUIT\\r\\n")."""
        for s in self.open:
            if goodbye:
                try:
                    s.send(goodbye)
                except OSError:
                    pass
            try:
                s.close()
            except OSError:
                pass
        self.open = []
