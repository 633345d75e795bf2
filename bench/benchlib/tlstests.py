"""The TLS measurements: handshakes per second on the implicit-TLS ports,
memory per idle TLS connection, and a good user's IMAP login time while a
flood of failing logins runs.  Each takes a started server (posthorn or the
reference, the same interface) and returns numbers plus a line of detail, or
raises BenchError, which the caller records as a failed cell.

The TLS load is bench/tlsload (C, OpenSSL, one epoll loop), the idle IMAP
connections bench/imapload with --tls, so both servers get the same
client."""

import json
import os
import subprocess
import time

from .common import (BenchError, log, run, tree_memory, wait_tree_settled,
                     port_is_free)
from .flood import LoginFlood, LoginTimeout, imap_session
from .report import LowerBound
from . import imaptests

HERE = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
REPO = os.path.dirname(HERE)
TLSLOAD = os.path.join(REPO, "build", "bench", "tlsload")

USER_FMT = "tls%05d@bench.test"
HS_WARMUP = 2           # seconds of handshakes before the measured window
HS_TIMEOUT = 30         # longest wait for one handshake and greeting
HS_MAX_FAILED = 0.01    # share of failed connections that fails the cell
# Longest wait for the good user's LOGIN (from connect) and for each later
# reply.  A LOGIN that takes longer counts as this long, and a median or p95
# that lands on one is shown as ">N" (at least).
LOGIN_TIMEOUT = 120
MIN_LOGINS = 20         # fewer make a meaningless p95
FLOOD_WARMUP = 5        # seconds at most for every flood client to fail once
QUIET_TIMEOUT = 120     # seconds at most to wait for a server to finish its flood
QUIET_CPU = 0.1         # CPU seconds per second below which a server is quiet


def build_tlsload():
    """Build bench/tlsload (C and OpenSSL, seconds)."""
    run(["make", "-s", "-C", os.path.join(HERE, "tlsload")], timeout=300)
    if not os.access(TLSLOAD, os.X_OK):
        raise BenchError("bench/tlsload did not build")


def make_cert(base):
    """A self-signed ECDSA P-256 certificate for mx.bench.test and its
    key, for both servers.  Returns (cert path, key path)."""
    d = os.path.join(base, "tls")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
         "-days", "30", "-subj", "/CN=mx.bench.test",
         "-addext", "subjectAltName=DNS:mx.bench.test"], timeout=60)
    # Every server reads it as root before it drops its privileges.
    os.chmod(key, 0o600)
    os.chmod(cert, 0o644)
    return cert, key


def tls_users(n):
    return [USER_FMT % i for i in range(1, n + 1)]


def _port_and_root(server, proto):
    if proto == "smtps":
        port, root = server.smtps_port, server.smtps_root()
    else:
        port, root = server.imaps_port, server.imaps_root()
    if not root:
        raise BenchError("no server process to measure")
    if port_is_free("127.0.0.1", port):
        raise BenchError("nothing listens on 127.0.0.1:%d%s"
                         % (port, server.listen_note(port)))
    return port, root


def _tlsload_json(p_stdout):
    for line in reversed(p_stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                break
    return None


def _first(out):
    first = out["errors"].get("first", [])
    return ("; first: " + " | ".join(first[:3])) if first else ""


# ---------------------------------------------------------------------------
# Handshakes per second

def handshake_rate(server, proto, seconds, clients, resume):
    """Handshakes per second on the server's implicit-TLS port for `proto`
    ("smtps" or "imaps"): `clients` connections at once, each reconnecting
    as soon as the greeting has arrived over TLS, for `seconds` after
    HS_WARMUP.  With `resume`, each offers the session of its previous
    connection.  Returns (handshakes/s, detail)."""
    port, root = _port_and_root(server, proto)
    args = [TLSLOAD, "rate", "-p", str(port), "-n", str(clients),
            "-t", str(seconds), "-w", str(HS_WARMUP), "--timeout", str(HS_TIMEOUT)]
    if resume:
        args.append("--resume")
    cpu0 = imaptests.tree_cpu(root)
    try:
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=seconds + HS_WARMUP + 2 * HS_TIMEOUT + 30)
    except subprocess.TimeoutExpired:
        raise BenchError("tlsload did not finish in time")
    server_cpu = imaptests.tree_cpu(root) - cpu0
    out = _tlsload_json(p.stdout)
    if out is None:
        raise BenchError("tlsload (exit %d) printed no result: %s"
                         % (p.returncode, (p.stderr or p.stdout).strip()[-300:]))
    n, failed = out["handshakes"], out["errors"]["count"]
    if n == 0:
        raise BenchError("no handshake completed; %d connection(s) failed%s"
                         % (failed, _first(out)))
    if failed > HS_MAX_FAILED * n:
        raise BenchError("%d connection(s) failed against %d handshakes%s"
                         % (failed, n, _first(out)))
    cores = os.cpu_count() or 1
    wall = out["wall"]
    detail = ("%d clients, %ds measured after %ds: %d handshakes (%.0f/s), "
              "connect to greeting ms p50 %.1f / p95 %.1f; "
              % (clients, seconds, HS_WARMUP, n, out["per_sec"],
                 out["ms_p50"], out["ms_p95"]))
    if resume:
        detail += ("%d of %d resumed%s; " % (
            out["resumed"], n,
            " (the server resumed none: these were full handshakes)"
            if out["resumed"] == 0 else ""))
    detail += ("%d failed connection(s)%s; CPU over the whole run (%.1f s on "
               "%d cores): the client (tlsload, one process) %.1f s = %.0f%% "
               "of the machine, the server's process tree %.1f s = %.0f%%"
               % (failed, _first(out) if failed else "", wall, cores,
                  out["client_cpu"], 100 * out["client_cpu"] / (wall * cores),
                  server_cpu, 100 * server_cpu / (wall * cores)))
    return out["per_sec"], detail


