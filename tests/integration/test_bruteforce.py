"""Brute-force protection (auth.fail_*): password guesses from many
addresses against IMAP and POP3 slow down, then are refused at once,
while a user who knows the password logs in and reads mail throughout.

All of 127.0.0.0/8 is loopback on Linux, so each attacker binds its own
source address.  The delays are cut to milliseconds here: the tests
check what is answered and logged, never how long it took."""

import base64
import imaplib
import os
import poplib
import re
import socket
import statistics
import threading
import time

from conftest import PASSWORD, ROOT, Client, make_message, smtp_send
from test_logs import fail2ban_regex, run_filter

ALICE = "alice@example.com"

IMAP_FAILED = "NO [AUTHENTICATIONFAILED] Authentication failed"
IMAP_REFUSED = "NO [UNAVAILABLE] Too many failed logins, try again later"
POP3_FAILED = "-ERR [AUTH] Authentication failed"
POP3_REFUSED = "-ERR [SYS/TEMP] Too many failed logins, try again later"

# An auth failure line: "auth[ID] fail proto=P client=ADDR reason=R user=U".
FAIL_LINE = re.compile(r' info auth\[\w+\] fail proto=(imap|pop3) '
                       r'client=(\S+) reason=(password|limit-ip|limit-user) '
                       r'user=(.*)$', re.M)


def fast_limits(limit_ip=5, limit_user=30, delay=20, delay_max=100):
    return ("auth.fail_delay=%d" % delay, "auth.fail_delay_max=%d" % delay_max,
            "auth.fail_limit_ip=%d" % limit_ip,
            "auth.fail_limit_user=%d" % limit_user)


class Imap(Client):
    """A raw IMAP client: the exact replies matter here."""

    def __init__(self, port, source=None):
        super().__init__(port, source=source)
        self.n = 0
        greeting = self.line().decode()
        assert greeting.startswith("* OK"), greeting

    def cmd(self, text):
        """Send a tagged command; returns its tagged reply's text."""
        self.n += 1
        tag = "a%d" % self.n
        self.send("%s %s\r\n" % (tag, text))
        while True:
            line = self.line().decode("utf-8", "replace")
            if line.startswith(tag + " "):
                return line[len(tag) + 1:]

    def login(self, user, password):
        return self.cmd('LOGIN "%s" "%s"' % (user, password))


class Pop3(Client):
    def __init__(self, port, source=None):
        super().__init__(port, source=source)
        greeting = self.line().decode()
        assert greeting.startswith("+OK"), greeting

    def login(self, user, password):
        line = self.pop("USER " + user)
        assert line.startswith("+OK"), line
        return self.pop("PASS " + password)


def fail_lines(srv):
    return FAIL_LINE.findall(srv.log())


def wait_for_lines(srv, n, what=lambda m: True):
    """The log's auth failure lines once n of them match `what` (the
    server writes a line before it answers, so this is quick)."""
    deadline = time.time() + 10
    while True:
        got = [m for m in fail_lines(srv) if what(m)]
        if len(got) >= n or time.time() > deadline:
            return got
        time.sleep(0.05)


# ---- the attack ----

ATTACKERS = ["127.0.0.%d" % i for i in range(2, 102)]
GUESSES = 10          # per address: 1,000 in all
TARGETS = [ALICE, "bob@example.com", "nobody@example.com"]


def attack(srv, source, out):
    """GUESSES wrong passwords from `source`, alternating IMAP and POP3,
    on the accounts in TARGETS (one of them does not exist).  Appends
    (source, proto, reply) to out."""
    imap = Imap(srv.imap_port, source)
    pop = Pop3(srv.pop3_port, source)
    seed = int(source.rsplit(".", 1)[1])
    try:
        for i in range(GUESSES):
            user = TARGETS[(seed + i) % len(TARGETS)]
            guess = "guess-%s-%d" % (source, i)
            if i % 2 == 0:
                out.append((source, "imap", imap.login(user, guess)))
            else:
                out.append((source, "pop3", pop.login(user, guess)))
    finally:
        imap.close()
        pop.close()


