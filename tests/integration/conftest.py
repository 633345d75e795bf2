"""Shared fixtures: a real posthorn process on free loopback ports, with a
temporary data directory, driven over real sockets."""

import atexit
import functools
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("POSTHORN_BIN", os.path.join(ROOT, "build", "asan", "posthorn"))

# The server is stopped by a signal, so leak checking at exit would only
# report what a killed process still held.  ASan keeps freed memory in a
# quarantine of up to 256 MB by default, which RSS bounds in the tests
# would measure instead of what the server holds; 64 MB still catches a
# use after free within the same command.
ENV = dict(os.environ,
           ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:quarantine_size_mb=64",
           UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")

PASSWORD = "secret pass"


def _ephemeral_start():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_rng = random.Random(os.getpid())
_given = set()  # never the same port twice in one run


def free_port():
    """A free port below the ephemeral range: a port the kernel hands out
    (bind to 0) can meanwhile become the source port of one of the many
    client connections the tests open, and the server's bind then fails."""
    top = _ephemeral_start()
    for _ in range(200):
        port = _rng.randrange(max(1024, top - 12000), top)
        if port in _given:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            _given.add(port)
            return port
    raise AssertionError("no free port below %d" % top)


@functools.lru_cache(maxsize=None)
def server_user():
    """The server.user the tests run posthorn with.  posthorn refuses to
    run as root, so as root this is the `posthorn` system user, created
    the first time as `make run` does; otherwise empty (no switch)."""
    if os.geteuid() != 0:
        return ""
    if subprocess.run(["getent", "passwd", "posthorn"],
                      capture_output=True).returncode != 0:
        # Another test run may create it at the same moment: what counts
        # is that it exists afterwards.
        subprocess.run(["useradd", "--system", "--no-create-home",
                        "--home-dir", "/nonexistent", "--shell",
                        "/usr/sbin/nologin", "posthorn"], capture_output=True)
        subprocess.run(["getent", "passwd", "posthorn"], check=True,
                       capture_output=True)
    return "posthorn"


@functools.lru_cache(maxsize=None)
def data_home():
    """As root: where data directories go.  The server's user must reach
    its data directory, and pytest's tmp_path lies under a directory only
    root may enter, so data directories live under one of our own in the
    system temp directory (mode 0711: enter, not list), removed when the
    test run ends."""
    home = tempfile.mkdtemp(prefix="posthorn-tests-")
    os.chmod(home, 0o711)
    atexit.register(shutil.rmtree, home, True)
    return home


def data_dir(wanted):
    """The data directory to use for a server that asked for `wanted`."""
    if not server_user():
        return str(wanted)
    parent = tempfile.mkdtemp(dir=data_home())
    os.chmod(parent, 0o711)
    return os.path.join(parent, os.path.basename(str(wanted)))


class Server:
    """One posthorn: `cli()` runs admin commands on its data, `start()` and
    `stop()` run `serve`."""

    def __init__(self, data, sets=(), exact=False):
        # exact: use `data` as it is (its parent must let the server's
        # user in), e.g. on a file system the test mounted.
        self.data = str(data) if exact else data_dir(data)
        self.smtp_port = free_port()
        self.pop3_port = free_port()
        self.imap_port = free_port()
        self.sets = [
            "server.user=" + server_user(),
            "server.hostname=mx.test",
            "listen.smtp=127.0.0.1:%d" % self.smtp_port,
            "listen.pop3=127.0.0.1:%d" % self.pop3_port,
            "listen.imap=127.0.0.1:%d" % self.imap_port,
            "listen.submission=", "listen.submissions=",
            "listen.imaps=", "listen.pop3s=", "listen.http=",
            # Cheap hashes: the tests check behaviour, not the cost.
            "auth.argon2_memory=8192", "auth.argon2_passes=1",
            # Failed logins wait a few ms, not seconds (test_bruteforce.py
            # tests the limits with settings of its own).
            "auth.fail_delay=1", "auth.fail_delay_max=20",
        ] + list(sets)
        self.proc = None
        # The log stays beside what the test asked for, kept with its
        # tmp_path.
        self.log_path = str(data) + ".log"
        self.env = ENV      # a test may change it before start()

    def args(self):
        out = [BIN, "--data", self.data]
        for s in self.sets:
            out += ["--set", s]
        return out

    def cli(self, *args, input=None, check=True):
        """Run `posthorn ARGS...`; returns the CompletedProcess."""
        r = subprocess.run(self.args() + list(args), input=input,
                           capture_output=True, text=True, env=self.env,
                           timeout=120)
        if check and r.returncode != 0:
            raise AssertionError("posthorn %s failed (%d): %s%s" % (
                " ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def start(self):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args() + ["serve"], stdout=self.logf,
                                     stderr=subprocess.STDOUT, env=self.env)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server exited: %s" % self.log())
            try:
                socket.create_connection(("127.0.0.1", self.smtp_port), 0.2).close()
                socket.create_connection(("127.0.0.1", self.pop3_port), 0.2).close()
                if self.imap_on():
                    socket.create_connection(("127.0.0.1", self.imap_port),
                                             0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("server did not start: %s" % self.log())

    def imap_on(self):
        """Whether the IMAP listener is on the port we chose (a test may
        turn it off or move it with its own --set)."""
        last = [x for x in self.sets if x.startswith("listen.imap=")][-1]
        return last == "listen.imap=127.0.0.1:%d" % self.imap_port

    def kill(self, sig=signal.SIGKILL):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        if self.proc is not None:
            self.logf.close()
        self.proc = None

    def stop(self):
        """Stop by PID with SIGTERM; returns the exit code."""
        if self.proc is None:
            return None
        rc = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
        else:
            rc = self.proc.returncode
        self.proc = None
        self.logf.close()
        return rc

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def add_user(self, address, password=PASSWORD, *extra):
        self.cli("user", "add", address, *extra, input=password + "\n")


@pytest.fixture
def server(tmp_path):
    """A running server with domain example.com, users alice and bob
    (password PASSWORD) and nothing else."""
    srv = Server(tmp_path / "data")
    srv.cli("domain", "add", "example.com")
    srv.add_user("alice@example.com")
    srv.add_user("bob@example.com")
    srv.start()
    yield srv
    rc = srv.stop()
    # A sanitizer report makes the server exit non-zero: fail on it.
    assert rc == 0, "server exit %r:\n%s" % (rc, srv.log()[-5000:])


@pytest.fixture
def make_server(tmp_path):
    """Factory for servers with custom settings; all are stopped after."""
    made = []

    def make(*sets, name="data"):
        srv = Server(tmp_path / name, sets)
        made.append(srv)
        return srv

    yield make
    for srv in made:
        srv.stop()


@pytest.fixture
def custom(make_server):
    """Factory: a running server with the given settings, domain
    example.com and users alice and bob; `before_start(srv)`, if given,
    runs before it starts.  A sanitizer report (non-zero exit) fails the
    test."""
    made = []

    def make(*sets, before_start=None):
        srv = make_server(*sets, name="data%d" % len(made))
        srv.cli("domain", "add", "example.com")
        srv.add_user("alice@example.com")
        srv.add_user("bob@example.com")
        if before_start:
            before_start(srv)
        srv.start()
        made.append(srv)
        return srv

    yield make
    for srv in made:
        rc = srv.stop()
        assert rc in (0, None), "server exit %r:\n%s" % (rc, srv.log()[-5000:])


# ---- protocol clients shared by the tests ----

class Client:
    """A line-oriented SMTP or POP3 client on a real socket.  Every read
    is bounded by the socket timeout."""

    def __init__(self, port, host="127.0.0.1", source=None, timeout=30,
                 rcvbuf=None):
        self.sock = socket.socket()
        self.sock.settimeout(timeout)
        if rcvbuf is not None:
            # Before connect, so the window the server sees stays small
            # and what the client does not read stays in the server.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if source is not None:
            self.sock.bind((source, 0))
        self.sock.connect((host, port))
        self.buf = bytearray()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def _fill(self):
        got = self.sock.recv(1 << 20)
        if not got:
            raise EOFError("connection closed; pending %r"
                           % bytes(self.buf[:200]))
        self.buf += got

    def line(self):
        """One line without its CRLF, as bytes; EOFError when closed."""
        start = 0
        while True:
            i = self.buf.find(b"\r\n", start)
            if i >= 0:
                break
            start = max(0, len(self.buf) - 1)
            self._fill()
        line = bytes(self.buf[:i])
        del self.buf[:i + 2]
        return line

    def reply(self):
        """One SMTP reply: (code, text of all its lines)."""
        lines = []
        while True:
            line = self.line().decode("utf-8", "replace")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), "\n".join(lines)

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def pop(self, text):
        """A POP3 command and its status line (str)."""
        self.send(text + "\r\n")
        return self.line().decode("utf-8", "replace")

    def multiline(self):
        """The body of a POP3 multi-line reply, dot-unstuffed, with CRLFs."""
        start = 0
        while True:
            if self.buf.startswith(b".\r\n"):
                del self.buf[:3]
                return b""
            i = self.buf.find(b"\r\n.\r\n", start)
            if i >= 0:
                break
            start = max(0, len(self.buf) - 4)
            self._fill()
        body = bytes(self.buf[:i + 2])
        del self.buf[:i + 5]
        # Every line that starts with a dot was stuffed with one more.
        if body.startswith(b"."):
            body = body[1:]
        return body.replace(b"\r\n.", b"\r\n")

    def at_eof(self, wait=5):
        """True if the server closes the connection within `wait` s and
        sends nothing more."""
        self.sock.settimeout(wait)
        try:
            return self.sock.recv(1) == b"" and not self.buf
        except ConnectionResetError:
            return not self.buf
        except socket.timeout:
            return False


def dot_stuff(message):
    """A message (bytes, CRLF lines) as DATA wants it, with the end mark."""
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    lines = message.split(b"\r\n")[:-1]
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n"
                    for l in lines) + b".\r\n"


def smtp_session(port, **kw):
    """A connected SMTP client after the greeting and EHLO."""
    c = Client(port, **kw)
    code, text = c.reply()
    assert code == 220, text
    code, text = c.cmd("EHLO client.test")
    assert code == 250, text
    return c


def smtp_send(port, rcpts, message, sender="sender@example.org", **kw):
    """Send one message; returns the reply to its data (code, text).  A
    refused MAIL or RCPT raises AssertionError."""
    if isinstance(rcpts, str):
        rcpts = [rcpts]
    with smtp_session(port, **kw) as c:
        code, text = c.cmd("MAIL FROM:<%s>" % sender)
        assert code == 250, text
        for r in rcpts:
            code, text = c.cmd("RCPT TO:<%s>" % r)
            assert code == 250, "RCPT %s: %s" % (r, text)
        code, text = c.cmd("DATA")
        assert code == 354, text
        c.send(dot_stuff(message))
        result = c.reply()
        c.cmd("QUIT")
        return result


def make_message(tag, body=b"Hello.\r\n", rcpt="alice@example.com"):
    """A small RFC 5322 message whose Subject and Message-Id carry `tag`."""
    return (("From: sender@example.org\r\nTo: %s\r\nSubject: %s\r\n"
             "Message-Id: <%s@client.test>\r\n\r\n" % (rcpt, tag, tag))
            .encode() + body)


def pop3_login(port, user, password=PASSWORD, **kw):
    """A POP3 client in the TRANSACTION state."""
    c = Client(port, **kw)
    line = c.line().decode()
    assert line.startswith("+OK"), line
    assert c.pop("USER " + user).startswith("+OK")
    line = c.pop("PASS " + password)
    if not line.startswith("+OK"):
        c.close()
        raise AssertionError("POP3 login %s: %s" % (user, line))
    return c


def pop3_quit(c):
    """QUIT, then wait for the server to close (RFC 1939 6: it releases the
    maildrop and then closes, so after this a new session can have it)."""
    line = c.pop("QUIT")
    assert line.startswith("+OK"), line
    c.sock.settimeout(10)
    try:
        while c.sock.recv(4096):
            pass
    except ConnectionResetError:
        pass


def pop3_can_login(port, user, password=PASSWORD):
    """True if the login works, False if it is refused as [AUTH]; anything
    else fails."""
    with Client(port) as c:
        assert c.line().startswith(b"+OK")
        assert c.pop("USER " + user).startswith("+OK")
        line = c.pop("PASS " + password)
        if line.startswith("+OK"):
            pop3_quit(c)
            return True
        assert line.startswith("-ERR [AUTH]"), "POP3 login %s: %s" % (
            user, line)
        return False


def pop3_fetch(port, user, password=PASSWORD, delete=False, **kw):
    """Every message in the mailbox (bytes, as stored), oldest first."""
    with pop3_login(port, user, password, **kw) as c:
        out = pop3_retr_all(c, delete)
        pop3_quit(c)
        return out


def pop3_retr_all(c, delete=False):
    """STAT, then RETR (and DELE, if `delete`) every message; returns them
    (bytes, as stored), oldest first."""
    line = c.pop("STAT")
    assert line.startswith("+OK"), line
    out = []
    for i in range(1, int(line.split()[1]) + 1):
        line = c.pop("RETR %d" % i)
        assert line.startswith("+OK"), line
        out.append(c.multiline())
        if delete:
            assert c.pop("DELE %d" % i).startswith("+OK")
    return out


def pop3_login_wait(port, user, password=PASSWORD, wait=5, **kw):
    """pop3_login, but a maildrop [IN-USE] by a session that has just
    ended (answered QUIT, or was dropped) is given `wait` seconds."""
    deadline = time.time() + wait
    while True:
        try:
            return pop3_login(port, user, password, **kw)
        except AssertionError as e:
            if "[IN-USE]" not in str(e) or time.time() > deadline:
                raise
        time.sleep(0.05)


def pop3_fetch_wait(port, user, password=PASSWORD, delete=False, **kw):
    """pop3_fetch that logs in with pop3_login_wait and, after QUIT, waits
    for the server to close the connection: by then (RFC 1939 6) the
    maildrop lock is released and deletions are done."""
    with pop3_login_wait(port, user, password, **kw) as c:
        out = pop3_retr_all(c, delete)
        quit_and_close(c)
        return out


def quit_and_close(c):
    """POP3 QUIT, and the server closes the connection."""
    assert c.pop("QUIT").startswith("+OK")
    assert c.at_eof(), "no close after QUIT"


# ---- stored messages ----

def split_trace(stored):
    """A delivered message as (Return-Path value, Received header, the
    rest).  The Received header keeps its folding and final CRLF."""
    assert stored.startswith(b"Return-Path: "), stored[:200]
    rp_line, rest = stored.split(b"\r\n", 1)
    assert rest.startswith(b"Received: "), rest[:200]
    lines = rest.split(b"\r\n")
    n = 1
    while lines[n][:1] in (b" ", b"\t"):
        n += 1
    received = b"".join(l + b"\r\n" for l in lines[:n])
    return rp_line[len(b"Return-Path: "):], received, rest[len(received):]


def body_of(stored):
    """A stored message without the Return-Path and Received headers the
    server added."""
    assert stored.startswith(b"Return-Path: <"), stored[:100]
    return split_trace(stored)[2]