# ---------------------------------------------------------------------------
# Memory per idle connection

def idle_imaps_memory(server, n, users, warm):
    """PSS per idle IMAP connection over implicit TLS (LOGIN, SELECT INBOX,
    IDLE): a round of `warm` connections opened and closed first (not
    counted), then n held while the tree is measured.  Returns (pss, rss,
    detail), in KiB."""
    _port_and_root(server, "imaps")
    w = imaptests.idle_memory(server, warm, users, tls=True, user_fmt=USER_FMT)
    pss, rss, detail = imaptests.idle_memory(server, n, users, tls=True,
                                             user_fmt=USER_FMT)
    return pss, rss, ("%s; warm-up round before it (not counted): %d connections, "
                      "%.0f KiB PSS each" % (detail, warm, w[0]))


def idle_smtps_memory(server, n, ramp_timeout):
    """PSS per idle SMTP connection over implicit TLS after EHLO: n
    connections that finished the handshake, got the greeting, sent EHLO
    and got its reply, held while the server's tree is measured (posthorn's
    process; Postfix's master with every smtpd).  No warm-up round: Postfix
    would hand the measured round the idle smtpd processes of the first.
    Returns (pss, rss, detail), in KiB."""
    port, root = _port_and_root(server, "smtps")
    wait_tree_settled(root)
    before = tree_memory(root)
    args = [TLSLOAD, "hold", "-p", str(port), "-n", str(n), "--ehlo",
            "--in-flight", "32", "--timeout", "60",
            "--ramp-timeout", str(ramp_timeout)]
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        line, guard = imaptests._read_ready(p, t0 + ramp_timeout + 60)
        ramp = time.monotonic() - t0
        ready = json.loads(line)
        held = ready["held"]
        if held < n and not guard:
            raise BenchError("only %d of %d connections held%s"
                             % (held, n, _first(ready)))
        if held == 0:
            raise BenchError("no connection held%s" % _first(ready))
        wait_tree_settled(root, timeout=60, quiet=2.0)
        after = tree_memory(root)
    finally:
        try:
            p.stdin.close()
        except OSError:
            pass
        try:
            p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        stdout = p.stdout.read().decode(errors="replace")
    end = _tlsload_json(stdout)
    if end is None:
        raise BenchError("tlsload hold printed no final result")
    if end["errors"]["dropped"]:
        raise BenchError("%d connection(s) dropped while held%s"
                         % (end["errors"]["dropped"], _first(end)))
    pss = (after["pss"] - before["pss"]) / held
    rss = (after["rss"] - before["rss"]) / held
    detail = ("%d connections held after EHLO, opened in %.0fs; PSS %d -> %d KiB, "
              "RSS %d -> %d KiB, processes %d -> %d%s"
              % (held, ramp, before["pss"], after["pss"], before["rss"],
                 after["rss"], before["procs"], after["procs"],
                 ("; " + guard) if guard else ""))
    return pss, rss, detail


# ---------------------------------------------------------------------------
# The good user's login during a login flood

