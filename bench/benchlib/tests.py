"""The measurements.  Each takes a started server (posthorn or the reference,
same interface) and returns numbers plus a line of detail, or raises
BenchError, which the caller records as a failed cell."""

import time

from .common import (BenchError, tree_memory, wait_tree_settled, meminfo,
                     unread_bytes, process_tree, smaps_rollup, statm_rss)
from .clients import (smtp_source, pop3_session, pop3_count, IdleSessions,
                      smtp_idle_script, pop3_idle_script)
from .senders import LargeSenders, make_message
from .flood import LoginFlood, smtp_transaction
from .report import LowerBound

SENDER = "sender@example.org"
FILL_SESSIONS = 20          # parallel senders when just filling a mailbox
POLL_INTERVAL = 0.02        # seconds between "is everything delivered?" checks


def wait_delivered(server, count, since, timeout):
    """Poll until `count` messages are in the mailbox and nothing is pending.

    Returns the monotonic time of the end of the first check that saw them
    all.  Fails early if more than `count` show up (the mailbox was not
    empty) or the server reports a failed delivery."""
    deadline = since + timeout
    while True:
        n, pending = server.delivered()
        now = time.monotonic()
        if n > count:
            raise BenchError("mailbox holds %d messages, %d were sent" % (n, count))
        if n == count and pending == 0:
            return now
        if now > deadline:
            raise BenchError("only %d of %d messages in the mailbox (%d queued) "
                             "%.0fs after sending ended" % (n, count, pending, timeout))
        time.sleep(POLL_INTERVAL)


def fill(server, count, size, timeout):
    """Empty the mailbox, then put `count` messages of `size` bytes in it."""
    server.empty_mailbox()
    _, accepted = smtp_source(server.smtp_port, min(FILL_SESSIONS, count), count,
                              size, SENDER, server.user, timeout)
    wait_delivered(server, count, accepted, timeout)


def smtp_throughput(server, size, senders, count, timeout):
    """Messages/s from the first connection until the last message is in the
    mailbox; one new SMTP connection per message."""
    server.empty_mailbox()
    start, accepted = smtp_source(server.smtp_port, senders, count, size,
                                  SENDER, server.user, timeout)
    # smtp-source has exited: every message got its 250.  Only now start
    # polling, so that polling never competes with the load for the CPU.
    end = wait_delivered(server, count, accepted, timeout)
    # Untimed cross-check: the mailbox serves them all over POP3 as well.
    seen = pop3_count(server.pop3_port, server.user, server.password)
    if seen != count:
        raise BenchError("POP3 STAT says %d messages, expected %d" % (seen, count))
    rate = count / (end - start)
    detail = ("%d msgs: accepted in %.2fs (%.0f msg/s), in mailbox after %.2fs"
              % (count, accepted - start, count / (accepted - start), end - start))
    return rate, detail


