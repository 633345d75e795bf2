"""Durability: kill -9 the server while clients deliver, restart it on the
same data, and check the mailboxes: every message that got its 250 is
there exactly once and byte for byte; the rest may be there or not, but
never cut short or altered; nothing is there twice.

Runs the binary named by POSTHORN_CRASH_BIN (meant for the optimized
build, which is the one that meets real crashes), else POSTHORN_BIN."""

import collections
import hashlib
import os
import random
import re
import threading
import time

import pytest

import conftest
from conftest import Client, dot_stuff, pop3_login, smtp_send

CRASH_BIN = os.environ.get("POSTHORN_CRASH_BIN") or conftest.BIN
USERS = ("alice@example.com", "bob@example.com")
CYCLES = 3
THREADS = 6


class CrashServer(conftest.Server):
    def args(self):
        return [CRASH_BIN] + super().args()[1:]


@pytest.fixture
def crash_server(tmp_path):
    srv = CrashServer(tmp_path / "data")
    srv.cli("domain", "add", "example.com")
    for user in USERS:
        srv.add_user(user)
    yield srv
    srv.stop()


class Ledger:
    """What was sent: for each Message-Id its recipients, the length and
    SHA-256 of the whole message, and whether it got a 250."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = {}
        self.acked = set()
        self.errors = []
        self.uid_of = {}    # (user, Message-Id) -> POP3 unique-id
        self.owner = {}     # (user, unique-id) -> Message-Id

    def attempt(self, msgid, rcpts, message):
        with self.lock:
            self.sent[msgid] = (tuple(rcpts), len(message),
                                hashlib.sha256(message).hexdigest())

    def ack(self, msgid):
        with self.lock:
            self.acked.add(msgid)


def make_body(rng):
    """Lines of varied length, some starting with a dot, some empty; now
    and then a big one."""
    roll = rng.random()
    size = (rng.randint(100, 4000) if roll < 0.7 else
            rng.randint(4000, 64000) if roll < 0.95 else
            rng.randint(64000, 1000000))
    lines = []
    total = 0
    while total < size:
        n = rng.choice((0, 1, 10, 72, 76, 200, 998))
        line = bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789 .-")
                     for _ in range(min(n, 40))) * (n // 40 + 1)
        line = line[:n]
        if rng.random() < 0.05:
            line = b"." + line
        lines.append(line + b"\r\n")
        total += len(line) + 2
    return b"".join(lines)


def make_mail(msgid, rcpts, rng):
    body = make_body(rng)
    head = ("From: crash@example.org\r\nTo: %s\r\nSubject: %s\r\n"
            "Message-Id: <%s@crash.test>\r\nX-Body-SHA256: %s\r\n\r\n"
            % (", ".join(rcpts), msgid, msgid,
               hashlib.sha256(body).hexdigest())).encode()
    return head + body


def sender(port, ledger, cycle, thread, stop):
    """Deliver distinct messages until the server dies or stop is set;
    sessions of 1-8 messages each."""
    rng = random.Random("%d-%d" % (cycle, thread))
    seq = 0
    deadline = time.time() + 30
    try:
        while not stop.is_set() and time.time() < deadline:
            with Client(port, timeout=10) as c:
                assert c.reply()[0] == 220
                assert c.cmd("EHLO crash.test")[0] == 250
                for _ in range(rng.randint(1, 8)):
                    seq += 1
                    msgid = "c%d-t%d-%d" % (cycle, thread, seq)
                    rcpts = ([rng.choice(USERS)] if rng.random() < 0.8
                             else list(USERS))
                    message = make_mail(msgid, rcpts, rng)
                    ledger.attempt(msgid, rcpts, message)
                    assert c.cmd("MAIL FROM:<crash@example.org>")[0] == 250
                    for r in rcpts:
                        assert c.cmd("RCPT TO:<%s>" % r)[0] == 250
                    assert c.cmd("DATA")[0] == 354
                    c.send(dot_stuff(message))
                    code, text = c.reply()
                    if code == 250:
                        ledger.ack(msgid)
                    else:
                        assert code == 451, text
                c.cmd("QUIT")
    except (OSError, EOFError):
        pass    # the server is gone
    except BaseException as e:  # noqa: B902 - fails the test
        ledger.errors.append("thread %d: %r" % (thread, e))


def check_mailboxes(srv, ledger):
    """Retrieve every mailbox and hold it against the ledger."""
    problems = []
    for user in USERS:
        with pop3_login(srv.pop3_port, user, timeout=60) as c:
            line = c.pop("STAT")
            assert line.startswith("+OK"), line
            count = int(line.split()[1])
            assert c.pop("UIDL").startswith("+OK")
            uids = [l.split()[1].decode()
                    for l in c.multiline().splitlines()]
            assert len(uids) == count
            if len(set(uids)) != count:
                problems.append("%s: repeated UIDL unique-ids" % user)
            ids = []
            for n in range(1, count + 1):
                if n % 100 == 1:    # PIPELINING, 100 RETRs at a time
                    c.send("".join("RETR %d\r\n" % i for i in
                                   range(n, min(n + 100, count + 1))))
                line = c.line().decode()
                assert line.startswith("+OK"), line
                m = c.multiline()
                found = re.search(rb"^Message-Id: <([^@>]+)@", m, re.M)
                if found is None:
                    problems.append("%s #%d: no Message-Id: %r"
                                    % (user, n, m[:300]))
                    continue
                msgid = found.group(1).decode()
                ids.append(msgid)
                # RFC 1939 7: a unique-id stays with its message across
                # sessions, crashes included, and is never reused.
                uid = uids[n - 1]
                if ledger.uid_of.setdefault((user, msgid), uid) != uid:
                    problems.append("%s: %s changed unique-id %s -> %s" % (
                        user, msgid, ledger.uid_of[(user, msgid)], uid))
                if ledger.owner.setdefault((user, uid), msgid) != msgid:
                    problems.append("%s: unique-id %s was %s, now %s" % (
                        user, uid, ledger.owner[(user, uid)], msgid))
                if msgid.startswith("probe-"):
                    continue
                if msgid not in ledger.sent:
                    problems.append("%s #%d: unknown %s" % (user, n, msgid))
                    continue
                rcpts, length, digest = ledger.sent[msgid]
                if user not in rcpts:
                    problems.append("%s: got %s for %s" % (user, msgid,
                                                           rcpts))
                head, _, body = m.partition(b"\r\n\r\n")
                declared = re.search(rb"^X-Body-SHA256: (\w+)", head, re.M)
                if (len(m) < length or
                        hashlib.sha256(m[-length:]).hexdigest() != digest or
                        declared is None or
                        hashlib.sha256(body).hexdigest() !=
                        declared.group(1).decode()):
                    problems.append(
                        "%s: %s damaged (%s): %d bytes, sent %d"
                        % (user, msgid, "acked" if msgid in ledger.acked
                           else "not acked", len(m), length))
            assert c.pop("QUIT").startswith("+OK")
        dups = sorted(i for i, k in collections.Counter(ids).items() if k > 1)
        if dups:
            problems.append("%s: duplicates %s" % (user, dups[:20]))
        present = set(ids)
        for msgid in ledger.acked:
            if user in ledger.sent[msgid][0] and msgid not in present:
                problems.append("%s: acked %s missing" % (user, msgid))
    return problems


def test_kill_9_while_delivering(crash_server):
    srv = crash_server
    ledger = Ledger()
    rng = random.Random(42)
    srv.start()
    for cycle in range(1, CYCLES + 1):
        stop = threading.Event()
        threads = [threading.Thread(target=sender, daemon=True,
                                    args=(srv.smtp_port, ledger, cycle, i,
                                          stop))
                   for i in range(THREADS)]
        acked_before = len(ledger.acked)
        for t in threads:
            t.start()
        time.sleep(rng.uniform(2.0, 3.0))
        srv.kill()      # SIGKILL, by PID
        stop.set()
        for t in threads:
            t.join(timeout=30)
            assert not t.is_alive(), "a client thread hangs"
        assert not ledger.errors, ledger.errors
        in_flight = len(ledger.sent) - len(ledger.acked)
        assert len(ledger.acked) - acked_before > 10, \
            "cycle %d: too few messages delivered to test anything" % cycle

        # Straight back up on the same data: no repair step, no delay.
        t0 = time.time()
        srv.start()
        took = time.time() - t0
        assert took < 5, "restart took %.1f s" % took
        code, text = smtp_send(srv.smtp_port, USERS[0],
                               conftest.make_message("probe-%d" % cycle),
                               timeout=10)
        assert code == 250, "after restart: %s" % text

        problems = check_mailboxes(srv, ledger)
        assert not problems, "cycle %d (%d acked, %d in flight):\n%s" % (
            cycle, len(ledger.acked), in_flight, "\n".join(problems[:50]))
    rc = srv.stop()
    assert rc == 0, srv.log()[-3000:]