def good_user(srv, stop, times, errors):
    """Alice, from 127.0.0.1 with the right password, logs in by IMAP and
    POP3 in turn and reads her message, until told to stop."""
    while not stop.is_set() or len(times) < 4:
        try:
            t0 = time.monotonic()
            m = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=30)
            m.login(ALICE, PASSWORD)
            times.append(("imap", time.monotonic() - t0))
            typ, _ = m.select("INBOX")
            assert typ == "OK"
            typ, data = m.fetch("1", "(BODY[])")
            assert typ == "OK" and b"Subject: hello" in data[0][1], data
            m.logout()
            t0 = time.monotonic()
            p = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=30)
            p.user(ALICE)
            p.pass_(PASSWORD)
            times.append(("pop3", time.monotonic() - t0))
            _, lines, _ = p.retr(1)
            assert b"Subject: hello" in lines, lines
            p.quit()
        except Exception as e:  # noqa: BLE001 - reported by the test
            errors.append(repr(e))
            return


def test_botnet_against_imap_and_pop3(custom):
    srv = custom(*fast_limits())
    code, text = smtp_send(srv.smtp_port, ALICE, make_message("hello"))
    assert code == 250, text
    stop = threading.Event()
    times, errors, replies = [], [], []
    good = threading.Thread(target=good_user,
                            args=(srv, stop, times, errors))
    good.start()
    attackers = []
    # 20 threads, each taking 5 addresses in turn.
    groups = [ATTACKERS[i::20] for i in range(20)]
    for group in groups:
        t = threading.Thread(target=lambda g=group: [
            attack(srv, a, replies) for a in g])
        t.start()
        attackers.append(t)
    for t in attackers:
        t.join(timeout=120)
    stop.set()
    good.join(timeout=120)
    assert not any(t.is_alive() for t in attackers + [good])

    # The good user never failed.
    assert not errors, errors
    assert len(times) >= 4

    # Every guess was answered, with one of two replies per protocol:
    # a known account and an unknown one fail the same way.
    assert len(replies) == len(ATTACKERS) * GUESSES
    allowed = {"imap": {IMAP_FAILED, IMAP_REFUSED},
               "pop3": {POP3_FAILED, POP3_REFUSED}}
    for source, proto, reply in replies:
        assert reply in allowed[proto], (source, proto, reply)
    failed = {a: 0 for a in ATTACKERS}
    refused = {a: 0 for a in ATTACKERS}
    for source, proto, reply in replies:
        if reply in (IMAP_FAILED, POP3_FAILED):
            failed[source] += 1
        else:
            refused[source] += 1
    # No address got past its limit of 5 checked guesses, and each was
    # refused the rest at once.
    for a in ATTACKERS:
        assert failed[a] <= 5, (a, failed[a])
        assert refused[a] >= GUESSES - 5, (a, refused[a])

    # One log line per failure and per refusal, with the address.
    lines = wait_for_lines(srv, len(replies),
                           lambda m: m[1] in failed)
    assert len(lines) == len(replies)
    for a in ATTACKERS:
        mine = [m for m in lines if m[1] == a]
        assert len([m for m in mine if m[2] == "password"]) == failed[a]
        assert len([m for m in mine if m[2] != "password"]) == refused[a]
    # Alice's account went past its limit of 30, and was refused to the
    # guessers, never to her.
    assert any(m[2] == "limit-user" and m[3] == ALICE for m in lines)
    assert not [m for m in fail_lines(srv) if m[1] == "127.0.0.1"]

    for proto in ("imap", "pop3"):
        t = sorted(x for p, x in times if p == proto)
        print("good user %s login during the attack: n=%d min=%.1f ms "
              "median=%.1f ms p90=%.1f ms max=%.1f ms" % (
                  proto, len(t), 1000 * t[0], 1000 * statistics.median(t),
                  1000 * t[int(len(t) * 0.9)], 1000 * t[-1]))


# ---- the rules one by one ----

def test_refused_address_is_refused_even_with_the_right_password(custom):
    """Past the limit nothing is checked: the right password gets the same
    temporary refusal, on both protocols, while other addresses log in."""
    srv = custom(*fast_limits(limit_ip=3))
    src = "127.0.0.7"
    with Imap(srv.imap_port, src) as c:
        for _ in range(3):
            assert c.login("bob@example.com", "wrong") == IMAP_FAILED
        assert c.login(ALICE, PASSWORD) == IMAP_REFUSED
        assert c.cmd("AUTHENTICATE PLAIN " + base64.b64encode(
            b"\0" + ALICE.encode() + b"\0" + PASSWORD.encode()).decode()) \
            == IMAP_REFUSED
    with Pop3(srv.pop3_port, src) as c:
        assert c.login(ALICE, PASSWORD) == POP3_REFUSED
        assert c.pop("AUTH PLAIN " + base64.b64encode(
            b"\0" + ALICE.encode() + b"\0" + PASSWORD.encode()).decode()) \
            == POP3_REFUSED
    # The same address's /32 neighbour and the good user are not affected.
    with Imap(srv.imap_port, "127.0.0.8") as c:
        assert c.login(ALICE, PASSWORD).startswith("OK")
    with Pop3(srv.pop3_port, "127.0.0.1") as c:
        assert c.login(ALICE, PASSWORD).startswith("+OK")
    lines = wait_for_lines(srv, 7)
    assert [(m[0], m[1], m[2]) for m in lines] == \
        [("imap", src, "password")] * 3 + [("imap", src, "limit-ip")] * 2 \
        + [("pop3", src, "limit-ip")] * 2


