"""Credentials: app passwords made with the CLI and used by real IMAP and
POP3 clients (imaplib, poplib), bare crypt(3) hashes in `user import`, and
login by local part."""

import imaplib
import poplib
import re
import subprocess

import pytest

from conftest import PASSWORD, make_message, smtp_send
import test_cli as cli_helpers

SHOWN = re.compile(r"^[a-z2-9]{4}(-[a-z2-9]{4}){3}$")


def imap_login(srv, user, password):
    """Logs in with imaplib and opens INBOX; returns None, or the NO text
    (as bytes) when the login is refused."""
    m = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=30)
    try:
        m.login(user, password)
    except imaplib.IMAP4.error as e:
        m.shutdown()
        return str(e)
    typ, _ = m.select("INBOX")
    assert typ == "OK"
    m.logout()
    return None


def pop3_login(srv, user, password):
    """Logs in with poplib and reads the mailbox size; returns None, or
    the -ERR line when the login is refused."""
    p = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=30)
    try:
        p.user(user)
        p.pass_(password)
    except poplib.error_proto as e:
        p.close()
        return e.args[0].decode()
    p.stat()
    p.quit()
    return None


def app_add(srv, user, name):
    r = srv.cli("user", "app-password", "add", user, name)
    shown = r.stdout.strip()
    assert SHOWN.match(shown), r.stdout
    # Shown once, on stdout alone; what it is goes to stderr.
    assert "shown only this once" in r.stderr
    return shown


def app_list(srv, user):
    return srv.cli("user", "app-password", "list", user).stdout.splitlines()


def test_app_password_logs_in_until_removed(server):
    phone = app_add(server, "alice@example.com", "phone")
    laptop = app_add(server, "alice@example.com", "laptop")
    assert phone != laptop
    wrong_imap = imap_login(server, "alice@example.com", "wrong password")
    wrong_pop3 = pop3_login(server, "alice@example.com", "wrong password")
    assert wrong_imap and wrong_pop3
    listed = app_list(server, "alice@example.com")
    # Newest first.
    assert [line.split()[0] for line in listed] == ["laptop", "phone"]
    assert all(re.search(r" created=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "
                         r"last_used=never$", line) for line in listed), listed
    # Both clients, with the dashes and without; twice, so the second
    # login is a hit in the verification cache.
    for _ in range(2):
        assert imap_login(server, "alice@example.com", phone) is None
        assert pop3_login(server, "alice@example.com",
                          phone.replace("-", "")) is None
    assert imap_login(server, "alice@example.com", laptop.upper()) is None
    # The main password still works; the app password is alice's only.
    assert imap_login(server, "alice@example.com", PASSWORD) is None
    assert imap_login(server, "bob@example.com", phone) == wrong_imap
    # The password itself is never shown again, nor logged.
    listed = app_list(server, "alice@example.com")
    assert phone not in "\n".join(listed)
    assert phone not in server.log() and phone.replace("-", "") not in \
        server.log()
    used = [line for line in listed if line.startswith("phone ")]
    assert re.search(r" last_used=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$",
                     used[0]), listed

    r = server.cli("user", "app-password", "remove", "alice@example.com",
                   "phone")
    assert r.stdout.strip() == \
        "removed app password phone of alice@example.com"
    # At once, though the cache remembered it: the same answer as a
    # wrong password, in both protocols.
    assert imap_login(server, "alice@example.com", phone) == wrong_imap
    assert pop3_login(server, "alice@example.com", phone) == wrong_pop3
    assert imap_login(server, "alice@example.com", laptop) is None
    assert [line.split()[0] for line in app_list(
        server, "alice@example.com")] == ["laptop"]


def test_app_password_reads_mail(server):
    code, _ = smtp_send(server.smtp_port, "alice@example.com",
                        make_message("for-the-phone"))
    assert code == 250
    phone = app_add(server, "alice@example.com", "phone")
    m = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=30)
    m.login("alice@example.com", phone)
    m.select("INBOX")
    typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK" and b"for-the-phone" in data[0][1]
    m.logout()


def failed(r, code=1):
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    return r.stderr


def test_app_password_cli_errors(server):
    app_add(server, "alice@example.com", "phone")
    err = failed(server.cli("user", "app-password", "add",
                            "alice@example.com", "phone", check=False))
    assert "already has an app password named phone" in err
    err = failed(server.cli("user", "app-password", "add",
                            "nobody@example.com", "phone", check=False))
    assert "no user nobody@example.com" in err
    for bad in ["", "my phone", "a/b", "x" * 65, "caf\u00e9"]:
        err = failed(server.cli("user", "app-password", "add",
                                "alice@example.com", bad, check=False))
        assert "name is 1 to 64 letters" in err, bad
    err = failed(server.cli("user", "app-password", "remove",
                            "alice@example.com", "tablet", check=False))
    assert "has no app password named tablet" in err
    err = failed(server.cli("user", "app-password", "list",
                            "nobody@example.com", check=False))
    assert "no user" in err
    for args in [(), ("add", "alice@example.com"), ("list",),
                 ("rename", "alice@example.com", "phone")]:
        r = server.cli("user", "app-password", *args, check=False)
        assert r.returncode == 2 and "app-password add" in r.stderr, args
    # None of that added anything.
    assert [line.split()[0] for line in app_list(
        server, "alice@example.com")] == ["phone"]


