"""The measurements.  Each takes a started server (posthorn or the reference,
same interface) and returns numbers plus a line of detail, or raises
BenchError, which the caller records as a failed cell."""

import time

from .common import BenchError, tree_memory, wait_tree_settled
from .clients import (smtp_source, pop3_session, pop3_count, IdleSessions,
                      smtp_idle_script, pop3_idle_script)

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
