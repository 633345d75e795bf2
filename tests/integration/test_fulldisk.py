"""A full disk, on a small tmpfs this test mounts (root only): delivery is
refused with 452 4.3.1 and the cause in the log, nothing that got a 250 is
lost, deleting over POP3 still works and gives the space back, and
delivery resumes."""

import os
import re
import pathlib
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import (Server, body_of, data_home, dot_stuff, make_message, pop3_login,
                      pop3_retr_all, quit_and_close, smtp_send, smtp_session)

DISK_MB = 24


@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs of DISK_MB MiB; yields (mount point, servers to stop before
    it is unmounted)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    if shutil.which("mount") is None or shutil.which("umount") is None:
        pytest.skip("mount(8) is not installed")
    # Where the server's unprivileged user may enter.
    mnt = pathlib.Path(tempfile.mkdtemp(dir=data_home()))
    os.chmod(mnt, 0o711)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o",
                        "size=%dm,mode=0711" % DISK_MB, "posthorn-test",
                        str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % r.stderr.strip())
    servers = []
    try:
        yield mnt, servers
    finally:
        for s in servers:
            s.stop()
        subprocess.run(["umount", str(mnt)], check=True)
        os.rmdir(mnt)


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def test_full_disk(small_disk):
    mnt, servers = small_disk
    srv = Server(mnt / "data", exact=True)
    servers.append(srv)
    srv.cli("domain", "add", "example.com")
    srv.add_user("alice@example.com")
    assert os.path.exists(mnt / "data" / "reserve")
    srv.start()

    body = (b"x" * 76 + b"\r\n") * 1300     # about 100 KB
    accepted = {}
    with smtp_session(srv.smtp_port) as c:
        for i in range(DISK_MB * 12):
            tag = "fill-%d" % i
            msg = make_message(tag, body)
            assert c.cmd("MAIL FROM:<s@example.org>")[0] == 250
            assert c.cmd("RCPT TO:<alice@example.com>")[0] == 250
            assert c.cmd("DATA")[0] == 354
            c.send(dot_stuff(msg))
            code, text = c.reply()
            if code == 250:
                accepted[tag] = msg
                continue
            assert code == 452 and "4.3.1" in text, text
            break
        else:
            pytest.fail("%d MiB never filled up" % DISK_MB)
        c.cmd("QUIT")
    assert len(accepted) > 10
    log = srv.log()
    assert "result=full" in log and "database or disk is full" in log, \
        log[-3000:]
    assert "result=full" in log

    # A large message is spooled to a file as it arrives: with no room
    # for the spool either, it gets the same 452, and the log says why.
    big = (b"y" * 998 + b"\r\n") * 4000      # 4 MB, past the memory part
    with smtp_session(srv.smtp_port) as c:
        assert c.cmd("MAIL FROM:<s@example.org>")[0] == 250
        assert c.cmd("RCPT TO:<alice@example.com>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send(dot_stuff(make_message("big", big)))
        code, text = c.reply()
        assert code == 452 and "4.3.1" in text, text
        c.cmd("QUIT")
    # Its log line, when the log (on the same full file system) could
    # still be written, says the disk is full: the spool's write or, when
    # the spool still found room, the database's.  It follows the reply.
    def big_line():
        lines = [l for l in srv.log().splitlines() if " message id=" in l
                 and int(re.search(r" size=(\d+)", l).group(1)) >= len(big)]
        return lines[-1] if lines else None
    deadline = time.time() + 3
    while big_line() is None and time.time() < deadline:
        time.sleep(0.2)
    last = big_line()
    if last is not None:
        assert "result=full" in last and (
            "No space left on device" in last or "disk is full" in last), last
    full = free_bytes(mnt)

    # Every message that got its 250 is there, whole; and deleting them
    # works on the full disk.
    with pop3_login(srv.pop3_port, "alice@example.com") as c:
        got = pop3_retr_all(c, delete=True)
        quit_and_close(c)
    stored = {}
    for m in got:
        rest = body_of(m)
        tag = rest.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode()
        stored[tag] = rest
    assert stored == accepted
    # The space came back to the file system, not only to alice's
    # database: at least half of what was stored.
    freed = free_bytes(mnt) - full
    assert freed > len(accepted) * len(body) // 2, (freed, full)

    code, text = smtp_send(srv.smtp_port, "alice@example.com",
                           make_message("after", body))
    assert code == 250, text
    with pop3_login(srv.pop3_port, "alice@example.com") as c:
        again = pop3_retr_all(c)
        quit_and_close(c)
    assert len(again) == 1 and b"Subject: after\r\n" in again[0]
    assert srv.stop() == 0, srv.log()[-3000:]