def test_app_password_limit(server):
    for i in range(20):
        server.cli("user", "app-password", "add", "bob@example.com",
                   "d%d" % i)
    err = failed(server.cli("user", "app-password", "add",
                            "bob@example.com", "d20", check=False))
    assert "remove one first" in err
    assert len(app_list(server, "bob@example.com")) == 20


def test_removing_the_user_removes_its_app_passwords(server):
    phone = app_add(server, "bob@example.com", "phone")
    assert pop3_login(server, "bob@example.com", phone) is None
    server.cli("user", "remove", "bob@example.com")
    server.add_user("bob@example.com")
    assert app_list(server, "bob@example.com") == []
    assert pop3_login(server, "bob@example.com", phone) is not None
    assert pop3_login(server, "bob@example.com", PASSWORD) is None


# ---- user import: bare crypt(3) hashes ----

def test_import_bare_crypt_hashes(server, tmp_path):
    hashes = {
        "sha512": cli_helpers.openssl_hash("sha512 pw", "-6"),
        "sha256": cli_helpers.openssl_hash("sha256 pw", "-5"),
        "md5": cli_helpers.openssl_hash("md5 pw", "-1"),
        "yescrypt": cli_helpers.libcrypt_hash("yescrypt pw", "$y$"),
        "bcryptb": cli_helpers.libcrypt_hash("bcryptb pw", "$2b$"),
        "bcrypty": cli_helpers.libcrypt_hash("bcrypty pw", "$2y$"),
        "bcrypta": cli_helpers.libcrypt_hash("bcrypta pw", "$2a$"),
    }
    assert hashes["sha512"].startswith("$6$") and \
        hashes["md5"].startswith("$1$")
    lines = ["%s@example.com,%s" % (k, h) for k, h in hashes.items()]
    # {PLAIN} forces plain text, even for a whole valid hash.
    lines.append("plain@example.com,{PLAIN}%s" % hashes["sha512"])
    path = cli_helpers.write(tmp_path, "users.csv", "\n".join(lines) + "\n")
    r = server.cli("user", "import", path)
    assert r.stdout.strip() == "imported 8 user(s)", r.stderr
    # MD5-crypt (line 3) is taken, with a warning.
    assert re.search(r":3: warning: MD5-crypt is a weak hash", r.stderr), \
        r.stderr
    for user, h in hashes.items():
        address = user + "@example.com"
        assert cli_helpers.stored_hash(server, address) == "{CRYPT}" + h
    # Logins over both protocols; the hash text itself is no password.
    for i, user in enumerate(hashes):
        address = user + "@example.com"
        login = imap_login if i % 2 else pop3_login
        assert login(server, address, hashes[user]) is not None, user
        assert login(server, address, user + " pw") is None, user
        # Replaced with argon2id at that first login.
        assert cli_helpers.stored_hash(server, address).startswith(
            "$argon2id$"), user
        assert pop3_login(server, address, user + " pw") is None, user
    assert imap_login(server, "plain@example.com", hashes["sha512"]) is None
    assert imap_login(server, "plain@example.com", "sha512 pw") is not None


@pytest.mark.parametrize("field,reason", [
    ("CUT", "not one crypt(3)"),
    ("$6$", "not one crypt(3)"),
    ("$6$rounds=5000000$abcdefgh$x", "rounds above"),
    ("$2b$31$abcdefghijklmnopqrstuv", "cost above 15"),
    ("$y$jFT$abc$def", "above 64 MiB"),
])
def test_import_damaged_bare_hash_is_refused(server, tmp_path, field,
                                             reason):
    """A field shaped like a hash that is not a usable one is an error,
    never a plain-text password equal to the hash's text."""
    if field == "CUT":
        field = cli_helpers.openssl_hash("pw", "-6")[:-3]
    path = cli_helpers.write(tmp_path, "u.csv",
                             "carol@example.com,ok\n"
                             "dave@example.com,%s\n" % field)
    r = server.cli("user", "import", path, check=False)
    assert r.returncode == 1
    assert "%s:2: starts like a crypt(3) hash" % path in r.stderr, r.stderr
    assert reason in r.stderr and "{PLAIN}" in r.stderr
    assert "nothing imported" in r.stderr
    assert "dave@example.com" not in server.cli("user", "list").stdout


# ---- login by local part ----

def test_login_by_local_part(server):
    assert imap_login(server, "alice", PASSWORD) is None
    assert pop3_login(server, "Bob", PASSWORD) is None
    wrong = imap_login(server, "alice@example.com", "wrong")
    assert imap_login(server, "alice", "wrong") == wrong
    assert imap_login(server, "nobody", PASSWORD) == wrong
    # An app password too.
    phone = app_add(server, "alice@example.com", "phone")
    assert pop3_login(server, "alice", phone) is None
    # With a second domain, "alice" is ambiguous: full addresses only.
    server.cli("domain", "add", "example.org")
    assert imap_login(server, "alice", PASSWORD) == wrong
    assert pop3_login(server, "alice", PASSWORD) is not None
    assert imap_login(server, "alice@example.com", PASSWORD) is None


def test_login_by_local_part_off(custom):
    srv = custom("auth.login_local_part=no")
    assert imap_login(srv, "alice", PASSWORD) is not None
    assert pop3_login(srv, "alice", PASSWORD) is not None
    assert imap_login(srv, "alice@example.com", PASSWORD) is None
    r = srv.cli("config")
    assert "login_local_part = no" in r.stdout