def test_success_clears_the_address(custom):
    srv = custom(*fast_limits(limit_ip=3))
    src = "127.0.0.9"
    with Pop3(srv.pop3_port, src) as c:
        assert c.login(ALICE, "wrong") == POP3_FAILED
        assert c.login(ALICE, "wrong") == POP3_FAILED
        assert c.login(ALICE, PASSWORD).startswith("+OK")
        c.pop("QUIT")
    with Imap(srv.imap_port, src) as c:
        for _ in range(3):
            assert c.login(ALICE, "wrong") == IMAP_FAILED
        assert c.login(ALICE, "wrong") == IMAP_REFUSED


def test_account_limit_spares_its_owner(custom):
    """Guesses on bob from many addresses lock bob's account for those
    addresses only; bob from a fresh address logs in, and a guesser's
    other accounts are still checked."""
    srv = custom(*fast_limits(limit_ip=10, limit_user=4))
    for i in range(4):
        with Imap(srv.imap_port, "127.0.1.%d" % (i + 1)) as c:
            assert c.login("bob@example.com", "wrong") == IMAP_FAILED
    with Imap(srv.imap_port, "127.0.1.1") as c:
        assert c.login("BOB@example.com", PASSWORD) == IMAP_REFUSED
        assert c.login(ALICE, "wrong") == IMAP_FAILED
    with Imap(srv.imap_port, "127.0.1.99") as c:
        assert c.login("bob@example.com", PASSWORD).startswith("OK")
    lines = wait_for_lines(srv, 6)
    assert [m[2] for m in lines] == ["password"] * 4 + \
        ["limit-user", "password"]
    assert lines[4][3] == "BOB@example.com"


def test_unknown_user_fails_like_a_wrong_password(custom):
    srv = custom(*fast_limits())
    with Imap(srv.imap_port, "127.0.0.20") as c:
        assert c.login("nobody@example.com", "x") == \
            c.login("bob@example.com", "x") == IMAP_FAILED
    with Pop3(srv.pop3_port, "127.0.0.21") as c:
        assert c.login("nobody@example.com", "x") == \
            c.login("bob@example.com", "x") == POP3_FAILED
    lines = wait_for_lines(srv, 4)
    assert [m[2] for m in lines] == ["password"] * 4


def test_failure_reply_waits_and_the_session_goes_on(custom):
    """A failed LOGIN's reply is held back; commands pipelined behind it
    are answered after it, in order."""
    srv = custom(*fast_limits(delay=300, delay_max=300))
    with Imap(srv.imap_port, "127.0.0.30") as c:
        c.send('a1 LOGIN bob@example.com wrong\r\na2 NOOP\r\n'
               'a3 LOGIN bob@example.com "%s"\r\n' % PASSWORD)
        assert c.line().decode() == "a1 " + IMAP_FAILED
        assert c.line().decode() == "a2 OK NOOP completed"
        assert c.line().decode().startswith("a3 OK")
    with Pop3(srv.pop3_port, "127.0.0.30") as c:
        c.send("USER bob@example.com\r\nPASS wrong\r\nNOOP\r\n")
        assert c.line().decode() == "+OK"
        assert c.line().decode() == POP3_FAILED
        assert c.line().decode().startswith("-ERR")   # NOOP before login


