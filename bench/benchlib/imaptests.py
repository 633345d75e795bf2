"""The IMAP measurements.  Each takes a started server with IMAP (posthorn
or the reference, the same interface) and returns numbers plus a line of
detail, or raises BenchError, which the caller records as a failed cell.

The load is bench/imapload (C, one epoll loop), so the client costs the
same against both servers; Dovecot's imaptest runs too when it is on PATH."""

import collections
import json
import os
import re
import selectors
import shutil
import signal
import statistics
import subprocess
import time

from .common import (BenchError, log, run, tree_memory, wait_tree_settled,
                     meminfo, process_tree)
from . import mailgen

HERE = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
REPO = os.path.dirname(HERE)
IMAPLOAD = os.path.join(REPO, "build", "bench", "imapload")

USER_FMT = "imap%05d@bench.test"
BIG_USER = "big@bench.test"
# The clients come from 127.0.0.1 .. 127.0.0.SRC_IPS: Dovecot allows 10
# connections per user and address (mail_max_userip_connections), posthorn
# a number per address; 10 addresses keep both at their defaults.
SRC_IPS = 10
WARMUP = 2              # seconds of load before the measured window
CMD_TIMEOUT = 60        # longest wait for one reply under load
GUARD_FLOOR_SHARE = 0.15  # stop opening idle connections below this much free memory

# The commands timed on the 100,000-message mailbox (label, command).
BIG_COMMANDS = [
    ("SEARCH BODY", "SEARCH BODY %s" % mailgen.SEARCH_BODY),
    ("SEARCH FROM", "SEARCH FROM %s" % mailgen.SEARCH_FROM),
    ("SORT (DATE)", "SORT (DATE) UTF-8 ALL"),
    ("FETCH 1:* ENVELOPE", "FETCH 1:* ENVELOPE"),
    ("FETCH 1:* BODYSTRUCTURE", "FETCH 1:* BODYSTRUCTURE"),
]
BIG_RUNS = 3            # each command: the first run, then repeats


def build_imapload():
    """Build bench/imapload (plain C, seconds)."""
    run(["make", "-s", "-C", os.path.join(HERE, "imapload")], timeout=300)
    if not os.access(IMAPLOAD, os.X_OK):
        raise BenchError("bench/imapload did not build")


def imap_users(n):
    return [USER_FMT % i for i in range(1, n + 1)]


def _last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                break
    return None


def _first_errors(out):
    first = out.get("errors", {}).get("first", [])
    return ("; first: " + " | ".join(first[:3])) if first else ""