def pop3_fetch(server, count, timeout, pipelined, repeats=3):
    """Seconds to RETR messages 1..count in one logged-in session; the
    median of `repeats` sessions (one fetch of 2,000 small messages takes
    only a fraction of a second, so a single one is noisy).

    The clock runs from the first RETR to the end of the last reply: login
    (password hashing) and STAT are not part of it."""
    times, nbytes = [], 0
    for _ in range(repeats):
        c = pop3_session(server.pop3_port, server.user, server.password, timeout)
        try:
            n = c.stat()
            if n != count:
                raise BenchError("mailbox holds %d messages, expected %d" % (n, count))
            t0 = time.monotonic()
            if pipelined:
                nbytes = c.retr_pipelined(count)
            else:
                nbytes = c.retr_one_at_a_time(count)
            times.append(time.monotonic() - t0)
            c.quit()    # no DELE: the mailbox stays as it is
        finally:
            c.close()
        if nbytes < count * 1000:
            raise BenchError("fetched only %d bytes for %d messages" % (nbytes, count))
    secs = sorted(times)[len(times) // 2]
    detail = ("%d msgs, %.1f MB per session; %d sessions took %s s, median kept"
              % (count, nbytes / 1e6, repeats, ", ".join("%.3f" % t for t in times)))
    return secs, detail


def idle_users(n):
    """The users of the POP3 memory test, one session each: a POP3 server
    may (and posthorn does, per RFC 1939) lock a maildrop for the length of
    a session, so 1,000 sessions need 1,000 users.  Their mailboxes are
    empty."""
    return ["idle%04d@bench.test" % i for i in range(1, n + 1)]


def _hold_sessions(root, port, n, script, bye, timeout):
    """Open n sessions, measure the tree while they are held, close them.
    Returns (memory before, memory while held)."""
    wait_tree_settled(root)
    before = tree_memory(root)
    sessions = IdleSessions(port, n, script, timeout=timeout)
    try:
        opened = sessions.start()
        if opened < n:
            raise BenchError("only %d of %d sessions got through; first errors: %s"
                             % (opened, n, "; ".join(sessions.errors)))
        # Let process spawning / hand-over finish before measuring.
        wait_tree_settled(root, timeout=30)
        after = tree_memory(root)
    finally:
        sessions.close(bye)
    return before, after


def _per_session(before, after, n):
    return ((after["rss"] - before["rss"]) / n, (after["pss"] - before["pss"]) / n)


def idle_memory(server, kind, n, timeout):
    """Memory per idle session: (held - before) / n for RSS and PSS, summed
    over the process tree that serves `kind` ("smtp" or "pop3").

    POP3 is measured on a second round of n sessions, after a first round
    has been opened and closed: the first logins carry one-time costs that
    are not per session (memory the allocator keeps after password hashing
    on each worker thread, Dovecot's auth process filling its caches).  The
    first round's figures are kept in the details.  SMTP gets no such round:
    Postfix would reuse the first round's idle smtpd processes and appear
    to need no memory at all."""
    if kind == "smtp":
        root, port, script = server.smtp_root(), server.smtp_port, smtp_idle_script()
    else:
        root, port = server.pop3_root(), server.pop3_port
        script = pop3_idle_script(idle_users(n), server.password)
    if not root:
        raise BenchError("no server process to measure")
    extra = ""
    if kind == "pop3":
        cold = _hold_sessions(root, port, n, script, b"QUIT\r\n", timeout)
        extra = ("; first round (not counted): %.0f KiB RSS, %.0f KiB PSS per session"
                 % _per_session(cold[0], cold[1], n))
    before, after = _hold_sessions(root, port, n, script, b"QUIT\r\n", timeout)
    rss, pss = _per_session(before, after, n)
    detail = ("%d sessions; RSS %d -> %d KiB, PSS %d -> %d KiB, processes %d -> %d%s"
              % (n, before["rss"], after["rss"], before["pss"], after["pss"],
                 before["procs"], after["procs"], extra))
    return rss, pss, detail


# ---------------------------------------------------------------------------
# Memory under many senders of large messages

MiB = 1 << 20
# The tree is sampled every SAMPLE_INTERVAL seconds: RSS from statm (cheap),
# PSS from smaps_rollup every PSS_INTERVAL or PSS_SPACING times as long as
# the last one took (it walks the page tables: 0.1-1 s for a process of a
# few GiB, or for 2,000 small ones), the list of processes every
# TREE_INTERVAL.  After each sample the sampler sleeps at least twice as
# long as it took: it must not become part of the load.
SAMPLE_INTERVAL = 0.2
PSS_INTERVAL = 1.0
PSS_SPACING = 4
TREE_INTERVAL = 5.0
# The machine is shared and has no swap: a server that holds every message
# whole (1,000 x 25 MiB) would take the OOM killer to everyone.  The run
# stops, and the figure is reported as a lower bound, once the tree has
# grown by GUARD_GROWTH or by GUARD_SHARE of the memory that was available,
# whichever is less, or when the machine's available memory falls under
# GUARD_FLOOR_SHARE of the total.
GUARD_GROWTH = 8 << 20      # KiB
GUARD_SHARE = 0.4
GUARD_FLOOR_SHARE = 0.15
HOLD_AFTER_READ = 1.0       # seconds of sampling once the server has read all


class _Sampler:
    """Samples a process tree's memory and keeps the largest figures."""

    def __init__(self, root):
        self.root = root
        self.peak = {"rss": 0, "pss": 0, "procs": 0}
        self.pids, self.pss = [], 0
        self.tree_at = self.pss_at = -1e9
        self.pss_cost = 0.0
        self.last = None
        self.samples, self.pss_samples, self.cost = 0, 0, 0.0

    def sample(self, full=False):
        """One sample; `full` refreshes the process list and PSS now."""
        t = time.monotonic()
        if full or t - self.tree_at >= TREE_INTERVAL:
            self.pids, self.tree_at = process_tree(self.root), t
        if full or t - self.pss_at >= max(PSS_INTERVAL, PSS_SPACING * self.pss_cost):
            t1 = time.monotonic()
            self.pss = sum(m[1] for m in map(smaps_rollup, self.pids) if m)
            self.pss_at, self.pss_cost = t, time.monotonic() - t1
            self.pss_samples += 1
        rss = [statm_rss(p) for p in self.pids]
        m = {"rss": sum(r for r in rss if r), "pss": self.pss,
             "procs": sum(1 for r in rss if r is not None)}
        self.cost += time.monotonic() - t
        self.samples += 1
        for k in self.peak:
            self.peak[k] = max(self.peak[k], m[k])
        self.last = m
        return m


class _Guard:
    def __init__(self, base):
        total = meminfo("MemTotal") or 0
        avail = meminfo("MemAvailable") or total
        self.base_pss = base["pss"]
        self.max_growth = min(GUARD_GROWTH, int(avail * GUARD_SHARE))
        self.floor = int(total * GUARD_FLOOR_SHARE)
        self.why = None

    def tripped(self, m):
        avail = meminfo("MemAvailable")
        if m["pss"] - self.base_pss > self.max_growth:
            self.why = ("stopped by the memory guard: the server grew by more "
                        "than %d MiB PSS" % (self.max_growth // 1024))
        elif avail is not None and avail < self.floor:
            self.why = ("stopped by the memory guard: the machine had only "
                        "%d MiB available" % (avail // 1024))
        return self.why is not None


def _watch(sampler, guard, load, done, deadline):
    """Sample every SAMPLE_INTERVAL until done() is true.  Returns "ok",
    "guard" (memory guard tripped), "timeout" or "dead" (the senders are
    gone)."""
    while True:
        t = time.monotonic()
        if guard.tripped(sampler.sample()):
            return "guard"
        if done():
            return "ok"
        if not load.alive():
            return "dead"
        now = time.monotonic()
        if now > deadline:
            return "timeout"
        time.sleep(max(t + SAMPLE_INTERVAL - now, 2 * (now - t)))


def large_messages(server, senders, size, timeout, connect_timeout):
    """Peak memory of the SMTP server's process tree while `senders` clients
    each send a message of `size` bytes at the same time, minus the idle
    tree before they connect.  Returns (RSS MiB, PSS MiB, detail).

    The clients stop short of the final "." (see senders.py): every byte
    reaches the server, nothing is stored.  The run ends once the server
    has read every byte (nothing left in either side's socket queues) and
    has been watched for HOLD_AFTER_READ more seconds.  If the memory guard
    or the `timeout` (for sending and reading) stops it first, the peak so
    far is returned as a LowerBound."""
    root, port = server.smtp_root(), server.smtp_port
    if not root:
        raise BenchError("no server process to measure")
    msg = make_message(size, SENDER, server.user)
    wait_tree_settled(root)
    base = tree_memory(root)
    guard = _Guard(base)
    sampler = _Sampler(root)
    load = LargeSenders(port, senders, msg, SENDER, server.user,
                        timeout=connect_timeout + timeout + 60)
    marks, fail, stopped = {}, None, None
    load.start()
    t_start = time.monotonic()
    try:
        state = _watch(sampler, guard, load,
                       lambda: load.ready() + load.failed() >= senders,
                       t_start + connect_timeout)
        marks["connect"] = time.monotonic() - t_start
        if state == "ok" and load.failed():
            fail = "%d of %d sessions failed before DATA" % (load.failed(), senders)
        elif state == "timeout":
            fail = "only %d of %d sessions reached DATA in %ds" % (
                load.ready(), senders, connect_timeout)
        if state == "ok" and not fail:
            marks["open"] = sampler.sample(full=True)
            t0 = time.monotonic()
            load.go()
            state = _watch(sampler, guard, load,
                           lambda: load.done() + load.failed() >= senders,
                           t0 + timeout)
            marks["sent"] = time.monotonic() - t0
            if state == "ok" and load.failed():
                fail = "%d of %d senders failed during the message" % (load.failed(), senders)
            if state == "ok" and not fail:
                state = _watch(sampler, guard, load,
                               lambda: unread_bytes(port) == 0, t0 + timeout)
                marks["read"] = time.monotonic() - t0
            if state == "ok" and not fail:
                # Everything taken in: watch a little longer (a server may
                # still be working on the last bytes), then a full sample.
                hold = time.monotonic() + HOLD_AFTER_READ
                state = _watch(sampler, guard, load,
                               lambda: time.monotonic() >= hold, hold + 5)
            sampler.sample(full=True)
            if state == "timeout" and not fail:
                stopped = ("stopped at the time limit (%ds) after %d of %d MiB "
                           "sent, %d MiB of it not yet read by the server"
                           % (timeout, load.sent() // MiB, senders * size // MiB,
                              unread_bytes(port) // MiB))
        if state == "guard":
            stopped = "%s after %d of %d MiB sent" % (
                guard.why, load.sent() // MiB, senders * size // MiB)
        elif state == "dead" and not fail:
            fail = "the sender processes died"
    finally:
        errors = load.close()
    if fail:
        raise BenchError(fail + ("; first errors: " + "; ".join(errors) if errors else ""))
    wait_tree_settled(root, timeout=30)
    after = tree_memory(root)

    peak = sampler.peak
    rss = (peak["rss"] - base["rss"]) / 1024
    pss = (peak["pss"] - base["pss"]) / 1024
    if stopped:
        rss, pss = LowerBound(rss), LowerBound(pss)

    def mem(m):
        return "RSS %d MiB, PSS %d MiB, %d processes" % (
            m["rss"] // 1024, m["pss"] // 1024, m["procs"])
    detail = ["%d senders x %d bytes (%.1f GiB), no final dot" % (
        senders, size, senders * size / (1 << 30))]
    detail.append("idle: " + mem(base))
    if "open" in marks:
        detail.append("all sessions at DATA after %.1fs: %s"
                      % (marks["connect"], mem(marks["open"])))
    detail.append("peak: " + mem(peak) + " (PSS +%d KiB per sender)"
                  % ((peak["pss"] - base["pss"]) // senders))
    if stopped:
        detail.append(stopped + ", so the figures are lower bounds")
    if "read" in marks:
        detail.append("sent in %.1fs (%.0f MiB/s), all read by the server "
                      "after %.1fs" % (marks["sent"], senders * size / MiB / marks["sent"],
                                       marks["read"]))
    detail.append("after the senders closed: " + mem(after))
    detail.append("%d samples (%d of PSS), %.0f ms each on average"
                  % (sampler.samples, sampler.pss_samples,
                     1000 * sampler.cost / max(1, sampler.samples)))
    if errors:
        detail.append("sender errors: " + "; ".join(errors))
    return rss, pss, "; ".join(detail)


# ---------------------------------------------------------------------------
# SMTP transaction latency, with and without a login flood

MIN_TRANSACTIONS = 20       # fewer make a meaningless p95
FLOOD_WARMUP = 5            # seconds at most for every flood client to fail once


def _percentile(sorted_values, p):
    """Nearest-rank percentile of an already sorted list."""
    k = max(0, min(len(sorted_values) - 1,
                   int(-(-p * len(sorted_values) // 100)) - 1))
    return sorted_values[k]


def smtp_latency(server, count, seconds, flood_clients=0, timeout=120):
    """Median and p95 (ms) of full SMTP transactions of a 4 KB message run
    one after another for `seconds` (at most `count` of them, at least
    MIN_TRANSACTIONS unless that takes three times as long), while
    `flood_clients` POP3 clients fail logins on the same server (its POP3
    port).  Every message must then be in the mailbox.  Returns (median,
    p95, detail)."""
    server.empty_mailbox()
    message = make_message(4096, SENDER, server.user)
    flood = None
    lat = []
    try:
        if flood_clients:
            flood = LoginFlood(server.pop3_port, server.user, flood_clients)
            flood.start()
            # Time it only once the flood is in full swing.
            warm = time.monotonic() + FLOOD_WARMUP
            while flood.counts()[0] < flood_clients and time.monotonic() < warm:
                time.sleep(0.1)
            f0 = flood.counts()
        t0 = time.monotonic()
        while len(lat) < count:
            # Enough once the time is up and there are MIN_TRANSACTIONS, or,
            # for a server that takes seconds per transaction, at three
            # times the time with whatever there is.
            now = time.monotonic()
            if now > t0 + seconds and len(lat) >= MIN_TRANSACTIONS:
                break
            if now > t0 + 3 * seconds and lat:
                break
            lat.append(smtp_transaction(server.smtp_port, SENDER, server.user, message))
        t1 = time.monotonic()
        if flood:
            f1 = flood.counts()
            if not flood.alive():
                raise BenchError("the login flood process died")
    finally:
        if flood:
            flood.stop()
    wait_delivered(server, len(lat), t1, timeout)
    ms = sorted(1000 * x for x in lat)
    median, p95 = _percentile(ms, 50), _percentile(ms, 95)
    detail = ("%d transaction(s) in %.1fs; ms: min %.1f, median %.1f, p95 %.1f, max %.1f"
              % (len(ms), t1 - t0, ms[0], median, p95, ms[-1]))
    if len(ms) < MIN_TRANSACTIONS:
        detail += " (too few transactions for a real p95)"
    if flood:
        attempts = f1[0] - f0[0]
        if f1[3]:
            raise BenchError("%d flood logins with a wrong password succeeded" % f1[3])
        if attempts <= 0:
            raise BenchError("the login flood got no replies to PASS while timed")
        detail += ("; flood: %d POP3 clients from 127.0.0.2-127.0.0.%d, %d failed "
                   "logins (%.0f/s) and %d connections while timed"
                   % (flood_clients, 1 + flood_clients, attempts,
                      attempts / (t1 - t0), f1[1] - f0[1]))
    return median, p95, detail