def test_client_gone_during_the_delay(custom):
    """Clients that close while their failure's reply waits are freed
    cleanly (the server runs under ASan) and others are served.  The
    failure is logged before the delay starts: each client closes once
    its line is there."""
    srv = custom(*fast_limits(delay=5000, delay_max=5000))
    clients = []
    for i in range(5):
        c = Imap(srv.imap_port, "127.0.0.4%d" % i)
        c.send("a1 LOGIN bob@example.com wrong\r\n")
        p = Pop3(srv.pop3_port, "127.0.0.5%d" % i)
        p.send("USER bob@example.com\r\nPASS wrong\r\n")
        clients += [c, p]
    wait_for_lines(srv, 10)
    for i, c in enumerate(clients):
        # Half of them with a reset.
        if i % 4 < 2:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                              b"\1\0\0\0\0\0\0\0")
        c.close()
    with Imap(srv.imap_port) as c:
        assert c.login(ALICE, PASSWORD).startswith("OK")
    gone = re.compile(r"(?:imap|pop3)\[\w+\] disconnect "
                      r"client=127\.0\.0\.[45]\d .*end=(?:eof|reset)")
    deadline = time.time() + 10
    while len(gone.findall(srv.log())) < 10 and time.time() < deadline:
        time.sleep(0.05)
    assert len(gone.findall(srv.log())) == 10
    # None of them was answered: the reply (and its "login" line) would
    # have come after the delay.
    assert not re.search(r" login client=127\.0\.0\.[45]\d ", srv.log())


# ---- fail2ban ----

def documented_auth_filter():
    """The filter in docs/fail2ban.md: its ini block with [Definition]."""
    with open(os.path.join(ROOT, "docs", "fail2ban.md")) as f:
        doc = f.read()
    blocks = re.findall(r"```ini\n(.*?)```", doc, re.S)
    found = [b for b in blocks if b.startswith("[Definition]")]
    assert len(found) == 1, "one fail2ban filter in docs/fail2ban.md"
    return found[0]


def test_fail2ban_filter_takes_the_real_address(custom, tmp_path):
    """fail2ban-regex with the documented filter finds every failure and
    refusal with the real client's address, and never the address in a
    user name made to look like a field."""
    prog = fail2ban_regex()
    srv = custom(*fast_limits(limit_ip=3))
    bait = ["x client=203.0.113.9 reason=password user=",
            "client=203.0.113.10",
            'a" client=203.0.113.11 reason=password user="b']
    with Imap(srv.imap_port, "127.0.0.60") as c:
        for user in bait + [ALICE]:
            c.login(user.replace('"', ""), "wrong")
    with Pop3(srv.pop3_port, "127.0.0.61") as c:
        for user in bait:   # USER takes one word; AUTH PLAIN any
            c.pop("AUTH PLAIN " + base64.b64encode(
                b"\0" + user.encode() + b"\0wrong").decode())
    lines = wait_for_lines(srv, 7)
    got = run_filter(prog, srv.log_path, documented_auth_filter(), tmp_path,
                     "posthorn-auth")
    assert sorted(got["ip"]) == ["127.0.0.60"] * 4 + ["127.0.0.61"] * 3, got
    assert len(lines) == 7


def test_sasl_failure_waits_and_the_session_goes_on(custom):
    """The same for AUTHENTICATE (IMAP), AUTH (POP3) and submission's
    AUTH (SMTP): the failure's reply is held back, what was pipelined
    behind it is answered after it, in order; a client that closes during
    the delay is freed and the next one is served."""
    from test_submission import sub_server
    srv = sub_server(custom, *fast_limits(delay=300, delay_max=300))
    bad = base64.b64encode(b"\0bob@example.com\0wrong").decode()
    with Imap(srv.imap_port, "127.0.0.31") as c:
        c.send("a1 AUTHENTICATE PLAIN %s\r\na2 NOOP\r\n" % bad)
        assert c.line().decode() == "a1 " + IMAP_FAILED
        assert c.line().decode() == "a2 OK NOOP completed"
    with Pop3(srv.pop3_port, "127.0.0.31") as c:
        c.send("AUTH PLAIN %s\r\nNOOP\r\n" % bad)
        assert c.line().decode() == POP3_FAILED
        assert c.line().decode().startswith("-ERR")   # NOOP before login
    c = Client(srv.sub)
    with c:
        assert c.reply()[0] == 220
        assert c.cmd("EHLO client.test")[0] == 250
        c.send("AUTH PLAIN %s\r\nNOOP\r\n" % bad)
        assert c.reply()[0] == 535
        assert c.reply()[0] == 250
    # Gone while the failure's reply waits.
    c = Imap(srv.imap_port, "127.0.0.32")
    c.send("a1 AUTHENTICATE PLAIN %s\r\n" % bad)
    wait_for_lines(srv, 3)   # IMAP and POP3 ones (submission's: smtp)
    c.close()
    with Imap(srv.imap_port) as c:
        assert c.login(ALICE, PASSWORD).startswith("OK")
