"""posthorn under test: the repo's build/posthorn, run in the foreground with
its own data directory under the benchmark's temp directory.

Only the fixed command-line interface is used:
  posthorn --data DIR domain add DOMAIN
  echo PASSWORD | posthorn --data DIR user add USER
  posthorn --data DIR --set ... serve

posthorn does not run as root: started as root, it and its admin commands
switch to server.user, here the default `posthorn` system user, which
setup() creates the first time as `make run` does.
"""

import os
import shutil
import smtplib
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor

from .common import BenchError, log, run, wait_port, port_is_free, kill_pids, process_tree
from .clients import pop3_session, pop3_count
from . import mailgen

SMTP_PORT = 21025
POP3_PORT = 21110
IMAP_PORT = 21143
# The TLS rows only: implicit TLS, 465-style and 993-style.
SMTPS_PORT = 21465
IMAPS_PORT = 21993
# Connections open at once, all listeners: the IMAP memory row holds
# 10,000 (the default is 10000, which that row and the benchmark's own
# checks would reach).
MAX_CONNECTIONS = 20000
# Prefilling mailboxes over SMTP: recipients per transaction, and parallel
# SMTP sessions.
FILL_RCPTS = 100
FILL_SESSIONS = 8
DOMAIN = "bench.test"
USER = "bench@bench.test"
PASSWORD = "bench-Passw0rd"
SERVER_USER = "posthorn"    # server.user's default


