"""Small helpers shared by the benchmark: logging, waiting, processes, memory.

Everything here is bounded: every wait has a deadline, so a hung server turns
into a reported failure instead of a hung benchmark.
"""

import os
import signal
import socket
import subprocess
import sys
import time


class BenchError(Exception):
    """A failure of one measurement or one server; reported, not fatal."""


_T0 = time.monotonic()


def log(msg):
    """Progress line on stderr, prefixed with the elapsed time of the run."""
    sys.stderr.write("[%6.1fs] %s\n" % (time.monotonic() - _T0, msg))
    sys.stderr.flush()


def run(cmd, timeout=120, check=True, input=None, env=None):
    """Run a command, capture its output, bounded by `timeout` seconds."""
    try:
        p = subprocess.run(cmd, input=input, env=env, timeout=timeout,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    except subprocess.TimeoutExpired:
        raise BenchError("%s: timed out after %ss" % (" ".join(cmd), timeout))
    if check and p.returncode != 0:
        raise BenchError("%s: exit %d: %s" % (" ".join(cmd), p.returncode,
                                              (p.stderr or p.stdout).strip()[-800:]))
    return p


def wait_port(host, port, timeout, alive=None):
    """Wait until host:port accepts a TCP connection.

    `alive` is an optional callable; if it returns False (the server process
    died) we stop waiting at once instead of sitting out the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise BenchError("server exited before listening on %s:%d" % (host, port))
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise BenchError("nothing listening on %s:%d after %ss" % (host, port, timeout))


def port_is_free(host, port):
    """True if nobody listens on host:port (so our private instance can)."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return False
    except OSError:
        return True


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def wait_pid_gone(pid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        # Reap it if it is our child (otherwise it stays a zombie and "alive").
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    return not pid_alive(pid)


def kill_pids(pids, timeout=10):
    """SIGTERM the given PIDs, then SIGKILL the ones still there."""
    pids = [p for p in pids if p and pid_alive(p)]
    for p in pids:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    for p in pids:
        wait_pid_gone(p, max(0.1, deadline - time.monotonic()))
    for p in pids:
        if pid_alive(p):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass


def read_pidfile(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# ---------------------------------------------------------------------------
# Process trees and memory.  A multi-process server (Postfix, Dovecot) is
# measured as its whole tree: the master plus every descendant, so processes
# spawned for the new sessions are counted wherever they hang in the tree.

def _ppid_map():
    parents = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                data = f.read()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces: split
        # after the last ')'.
        rest = data[data.rfind(")") + 2:].split()
        parents[int(name)] = int(rest[1])
    return parents


def process_tree(root_pid):
    """PIDs of root_pid and all its descendants (empty if root is gone)."""
    if not root_pid or not pid_alive(root_pid):
        return []
    parents = _ppid_map()
    children = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def smaps_rollup(pid):
    """(rss_kib, pss_kib) of one process, or None if it vanished."""
    rss = pss = 0
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except (OSError, ValueError):
        return None
    return rss, pss


def tree_memory(root_pid):
    """Sum of RSS and PSS (KiB) over a process tree, and its process count."""
    rss = pss = n = 0
    for pid in process_tree(root_pid):
        m = smaps_rollup(pid)
        if m is None:
            continue
        rss += m[0]
        pss += m[1]
        n += 1
    return {"rss": rss, "pss": pss, "procs": n}


def statm_rss(pid):
    """RSS (KiB) of one process from /proc/PID/statm, or None if it
    vanished.  Much cheaper than smaps_rollup, which walks the page tables
    (tenths of a second for a process of a few GiB): for frequent samples."""
    try:
        with open("/proc/%d/statm" % pid) as f:
            return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except (OSError, ValueError, IndexError):
        return None


def wait_tree_settled(root_pid, timeout=15, quiet=1.0):
    """Wait until the tree's process count stops changing for `quiet` seconds.

    Dovecot's login processes exit after handing a session over, Postfix
    spawns smtpd on demand: measuring in the middle of that is noise."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        n = len(process_tree(root_pid))
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.1)


def raise_nofile(want):
    """Raise RLIMIT_NOFILE for us and the servers we start (they inherit it)."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want and os.geteuid() == 0:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (ValueError, OSError):
            pass
    new_soft = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if new_soft > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def meminfo(key):
    """A /proc/meminfo figure in KiB (e.g. "MemAvailable"), or None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def unread_bytes(port):
    """Bytes sent to 127.0.0.1:port over TCP that the server has not read
    yet: what waits in the clients' send queues (rem port = port) plus what
    waits in the server's receive queues (local port = port), from
    /proc/net/tcp.  Zero means the server process has taken in every byte."""
    total = 0
    want = ":%04X" % port
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            if len(parts) < 5 or parts[3] != "01":      # ESTABLISHED only
                continue
            tx, rx = parts[4].split(":")
            if parts[1].endswith(want):
                total += int(rx, 16)
            elif parts[2].endswith(want):
                total += int(tx, 16)
    return total
