"""The store under the server's feet: a user removed by the CLI while a
delivery to it is in flight, and an account database that is damaged,
found by `posthorn check` and refused at RCPT."""

import os
import time

import pytest

from conftest import (dot_stuff, make_message, pop3_fetch_wait, smtp_send,
                      smtp_session)


def deleted_files_held(pid):
    """Paths of deleted files the process still holds open."""
    out = []
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.endswith("(deleted)"):
            out.append(target)
    return out


@pytest.mark.parametrize("had_mail", [True, False])
def test_user_removed_mid_transaction(server, had_mail):
    if had_mail:
        # The account's database exists and the server has it open.
        assert smtp_send(server.smtp_port, "bob@example.com",
                         make_message("before"))[0] == 250
    with smtp_session(server.smtp_port) as c:
        assert c.cmd("MAIL FROM:<s@example.org>")[0] == 250
        code, text = c.cmd("RCPT TO:<bob@example.com>")
        assert code == 250, text
        server.cli("user", "remove", "bob@example.com")
        assert c.cmd("DATA")[0] == 354
        c.send(dot_stuff(make_message("during")))
        code, text = c.reply()
        assert code != 250, text
        assert code == 550 and "5.1.1" in text, text
        c.cmd("QUIT")
    held = [p for p in deleted_files_held(server.proc.pid) if "index.db" in p]
    assert held == [], held
    assert "result=gone" in server.log()
    # bob is the second user the fixture adds.
    assert not os.path.exists(os.path.join(server.data, "mail", "2"))
    # Others are not disturbed.
    assert smtp_send(server.smtp_port, "alice@example.com",
                     make_message("still"))[0] == 250


def test_user_removed_while_idle_frees_its_space(server):
    """No transaction in flight: the server's cached database handle for
    the removed account is let go of anyway, so the deleted file's space
    comes back without waiting for mail that will never come."""
    assert smtp_send(server.smtp_port, "bob@example.com",
                     make_message("before"))[0] == 250
    server.cli("user", "remove", "bob@example.com")
    deadline = time.time() + 30
    held = ["?"]
    while time.time() < deadline:
        held = [p for p in deleted_files_held(server.proc.pid)
                if "index.db" in p]
        if not held:
            break
        time.sleep(0.5)
    assert held == [], held
    assert smtp_send(server.smtp_port, "alice@example.com",
                     make_message("still"))[0] == 250


def only_account_dir(srv):
    """DATA/mail/<id> of the one account that has a database."""
    mail = os.path.join(srv.data, "mail")
    dirs = sorted(os.listdir(mail))
    assert len(dirs) == 1, dirs
    return os.path.join(mail, dirs[0])


def test_corrupt_account_database(make_server):
    srv = make_server()
    srv.cli("domain", "add", "example.com")
    srv.add_user("alice@example.com")
    srv.add_user("bob@example.com")
    srv.start()
    assert smtp_send(srv.smtp_port, "bob@example.com",
                     make_message("kept"))[0] == 250
    assert srv.stop() == 0
    r = srv.cli("check")
    assert "all is well" in r.stdout

    path = os.path.join(only_account_dir(srv), "index.db")
    with open(path, "r+b") as f:
        f.write(b"this is not what SQLite wrote here" * 3)

    r = srv.cli("check", check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "(bob@example.com): file is not a database" in r.stdout, r.stdout
    assert "what to do:" in r.stdout
    r = srv.cli("check", "alice@example.com", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    r = srv.cli("check", "bob@example.com", check=False)
    assert r.returncode == 1

    # The server finds it at RCPT: a temporary refusal before the data,
    # with SQLite's words in its log.
    srv.start()
    with smtp_session(srv.smtp_port) as c:
        assert c.cmd("MAIL FROM:<s@example.org>")[0] == 250
        code, text = c.cmd("RCPT TO:<bob@example.com>")
        assert 400 <= code < 500, text
        code, text = c.cmd("RCPT TO:<alice@example.com>")
        assert code == 250, text
        c.cmd("QUIT")
    assert "file is not a database" in srv.log()
    assert srv.stop() == 0, srv.log()[-3000:]


def test_check_usage(server):
    assert smtp_send(server.smtp_port, "alice@example.com",
                     make_message("one"))[0] == 250
    r = server.cli("check", "--full")
    assert r.returncode == 0 and "all is well" in r.stdout
    r = server.cli("check", "nobody@example.com", check=False)
    assert r.returncode == 1 and "no user" in r.stderr
    r = server.cli("check", "--bogus", check=False)
    assert r.returncode == 2
    assert pop3_fetch_wait(server.pop3_port, "alice@example.com")