class Posthorn:
    name = "posthorn"
    smtp_port = SMTP_PORT
    pop3_port = POP3_PORT
    user = USER
    password = PASSWORD

    def __init__(self, base, binary, idle_users=()):
        self.base = os.path.join(base, "posthorn")
        # Extra users for the POP3 memory test (one session each: posthorn
        # locks a maildrop while a POP3 session holds it, as RFC 1939 says).
        self.idle_users = list(idle_users)
        self.binary = binary
        self.logdir = os.path.join(self.base, "log")
        self.generation = 0     # data dirs are numbered: a fresh one per restart
        self.data = None
        self.proc = None
        self.log_path = os.path.join(self.logdir, "posthorn.log")
        self.tls = None         # (cert, key) once the TLS rows enable TLS

    def _cli(self, *args, input=None, timeout=120):
        return run([self.binary, "--data", self.data] + list(args),
                   input=input, timeout=timeout)

    def setup(self):
        if not os.access(self.binary, os.X_OK):
            raise BenchError("%s not found or not executable (run make first)"
                             % self.binary)
        os.makedirs(self.logdir, exist_ok=True)
        # The server's user must reach its data directories in here.
        os.chmod(self.base, 0o755)
        if os.geteuid() == 0 and run(["getent", "passwd", SERVER_USER],
                                     check=False).returncode != 0:
            run(["useradd", "--system", "--no-create-home", "--home-dir",
                 "/nonexistent", "--shell", "/usr/sbin/nologin", SERVER_USER])
            log("posthorn: created system user '%s'" % SERVER_USER)

    def notes(self):
        return ["posthorn: build/posthorn serve, run as root and switching to "
                "the '%s' system user (server.user), SMTP %d / POP3 %d on "
                "127.0.0.1 (and IMAP %d once it serves IMAP), other listeners "
                "off, server.max_connections_per_ip = 5000, "
                "server.max_connections = %d (10,000 idle IMAP connections), "
                "all other settings at their defaults."
                % (SERVER_USER, SMTP_PORT, POP3_PORT, IMAP_PORT, MAX_CONNECTIONS)]

    def _fresh_data(self):
        """A new, empty data directory with the bench domain and user(s)."""
        self.generation += 1
        self.data = os.path.join(self.base, "data%d" % self.generation)
        shutil.rmtree(self.data, ignore_errors=True)
        os.makedirs(self.data)
        self._cli("domain", "add", DOMAIN)
        # The password goes on stdin (not a terminal): one line.
        self._cli("user", "add", USER, input=PASSWORD + "\n")
        # The idle-session users only on the first data directory: the
        # memory test runs first, before any restart could happen.
        if self.generation == 1 and self.idle_users:
            log("posthorn: adding %d users for the POP3 memory test"
                % len(self.idle_users))
            for u in self.idle_users:
                self._cli("user", "add", u, input=PASSWORD + "\n")

    def tls_enable(self, cert, key):
        """For the TLS rows: [tls] cert and key, and the implicit-TLS
        listeners submissions (SMTPS_PORT) and imaps (IMAPS_PORT).  Takes
        effect at the next start."""
        self.tls = (cert, key)

    def tls_ports(self):
        return (SMTPS_PORT, IMAPS_PORT) if self.tls else ()

    def start(self, fresh=True):
        for port in (SMTP_PORT, POP3_PORT) + self.tls_ports():
            if not port_is_free("127.0.0.1", port):
                raise BenchError("port %d is already in use (a leftover "
                                 "instance of an earlier run?)" % port)
        if fresh or self.data is None:
            # Drop the previous generation's data: 100 KB runs leave
            # hundreds of MB behind.
            if self.data:
                shutil.rmtree(self.data, ignore_errors=True)
            self._fresh_data()
        cmd = [self.binary, "--data", self.data,
               "--set", "listen.smtp=127.0.0.1:%d" % SMTP_PORT,
               "--set", "listen.pop3=127.0.0.1:%d" % POP3_PORT,
               "--set", "listen.submission=",
               "--set", "listen.submissions=%s"
               % ("127.0.0.1:%d" % SMTPS_PORT if self.tls else ""),
               "--set", "listen.imap=127.0.0.1:%d" % IMAP_PORT,
               "--set", "listen.imaps=%s"
               % ("127.0.0.1:%d" % IMAPS_PORT if self.tls else ""),
               "--set", "listen.pop3s=",
               "--set", "listen.http=",
               "--set", "server.max_connections_per_ip=5000",
               "--set", "server.max_connections=%d" % MAX_CONNECTIONS]
        if self.tls:
            cmd += ["--set", "tls.cert=%s" % self.tls[0],
                    "--set", "tls.key=%s" % self.tls[1]]
        cmd.append("serve")
        logf = open(self.log_path, "ab")
        logf.write(b"\n=== bench: " + " ".join(cmd).encode() + b"\n")
        logf.flush()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        alive = lambda: self.proc.poll() is None
        wait_port("127.0.0.1", SMTP_PORT, 30, alive=alive)
        wait_port("127.0.0.1", POP3_PORT, 30, alive=alive)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def exit_status(self):
        rc = self.proc.poll() if self.proc else None
        if rc is None:
            return "not started"
        return "killed by signal %d" % -rc if rc < 0 else "exit status %d" % rc

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            tree = process_tree(self.proc.pid)
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                log("posthorn did not exit on SIGTERM within 15s; killing it")
                self.proc.kill()
                self.proc.wait(5)
            kill_pids(tree[1:], timeout=5)     # helpers it may have forked
        self.proc = None

    # One process (plus whatever it may fork) serves both protocols.
    def smtp_root(self):
        return self.proc.pid if self.proc else None

    pop3_root = smtp_root

    # -- mailbox ----------------------------------------------------------
    def delivered(self):
        """(messages in the mailbox per POP3 STAT, nothing known pending)."""
        return pop3_count(POP3_PORT, USER, PASSWORD), 0

    def empty_mailbox(self):
        """DELE every message over POP3 (and QUIT to commit).  If that does
        not leave an empty mailbox, restart on a fresh data directory so the
        next measurement still starts clean."""
        try:
            c = pop3_session(POP3_PORT, USER, PASSWORD)
            try:
                n = c.stat()
                if n:
                    c.dele_all(n)
                else:
                    c.quit()
            finally:
                c.close()
            if pop3_count(POP3_PORT, USER, PASSWORD) == 0:
                return
            why = "messages left after DELE+QUIT"
        except (BenchError, OSError) as e:
            why = str(e)
        log("posthorn: emptying the mailbox over POP3 failed (%s); "
            "restarting on a fresh data directory" % why)
        self.stop()
        self.start(fresh=True)

    def log_files(self):
        return [self.log_path]

    # -- IMAP -------------------------------------------------------------
    imap_port = IMAP_PORT
    imap_variants = ("default",)

    def imap_available(self):
        """True when something on the IMAP port greets with "* OK": a
        posthorn without IMAP ignores listen.imap and leaves it closed."""
        try:
            with socket.create_connection(("127.0.0.1", IMAP_PORT), timeout=5) as s:
                s.settimeout(5)
                return s.recv(512).startswith(b"* OK")
        except OSError:
            return False

    def imap_root(self):
        return self.proc.pid if self.proc else None

    def imap_configure(self, variant="default", big=False):
        """posthorn has one configuration for every IMAP row."""

    def imap_users_add(self, users):
        """Add users in one `posthorn user import` (the CLI hashes the
        passwords on all cores)."""
        csv = "".join("%s,%s\n" % (u, PASSWORD) for u in users)
        self._cli("user", "import", "-", input=csv, timeout=900)

    def _import_maildir(self, user, maildir):
        """`posthorn import maildir USER DIR` where posthorn has it.
        Returns False when this posthorn has no such command."""
        p = run([self.binary, "--data", self.data, "import", "maildir", user, maildir],
                timeout=1800, check=False)
        if p.returncode == 0:
            return True
        if "usage" in (p.stderr + p.stdout).lower() or "unknown" in (p.stderr + p.stdout).lower():
            return False
        raise BenchError("posthorn import maildir failed: %s" % (p.stderr or p.stdout)[-300:])

    def _smtp_fill(self, jobs):
        """jobs: (message index, [recipients]); sent over SMTP by
        FILL_SESSIONS parallel sessions, several messages per session."""
        def worker(part):
            with smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=120) as c:
                c.ehlo("fill.bench.test")
                for i, rcpts in part:
                    _, data = mailgen.message(i, "imap@%s" % DOMAIN)
                    refused = c.sendmail("sender@example.org", rcpts, data)
                    if refused:
                        raise BenchError("posthorn refused %s" % sorted(refused)[:3])
            return len(part)
        parts = [jobs[k::FILL_SESSIONS] for k in range(FILL_SESSIONS)]
        with ThreadPoolExecutor(FILL_SESSIONS) as ex:
            return sum(ex.map(worker, parts))

    def imap_fill(self, users, count):
        """users get messages 0..count-1 of the corpus in their INBOX,
        over SMTP (one transaction per message and FILL_RCPTS users)."""
        self.imap_users_add(users)
        batches = [users[k:k + FILL_RCPTS] for k in range(0, len(users), FILL_RCPTS)]
        self._smtp_fill([(i, b) for i in range(count) for b in batches])
        return ("users added with 'posthorn user import', mail sent over SMTP "
                "(%d sessions, up to %d recipients per message)"
                % (FILL_SESSIONS, FILL_RCPTS))

    def imap_fill_big(self, user, count, maildir=None):
        """One user with count messages: `posthorn import maildir` of the
        reference's Maildir when posthorn has that command, over SMTP
        otherwise."""
        self.imap_users_add([user])
        if maildir and self._import_maildir(user, maildir):
            return "%d messages with 'posthorn import maildir'" % count
        self._smtp_fill([(i, [user]) for i in range(count)])
        return ("%d messages over SMTP (%d parallel sessions; this posthorn has "
                "no 'import maildir')" % (count, FILL_SESSIONS))

    def imap_notes(self):
        return []

    # -- TLS ----------------------------------------------------------------
    smtps_port = SMTPS_PORT
    imaps_port = IMAPS_PORT
    smtps_root = smtp_root
    imaps_root = smtp_root

    def listen_note(self, port):
        """Why nothing listens on one of our ports, when posthorn said so
        in its log (a listener this version does not serve yet)."""
        want = "address=127.0.0.1:%d " % port
        try:
            with open(self.log_path, errors="replace") as f:
                for line in f:
                    if "listen-ignored" in line and want in line:
                        return " (posthorn: %s)" % line.split(" serve ", 1)[-1].strip()
        except OSError:
            pass
        return ""

    def tls_notes(self):
        return ["posthorn TLS (TLS rows only): tls.cert and tls.key set to the "
                "benchmark's self-signed ECDSA P-256 certificate, "
                "listen.submissions = 127.0.0.1:%d and listen.imaps = "
                "127.0.0.1:%d, other TLS behaviour at its defaults (TLS 1.2 "
                "and 1.3, session tickets)." % (SMTPS_PORT, IMAPS_PORT)]