def _imapload(args, timeout):
    try:
        p = subprocess.run([IMAPLOAD] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchError("imapload did not finish within %ds" % timeout)
    out = _last_json(p.stdout)
    if out is None:
        raise BenchError("imapload (exit %d) printed no result: %s"
                         % (p.returncode, (p.stderr or p.stdout).strip()[-300:]))
    return p.returncode, out


def _check_errors(rc, out, what):
    e = out["errors"]
    if rc == 2 or e["protocol"] or e["failed_clients"] or e["dropped"]:
        raise BenchError("%s: %d protocol error(s), %d client(s) failed, %d dropped%s"
                         % (what, e["protocol"], e["failed_clients"], e["dropped"],
                            _first_errors(out)))
    if e["no"] or e["bad"]:
        by = ", ".join("%s %d NO/%d BAD" % (k, v["no"], v["bad"])
                       for k, v in e["by_command"].items())
        raise BenchError("%s: %d NO and %d BAD replies (%s)%s"
                         % (what, e["no"], e["bad"], by, _first_errors(out)))


# ---------------------------------------------------------------------------
# Load

def load(server, clients, seconds, users):
    """Commands per second of `clients` connections running imapload's
    mix for `seconds` (after LOGIN, SELECT and WARMUP seconds of load),
    each client its own user (users 1..clients).  Any NO, BAD, protocol
    error or failed client fails the cell.  Returns (cmd/s, detail)."""
    if clients > users:
        raise BenchError("%d clients but only %d users" % (clients, users))
    args = ["load", "-p", str(server.imap_port), "-u", USER_FMT,
            "-U", str(clients), "-P", server.password, "-n", str(clients),
            "-t", str(seconds), "-w", str(WARMUP), "--src-ips", str(SRC_IPS),
            "--timeout", str(CMD_TIMEOUT), "--ramp-timeout", "300"]
    for name in mailgen.LOAD_FROM_NAMES:
        args += ["--search-from", name]
    root = server.imap_root()
    cpu0 = tree_cpu(root)
    rc, out = _imapload(args, timeout=seconds + WARMUP + 400)
    cpu = tree_cpu(root) - cpu0
    _check_errors(rc, out, "load")
    per = out["per_command"]
    rates = ", ".join("%s %.0f" % (k, v["per_sec"]) for k, v in per.items())
    lat = ", ".join("%s %.1f/%.1f" % (k, v["ms_p50"], v["ms_p99"])
                    for k, v in per.items())
    detail = ("%d clients (%d users), %.1fs measured after a %.1fs login ramp and "
              "%ds of warm-up: %d commands, %.0f/s; per command and second: %s; "
              "latency ms p50/p99: %s; %.1f MB in, %.1f MB out; server CPU over "
              "the whole run (ramp, warm-up, window, logout) %.1f s"
              % (clients, clients, out["seconds"], out["ramp_seconds"], WARMUP,
                 out["commands"], out["commands_per_sec"], rates, lat,
                 out["bytes_in"] / 1e6, out["bytes_out"] / 1e6, cpu))
    return out["commands_per_sec"], detail


def tree_cpu(root):
    """CPU seconds of a process tree: its processes' own time plus what
    their reaped children used (Dovecot's master reaps each imap process
    that exits, so their time stays counted)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in process_tree(root):
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])
        except (OSError, ValueError, IndexError):
            pass
    return total / tick


# ---------------------------------------------------------------------------
# Memory of idle connections

def _read_ready(p, deadline):
    """The imapload idle's first line (all connections idling), while
    watching the machine's free memory: below GUARD_FLOOR_SHARE of the
    total, imapload is told (SIGUSR1) to stop opening connections and
    reports what it holds.  Returns (line, guard note)."""
    total = meminfo("MemTotal") or 0
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    buf, note = b"", None
    try:
        while b"\n" not in buf:
            if time.monotonic() > deadline:
                raise BenchError("imapload idle: no connections ready in time")
            if not note and total and (meminfo("MemAvailable") or total) < total * GUARD_FLOOR_SHARE:
                note = ("stopped opening connections: the machine had less than "
                        "%d%% of its memory available" % (GUARD_FLOOR_SHARE * 100))
                log("memory guard: " + note)
                os.kill(p.pid, signal.SIGUSR1)
            if sel.select(timeout=1.0):
                chunk = os.read(p.stdout.fileno(), 65536)
                if not chunk:
                    raise BenchError("imapload idle exited early: %s"
                                     % p.stderr.read().decode(errors="replace")[-300:])
                buf += chunk
    finally:
        sel.close()
    return buf.split(b"\n", 1)[0].decode(), note


def _proc_names(root):
    names = collections.Counter()
    for pid in process_tree(root):
        try:
            with open("/proc/%d/comm" % pid) as f:
                names[f.read().strip()] += 1
        except OSError:
            pass
    return names


def idle_memory(server, n, users, settle=0, ramp_timeout=None, tls=False,
                user_fmt=USER_FMT):
    """PSS and RSS per idle IMAP connection: n connections that did LOGIN,
    SELECT INBOX (100 messages) and IDLE, spread over `users` users, held
    while the server's process tree is measured; (held - before) / held.
    `settle`: seconds to wait once all are idling (imap-hibernate moves a
    connection after it has idled for a while).  `tls`: over the server's
    implicit-TLS port (imaps) instead.  Returns (pss, rss, detail) in
    KiB."""
    root = server.imaps_root() if tls else server.imap_root()
    if not root:
        raise BenchError("no server process to measure")
    if ramp_timeout is None:
        # Dovecot starts two processes per connection: 30 a second on an
        # idle 2-core machine, a few a second on a busy one.
        ramp_timeout = max(900, n // 5)
    wait_tree_settled(root)
    before = tree_memory(root)
    args = [IMAPLOAD, "idle", "-p", str(server.imaps_port if tls else server.imap_port),
            "-u", user_fmt, "-U", str(min(n, users)), "-P", server.password,
            "-n", str(n), "--src-ips", str(SRC_IPS), "--in-flight", "64",
            "--timeout", "120", "--ramp-timeout", str(ramp_timeout)]
    if tls:
        args.append("--tls")
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        line, guard = _read_ready(p, t0 + ramp_timeout + 60)
        ramp = time.monotonic() - t0
        ready = json.loads(line)
        held = ready["held"]
        if held < n and not guard:
            raise BenchError("only %d of %d connections idling%s"
                             % (held, n, _first_errors(ready)))
        if held == 0:
            raise BenchError("no connection idling%s" % _first_errors(ready))
        if settle:
            time.sleep(settle)
        wait_tree_settled(root, timeout=120, quiet=2.0)
        after = tree_memory(root)
        names = _proc_names(root)
    finally:
        # Closing standard input ends the holding: imapload closes every
        # connection (no DONE: that would wake each hibernated one).
        try:
            p.stdin.close()
        except OSError:
            pass
        try:
            p.wait(timeout=300)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        stdout, stderr = p.stdout.read(), p.stderr.read()
    end = _last_json(stdout.decode(errors="replace"))
    if end is None:
        raise BenchError("imapload idle printed no final result: %s"
                         % stderr.decode(errors="replace")[-300:])
    if end["errors"]["dropped"] or end["errors"]["protocol"]:
        raise BenchError("%d connection(s) dropped, %d protocol error(s) while held%s"
                         % (end["errors"]["dropped"], end["errors"]["protocol"],
                            _first_errors(end)))
    pss = (after["pss"] - before["pss"]) / held
    rss = (after["rss"] - before["rss"]) / held
    procs = ", ".join("%d %s" % (c, k) for k, c in sorted(names.items()))
    detail = ("%d connections held (%d users, %d source addresses), opened in %.0fs; "
              "PSS %d -> %d KiB, RSS %d -> %d KiB, processes %d -> %d (%s)%s"
              % (held, min(n, users), SRC_IPS, ramp, before["pss"], after["pss"],
                 before["rss"], after["rss"], before["procs"], after["procs"], procs,
                 ("; " + guard) if guard else ""))
    return pss, rss, detail


# ---------------------------------------------------------------------------
# The 100,000-message mailbox

def big_mailbox(server, count):
    """Times SELECT and BIG_COMMANDS on the mailbox of BIG_USER (count
    messages, already filled), BIG_RUNS times each in one session.
    Returns {label: (first ms, repeat ms)}, with "SELECT" first, and a
    detail line; a command the server refused has a "FAIL: ..." string
    instead of its times."""
    args = ["cmd", "-p", str(server.imap_port), "-u", BIG_USER,
            "-P", server.password, "-r", str(BIG_RUNS), "--timeout", "1800"]
    for _, cmd in BIG_COMMANDS:
        args += ["-c", cmd]
    rc, out = _imapload(args, timeout=len(BIG_COMMANDS) * BIG_RUNS * 1800)
    e = out["errors"]
    if e["protocol"] or e["failed_clients"] or e["dropped"] or not out["results"]:
        _check_errors(2, out, "100k mailbox")
    if out["exists"] != count:
        raise BenchError("the mailbox holds %d messages, not %d" % (out["exists"], count))
    res = {"SELECT": (out["select_ms"], None)}
    notes = ["SELECT %.0f ms (%d messages)" % (out["select_ms"], out["exists"])]
    for (label, cmd), r in zip(BIG_COMMANDS, out["results"]):
        if r["command"] != cmd or len(r["ms"]) != BIG_RUNS:
            raise BenchError("imapload: unexpected results for %s" % cmd)
        if r["status"] != "O" * BIG_RUNS:
            # One command refused (NO/BAD) fails its own cells only.
            res[label] = "FAIL: %s answered %s" % (
                cmd, "/".join({"O": "OK", "N": "NO", "B": "BAD"}[c] for c in r["status"]))
            notes.append(res[label][6:])
            continue
        if label.startswith("FETCH") and r["fetches"] != count:
            raise BenchError("%s returned %d FETCH responses, not %d"
                             % (cmd, r["fetches"], count))
        if label.startswith("SORT") and r["numbers"] != count:
            raise BenchError("%s returned %d numbers, not %d" % (cmd, r["numbers"], count))
        repeat = statistics.median(r["ms"][1:])
        res[label] = (r["ms"][0], repeat)
        hits = (", %d hits" % r["numbers"]) if label.startswith("SEARCH") else ""
        notes.append("%s: runs %s ms, %.1f MB returned%s"
                     % (cmd, "/".join("%.0f" % m for m in r["ms"]),
                        r["bytes"] / 1e6, hits))
    return res, "; ".join(notes)


# ---------------------------------------------------------------------------
# imaptest

def imaptest_path():
    return shutil.which("imaptest")


def imaptest(server, clients, seconds, mbox, users):
    """imaptest's default mix (its own state tracking on) for `seconds`
    with `clients` clients over users 1..clients.  Returns (commands/s,
    detail): the sum of its "Totals:" counters over the time."""
    exe = imaptest_path()
    cmd = [exe, "host=127.0.0.1", "port=%d" % server.imap_port,
           "user=" + USER_FMT, "users=1-%d" % min(clients, users),
           "pass=" + server.password, "mbox=" + mbox,
           "secs=%d" % seconds, "clients=%d" % clients]
    p = run(cmd, timeout=seconds + 120, check=False)
    names, counts = parse_imaptest_totals(p.stdout)
    if counts is None:
        raise BenchError("imaptest (exit %d) printed no totals: %s"
                         % (p.returncode, (p.stderr or p.stdout).strip()[-300:]))
    errors = [l for l in (p.stdout + p.stderr).splitlines()
              if "Error:" in l or "error:" in l]
    total = sum(counts)
    detail = ("imaptest %d clients, %ds: %d commands (%s)%s"
              % (clients, seconds, total,
                 ", ".join("%s %d" % nc for nc in zip(names, counts)),
                 ("; %d error lines, first: %s" % (len(errors), errors[0][:200]))
                 if errors else ""))
    return total / seconds, detail


def parse_imaptest_totals(text):
    """(names, counts) from imaptest's output: after "Totals:", a line of
    short state names, lines of percentages, then the counts."""
    lines = text.splitlines()
    try:
        k = max(i for i, l in enumerate(lines) if l.strip() == "Totals:")
    except ValueError:
        return None, None
    names = lines[k + 1].split()
    for line in lines[k + 2:]:
        if "%" in line or not line.strip():
            continue
        nums = line.split()
        if len(nums) == len(names) and all(re.fullmatch(r"\d+", x) for x in nums):
            return names, [int(x) for x in nums]
        break
    return None, None