def _percentile(sorted_values, p):
    """Nearest rank."""
    k = max(0, min(len(sorted_values) - 1,
                   int(-(-p * len(sorted_values) // 100)) - 1))
    return sorted_values[k]


def wait_quiet(root, timeout=QUIET_TIMEOUT):
    """Wait until a process tree uses less than QUIET_CPU of a core over a
    second: a server may go on with the logins of a flood whose clients
    are gone, and the next measurement (of the other system) must not pay
    for that.  Returns the seconds waited, or None if it never got quiet."""
    t0 = time.monotonic()
    last = imaptests.tree_cpu(root)
    while time.monotonic() - t0 < timeout:
        time.sleep(1.0)
        now = imaptests.tree_cpu(root)
        if now - last < QUIET_CPU:
            return time.monotonic() - t0
        last = now
    return None


def login_latency(server, seconds, flood_clients, max_logins=5000):
    """The good user (server.user, who has mail) runs IMAP sessions one
    after another from 127.0.0.1 on the plain IMAP port: connect, LOGIN,
    SELECT INBOX, FETCH 1 BODY[], LOGOUT; the time from before connect()
    to LOGIN's tagged reply is recorded.  For `seconds` (at most
    max_logins, at least MIN_LOGINS unless that takes three times as long),
    while `flood_clients` POP3 and as many IMAP clients, from 127.0.0.2
    upwards, fail logins as the same user on the same server.  A LOGIN
    without a reply after LOGIN_TIMEOUT counts as that long.  Returns
    (median ms, p95 ms, failed logins per second answered or None,
    detail)."""
    flood = None
    lat, refused, timeouts = [], 0, 0
    f0 = f1 = None
    try:
        if flood_clients:
            flood = LoginFlood(server.pop3_port, server.user, flood_clients,
                               imap_port=server.imap_port)
            flood.start()
            warm = time.monotonic() + FLOOD_WARMUP
            while flood.counts()[0] < 2 * flood_clients and time.monotonic() < warm:
                time.sleep(0.1)
            f0 = flood.counts()
        t0 = time.monotonic()
        while len(lat) + refused < max_logins:
            now = time.monotonic()
            if now > t0 + seconds and len(lat) + refused >= MIN_LOGINS:
                break
            if now > t0 + 3 * seconds and (lat or refused):
                break
            try:
                secs, ok = imap_session(server.imap_port, server.user,
                                        server.password, timeout=LOGIN_TIMEOUT)
            except LoginTimeout:
                secs, ok = LOGIN_TIMEOUT, True
                timeouts += 1
            if ok:
                lat.append(secs)
            else:
                refused += 1
        t1 = time.monotonic()
        if flood:
            f1 = flood.counts()
            if not flood.alive():
                raise BenchError("the login flood process died")
    except OSError as e:
        raise BenchError("the good user's session: %s" % e)
    finally:
        if flood:
            flood.stop()
            quiet = wait_quiet(server.imap_root())
    if not lat:
        raise BenchError("every LOGIN of the good user was refused (%d)" % refused)
    ms = sorted(1000 * x for x in lat)
    cap = 1000 * LOGIN_TIMEOUT
    median, p95 = _percentile(ms, 50), _percentile(ms, 95)
    median, p95 = [LowerBound(v) if v >= cap else v for v in (median, p95)]
    detail = ("%d sessions in %.1fs; LOGIN ms: min %.1f, median %s%.1f, p95 %s%.1f, "
              "max %s%.1f; %d LOGIN(s) of the good user refused, %d without a "
              "reply after %ds (counted as %ds)"
              % (len(ms), t1 - t0, ms[0], ">" if median >= cap else "", median,
                 ">" if p95 >= cap else "", p95, ">" if ms[-1] >= cap else "",
                 ms[-1], refused, timeouts, LOGIN_TIMEOUT, LOGIN_TIMEOUT))
    if len(ms) < MIN_LOGINS:
        detail += " (too few sessions for a real p95)"
    rate = None
    if flood:
        attempts = f1[0] - f0[0]
        if f1[3]:
            raise BenchError("%d flood logins with a wrong password succeeded" % f1[3])
        if attempts <= 0:
            raise BenchError("the login flood got no replies while timed")
        rate = attempts / (t1 - t0)
        detail += ("; flood: %d POP3 and %d IMAP clients from 127.0.0.2-127.0.0.%d, "
                   "%d failed logins answered (%.0f/s; IMAP %d, POP3 %d) and %d "
                   "connections while timed"
                   % (flood_clients, flood_clients, 1 + flood_clients, attempts,
                      rate, f1[4] - f0[4], attempts - (f1[4] - f0[4]), f1[1] - f0[1]))
        detail += ("; the server's CPU use fell under %d%% of a core %.0f s after "
                   "the flood stopped" % (100 * QUIET_CPU, quiet) if quiet is not None
                   else "; the server was still busy %d s after the flood stopped"
                   % QUIET_TIMEOUT)
    log("%s:   LOGIN median %.1f ms, p95 %.1f ms%s"
        % (server.name, median, p95, (", %.0f failed logins/s" % rate)
           if rate is not None else ""))
    return median, p95, rate, detail
