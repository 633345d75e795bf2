"""Shared fixtures: a real posthorn process on free loopback ports, with a
temporary data directory, driven over real sockets."""

import os
import signal
import socket
import subprocess
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("POSTHORN_BIN", os.path.join(ROOT, "build", "asan", "posthorn"))

# The server is stopped by a signal, so leak checking at exit would only
# report what a killed process still held.
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=1",
           UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")

PASSWORD = "secret pass"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One posthorn: `cli()` runs admin commands on its data, `start()` and
    `stop()` run `serve`."""

    def __init__(self, data, sets=()):
        self.data = str(data)
        self.smtp_port = free_port()
        self.pop3_port = free_port()
        self.sets = [
            "server.user=",
            "server.hostname=mx.test",
            "listen.smtp=127.0.0.1:%d" % self.smtp_port,
            "listen.pop3=127.0.0.1:%d" % self.pop3_port,
            "listen.submission=", "listen.submissions=", "listen.imap=",
            "listen.imaps=", "listen.pop3s=", "listen.http=",
            # Cheap hashes: the tests check behaviour, not the cost.
            "auth.argon2_memory=8192", "auth.argon2_passes=1",
        ] + list(sets)
        self.proc = None
        self.log_path = os.path.join(self.data + ".log")

    def args(self):
        out = [BIN, "--data", self.data]
        for s in self.sets:
            out += ["--set", s]
        return out

    def cli(self, *args, input=None, check=True):
        """Run `posthorn ARGS...`; returns the CompletedProcess."""
        r = subprocess.run(self.args() + list(args), input=input,
                           capture_output=True, text=True, env=ENV, timeout=120)
        if check and r.returncode != 0:
            raise AssertionError("posthorn %s failed (%d): %s%s" % (
                " ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def start(self):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args() + ["serve"], stdout=self.logf,
                                     stderr=subprocess.STDOUT, env=ENV)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server exited: %s" % self.log())
            try:
                socket.create_connection(("127.0.0.1", self.smtp_port), 0.2).close()
                socket.create_connection(("127.0.0.1", self.pop3_port), 0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("server did not start: %s" % self.log())

    def kill(self, sig=signal.SIGKILL):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
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
