"""The admin commands (`posthorn domain|user|alias ...`): exit codes,
messages, what they change, and that a running server sees each change at
once."""

import ctypes
import ctypes.util
import os
import re
import subprocess
import sys

import pytest

from conftest import (BIN, ENV, PASSWORD, make_message, pop3_can_login,
                      pop3_fetch, server_user, smtp_send, smtp_session)


@pytest.fixture
def srv(make_server):
    """A store with domain example.com and no users; not serving."""
    s = make_server()
    s.cli("domain", "add", "example.com")
    return s


def users(s, *args):
    return s.cli("user", "list", *args).stdout.splitlines()


def addresses(s, *args):
    return [line.split()[0] for line in users(s, *args)]


def rcpt_code(port, rcpt):
    """The reply code to RCPT TO:<rcpt>."""
    with smtp_session(port) as c:
        code, text = c.cmd("MAIL FROM:<sender@example.org>")
        assert code == 250, text
        code, _ = c.cmd("RCPT TO:<%s>" % rcpt)
        c.cmd("QUIT")
        return code


def failed(r, code=1):
    """Asserts exit `code` with a message on stderr; returns stderr."""
    assert r.returncode == code, "exit %d, stdout %r, stderr %r" % (
        r.returncode, r.stdout, r.stderr)
    assert r.stderr.strip(), "no message on stderr"
    return r.stderr


# ---- usage ----

@pytest.mark.parametrize("args", [
    [], ["bogus"], ["domain"], ["domain", "add"], ["domain", "frob", "x.org"],
    ["domain", "list", "extra"], ["user"], ["user", "frob", "a@example.com"],
    ["user", "remove"], ["user", "list", "a", "b"], ["alias"],
    ["alias", "add", "a@example.com"], ["alias", "frob"], ["serve", "extra"],
    ["config", "extra"],
])
def test_usage_errors_exit_2(srv, args):
    r = srv.cli(*args, check=False)
    err = failed(r, 2)
    assert "usage" in err or "unknown command" in err, err


def test_unknown_option_exit_2():
    r = subprocess.run([BIN, "--bogus", "domain", "list"], capture_output=True,
                       text=True, env=ENV, timeout=60)
    assert r.returncode == 2
    assert "usage" in r.stderr


def test_unknown_command_named(srv):
    err = failed(srv.cli("bogus", check=False), 2)
    assert "unknown command 'bogus'" in err


def test_help_and_version():
    r = subprocess.run([BIN, "--help"], capture_output=True, text=True,
                       env=ENV, timeout=60)
    assert r.returncode == 0 and "usage: posthorn" in r.stdout
    r = subprocess.run([BIN, "version"], capture_output=True, text=True,
                       env=ENV, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("posthorn ")


# ---- domains ----

def test_domain_add_list_remove(srv):
    r = srv.cli("domain", "add", "Example.ORG")
    assert r.stdout.strip() == "added domain example.org"
    r = srv.cli("domain", "add", "example.org")
    assert r.returncode == 0
    assert "domain example.org already exists" in r.stdout
    assert srv.cli("domain", "list").stdout.split() == ["example.com",
                                                        "example.org"]
    r = srv.cli("domain", "remove", "EXAMPLE.org")
    assert r.stdout.strip() == "removed domain example.org"
    assert srv.cli("domain", "list").stdout.split() == ["example.com"]
    err = failed(srv.cli("domain", "remove", "example.org", check=False))
    assert "no domain example.org" in err


@pytest.mark.parametrize("name", ["bad_domain!", "-x.example", "a..b",
                                  "x" * 64 + ".example", ""])
def test_domain_add_bad_name(srv, name):
    err = failed(srv.cli("domain", "add", name, check=False))
    assert "domain '%s'" % name in err
    assert srv.cli("domain", "list").stdout.split() == ["example.com"]


def test_domain_remove_refused_while_users_or_aliases_remain(srv):
    srv.add_user("alice@example.com")
    err = failed(srv.cli("domain", "remove", "example.com", check=False))
    assert "example.com" in err and "1 user(s)" in err
    assert srv.cli("domain", "list").stdout.split() == ["example.com"]
    assert addresses(srv) == ["alice@example.com"]

    srv.cli("alias", "add", "@example.com", "alice@example.com")
    srv.cli("user", "remove", "alice@example.com")
    err = failed(srv.cli("domain", "remove", "example.com", check=False))
    assert "alias" in err
    assert srv.cli("domain", "list").stdout.split() == ["example.com"]

    srv.cli("alias", "remove", "@example.com")
    srv.cli("domain", "remove", "example.com")
    assert srv.cli("domain", "list").stdout == ""


# ---- users ----

def test_user_add_to_unknown_domain_refused(srv):
    r = srv.cli("user", "add", "alice@example.net", input=PASSWORD + "\n",
                check=False)
    err = failed(r)
    assert "example.net" in err and "not one of ours" in err
    assert users(srv) == []


def test_user_add_twice_refused(srv):
    r = srv.cli("user", "add", "alice@example.com", input=PASSWORD + "\n")
    assert r.stdout.strip() == "added user alice@example.com"
    r = srv.cli("user", "add", "ALICE@example.com", input="other\n",
                check=False)
    assert "alice@example.com already exists" in failed(r)
    assert users(srv) == ["alice@example.com"]


@pytest.mark.parametrize("address", [
    "a@@b", "a b@c", "@x", "x" * 65 + "@example.com", "alice", "alice@",
    "alice@example..com", ".alice@example.com", "al..ice@example.com",
    "alice@exa mple.com", "alice@[127.0.0.1]", "alice<@example.com",
])
def test_user_add_invalid_address_refused(srv, address):
    r = srv.cli("user", "add", address, input=PASSWORD + "\n", check=False)
    err = failed(r)
    assert "'%s'" % address in err, err
    assert users(srv) == []


def test_local_part_of_64_octets_is_fine(srv):
    address = "x" * 64 + "@example.com"
    srv.add_user(address)
    assert users(srv) == [address]


def test_idn_canonicalization(make_server):
    s = make_server()
    r = s.cli("domain", "add", "BÜCHER.example")
    assert r.stdout.strip() == "added domain xn--bcher-kva.example"
    r = s.cli("user", "add", "Anna@BÜCHER.example", input=PASSWORD + "\n")
    assert r.stdout.strip() == "added user anna@xn--bcher-kva.example"
    assert users(s) == ["anna@xn--bcher-kva.example"]
    # The same account whichever way it is written.
    r = s.cli("user", "add", "anna@xn--bcher-kva.example", input="x\n",
              check=False)
    assert "already exists" in failed(r)
    assert addresses(s, "bücher.example") == ["anna@xn--bcher-kva.example"]
    assert addresses(s, "XN--BCHER-KVA.example") == [
        "anna@xn--bcher-kva.example"]
    s.start()
    code, text = smtp_send(s.smtp_port, "anna@xn--bcher-kva.example",
                           make_message("idn"))
    assert code == 250, text
    # Either form logs in to the one mailbox.
    msgs = pop3_fetch(s.pop3_port, "Anna@BÜCHER.example")
    assert len(msgs) == 1 and b"Subject: idn\r\n" in msgs[0]
    assert pop3_can_login(s.pop3_port, "anna@xn--bcher-kva.example")
    assert s.stop() == 0


CAFE_NFC = "caf\u00e9@example.com"       # U+00E9
CAFE_NFD = "cafe\u0301@example.com"      # e + COMBINING ACUTE ACCENT


def test_utf8_local_parts_are_one_account_in_nfc(make_server, tmp_path):
    """RFC 6532 3.1: composed and decomposed spellings are one account, in
    user add, alias add, import, RCPT and login alike."""
    s = make_server()
    s.cli("domain", "add", "example.com")
    r = s.cli("user", "add", CAFE_NFD, input=PASSWORD + "\n")
    assert r.stdout.strip() == "added user " + CAFE_NFC
    assert users(s) == [CAFE_NFC]
    r = s.cli("user", "add", CAFE_NFC, input="x\n", check=False)
    assert "already exists" in failed(r)
    r = s.cli("alias", "add", "rene\u0301@example.com", CAFE_NFD)
    assert r.stdout.strip() == "added alias ren\u00e9@example.com"
    assert s.cli("alias", "list").stdout.splitlines() == [
        "ren\u00e9@example.com " + CAFE_NFC]
    path = write(tmp_path, "u.csv", "CAFE\u0301@example.com,pw\n")
    assert "user already exists" in failed(s.cli("user", "import", path,
                                                 check=False))
    path = write(tmp_path, "u2.csv", "zoe\u0308@example.com,zoe pw\n")
    s.cli("user", "import", path)
    assert addresses(s) == [CAFE_NFC, "zo\u00eb@example.com"]
    s.start()
    with smtp_session(s.smtp_port) as c:
        assert c.cmd("MAIL FROM:<sender@example.org> SMTPUTF8")[0] == 250
        for rcpt in (CAFE_NFD, "ren\u00e9@example.com"):
            code, text = c.cmd("RCPT TO:<%s>" % rcpt)
            assert code == 250, text
        assert c.cmd("DATA")[0] == 354
        c.send(b"Subject: nfc\r\n\r\nhi\r\n.\r\n")
        assert c.reply()[0] == 250
        c.cmd("QUIT")
    # Either spelling logs in to the one mailbox, which got the message
    # once (one account, even through the alias).
    msgs = pop3_fetch(s.pop3_port, CAFE_NFD)
    assert len(msgs) == 1 and b"Subject: nfc\r\n" in msgs[0]
    assert pop3_can_login(s.pop3_port, CAFE_NFC)
    assert pop3_can_login(s.pop3_port, "zo\u00eb@example.com", "zoe pw")
    assert s.stop() == 0


@pytest.mark.parametrize("raw", [
    b"caf\xc3@example.com",             # cut sequence
    b"caf\xc0\xa9@example.com",         # overlong
    b"caf\xed\xa0\x80@example.com",     # surrogate
    b"caf\xf4\x90\x80\x80@example.com",  # past U+10FFFF
])
def test_invalid_utf8_local_part_refused(make_server, raw):
    s = make_server()
    s.cli("domain", "add", "example.com")
    # What the command echoes of the bad address is not UTF-8 either.
    r = subprocess.run(s.args() + ["user", "add", raw],
                       input=(PASSWORD + "\n").encode(), capture_output=True,
                       env=ENV, timeout=120)
    assert r.returncode == 1, r
    assert b"invalid UTF-8 in local part" in r.stderr, r.stderr
    assert users(s) == []
    s.start()
    with smtp_session(s.smtp_port) as c:
        assert c.cmd("MAIL FROM:<sender@example.org> SMTPUTF8")[0] == 250
        c.send(b"RCPT TO:<" + raw + b">\r\n")
        code, text = c.reply()
        assert code == 553 and "invalid UTF-8 in local part" in text, text
        c.cmd("QUIT")
    assert s.stop() == 0


def test_user_list_and_list_domain(srv):
    srv.cli("domain", "add", "example.org")
    srv.add_user("zed@example.com")
    srv.add_user("Bob@Example.org", PASSWORD, "--quota", "10M", "--name",
                 "Bob Builder")
    srv.add_user("alice@example.com", PASSWORD, "--quota", "1024")
    assert users(srv) == [
        "alice@example.com quota=1024",
        "zed@example.com",
        'bob@example.org quota=10485760 name="Bob Builder"',
    ]
    assert addresses(srv, "example.com") == ["alice@example.com",
                                             "zed@example.com"]
    assert addresses(srv, "EXAMPLE.ORG") == ["bob@example.org"]
    r = srv.cli("user", "list", "example.net")
    assert r.returncode == 0 and r.stdout == ""
    failed(srv.cli("user", "list", "bad_domain!", check=False))


@pytest.mark.parametrize("quota", ["lots", "-5", "10X", "5MB", ""])
def test_user_add_bad_quota(srv, quota):
    r = srv.cli("user", "add", "a@example.com", "--quota", quota,
                input=PASSWORD + "\n", check=False)
    assert "bad quota" in failed(r)
    assert users(srv) == []


def test_user_add_unknown_option(srv):
    r = srv.cli("user", "add", "a@example.com", "--frob", input="x\n",
                check=False)
    assert "--frob" in failed(r, 2)
    assert users(srv) == []


def test_passwd_changes_the_password(server):
    port = server.pop3_port
    assert pop3_can_login(port, "alice@example.com", PASSWORD)
    r = server.cli("user", "passwd", "Alice@Example.com",
                   input="new secret\n")
    assert r.stdout.strip() == "changed password of alice@example.com"
    assert pop3_can_login(port, "alice@example.com", "new secret")
    assert not pop3_can_login(port, "alice@example.com", PASSWORD)
    # bob is untouched
    assert pop3_can_login(port, "bob@example.com", PASSWORD)

    # No password: nothing changes.
    err = failed(server.cli("user", "passwd", "alice@example.com", input="",
                            check=False))
    assert "no password" in err
    assert pop3_can_login(port, "alice@example.com", "new secret")

    err = failed(server.cli("user", "passwd", "nobody@example.com",
                            input="x\n", check=False))
    assert "no user nobody@example.com" in err
    failed(server.cli("user", "passwd", "a@@b", input="x\n", check=False))


def test_remove_deletes_the_user_and_its_mail(server):
    code, _ = smtp_send(server.smtp_port, "bob@example.com",
                        make_message("for-bob"))
    assert code == 250
    assert len(pop3_fetch(server.pop3_port, "bob@example.com")) == 1

    r = server.cli("user", "remove", "BOB@example.com")
    assert r.stdout.strip() == ("removed user bob@example.com and all its "
                                "mail")
    assert addresses(server) == ["alice@example.com"]
    assert not pop3_can_login(server.pop3_port, "bob@example.com")
    assert rcpt_code(server.smtp_port, "bob@example.com") == 550

    # A new account of the same name starts empty.
    server.add_user("bob@example.com")
    assert pop3_fetch(server.pop3_port, "bob@example.com") == []

    server.cli("user", "remove", "bob@example.com")
    err = failed(server.cli("user", "remove", "bob@example.com", check=False))
    assert "no user bob@example.com" in err
    failed(server.cli("user", "remove", "a b@c", check=False))


# ---- aliases ----

def test_alias_add_list_remove(server):
    port = server.smtp_port
    r = server.cli("alias", "add", "Info@Example.com", "alice@example.com",
                   "BOB@example.com")
    assert r.stdout.strip() == "added alias info@example.com"
    assert server.cli("alias", "list").stdout.splitlines() == [
        "info@example.com alice@example.com",
        "info@example.com bob@example.com",
    ]
    r = server.cli("alias", "add", "info@example.com", "alice@example.com")
    assert r.returncode == 0 and "already has these targets" in r.stdout

    code, _ = smtp_send(port, "info@example.com", make_message("to-info"))
    assert code == 250
    for user in ("alice@example.com", "bob@example.com"):
        msgs = pop3_fetch(server.pop3_port, user)
        assert len(msgs) == 1 and b"Subject: to-info\r\n" in msgs[0], user

    r = server.cli("alias", "remove", "info@example.com")
    assert r.stdout.strip() == "removed alias info@example.com"
    assert server.cli("alias", "list").stdout == ""
    assert rcpt_code(port, "info@example.com") == 550
    err = failed(server.cli("alias", "remove", "info@example.com",
                            check=False))
    assert "no alias info@example.com" in err


def test_alias_errors(server):
    err = failed(server.cli("alias", "add", "fwd@example.com",
                            "someone@example.net", check=False))
    assert "someone@example.net" in err and "example.net" in err
    err = failed(server.cli("alias", "add", "fwd@example.com",
                            "alice@example.com", "x@gmail.example",
                            check=False))
    assert "x@gmail.example" in err
    # Nothing half-added.
    assert server.cli("alias", "list").stdout == ""
    assert rcpt_code(server.smtp_port, "fwd@example.com") == 550

    err = failed(server.cli("alias", "add", "alice@example.com",
                            "bob@example.com", check=False))
    assert "alice@example.com is a user" in err
    err = failed(server.cli("alias", "add", "x@example.net",
                            "bob@example.com", check=False))
    assert "example.net" in err
    failed(server.cli("alias", "add", "a@@b", "bob@example.com", check=False))
    err = failed(server.cli("alias", "add", "x@example.com", "a b@c",
                            check=False))
    assert "'a b@c'" in err
    failed(server.cli("alias", "add", "@bad_domain!", "bob@example.com",
                      check=False))
    assert server.cli("alias", "list").stdout == ""


def test_catch_all(server):
    port = server.smtp_port
    assert rcpt_code(port, "random@example.com") == 550
    r = server.cli("alias", "add", "@EXAMPLE.com", "bob@example.com")
    assert r.stdout.strip() == "added alias @example.com"
    assert server.cli("alias", "list").stdout.splitlines() == [
        "@example.com bob@example.com"]
    code, _ = smtp_send(port, "random@example.com", make_message("catch"))
    assert code == 250
    code, _ = smtp_send(port, "alice@example.com", make_message("exact"))
    assert code == 250
    # An existing user still gets its own mail; the rest goes to bob.
    bob = pop3_fetch(server.pop3_port, "bob@example.com")
    alice = pop3_fetch(server.pop3_port, "alice@example.com")
    assert [b"Subject: catch\r\n" in m for m in bob] == [True]
    assert [b"Subject: exact\r\n" in m for m in alice] == [True]
    # Other domains are still not ours.
    assert rcpt_code(port, "random@example.net") == 554

    server.cli("alias", "remove", "@example.com")
    assert rcpt_code(port, "random@example.com") == 550


# ---- import ----

def openssl_hash(password, flag):
    return subprocess.run(["openssl", "passwd", flag, "-salt", "abcdefgh",
                           password], capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


def libcrypt_hash(password, prefix):
    """A crypt(3) hash of a fresh salt for `prefix` ("$2b$", "$y$")."""
    lib = ctypes.CDLL(ctypes.util.find_library("crypt"))
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong,
                                  ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    setting = lib.crypt_gensalt(prefix.encode(), 0, None, 0)
    assert setting, "crypt_gensalt(%s) failed" % prefix
    out = lib.crypt(password.encode(), setting)
    assert out and out.startswith(prefix.encode()), out
    return out.decode()


def argon2id_hash(password):
    lib = ctypes.CDLL(ctypes.util.find_library("sodium"))
    assert lib.sodium_init() >= 0
    out = ctypes.create_string_buffer(128)
    pw = password.encode()
    rc = lib.crypto_pwhash_str_alg(out, pw, ctypes.c_ulonglong(len(pw)),
                                   ctypes.c_ulonglong(1),
                                   ctypes.c_size_t(8192 * 1024),
                                   ctypes.c_int(2))  # ARGON2ID13
    assert rc == 0
    return out.value.decode()


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(text.encode())
    return str(path)


def test_import_plain_and_hashed_passwords(server, tmp_path):
    sha512 = openssl_hash("sha512 pw", "-6")
    assert sha512.startswith("$6$abcdefgh$")
    sha256 = openssl_hash("sha256 pw", "-5")
    bcrypt = libcrypt_hash("bcrypt pw", "$2b$")
    yescrypt = libcrypt_hash("yescrypt pw", "$y$")
    argon = argon2id_hash("argon pw")
    path = write(tmp_path, "users.csv", "\n".join([
        "# address,password,quota,name",
        "",
        "carol@example.com,plain pw",
        "   ",
        "Dave@Example.COM,\"pw, with comma\",5M,\"Dave, the \"\"Tester\"\"\"",
        "erin@example.com,{SHA512-CRYPT}%s,,Erin" % sha512,
        "frank@example.com,{CRYPT}%s" % sha256,
        "grace@example.com,{BLF-CRYPT}%s,1G," % bcrypt,
        "heidi@example.com,{YESCRYPT}%s\r" % yescrypt,
        # An argon2id hash has commas ("m=8192,t=1,p=1"), so it is quoted.
        "ivan@example.com,\"{ARGON2ID}%s\"" % argon,
        "  # indented comment",
    ]) + "\n")
    r = server.cli("user", "import", path)
    assert r.stdout.strip() == "imported 7 user(s)", r.stderr
    assert users(server, "example.com") == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
        'dave@example.com quota=5242880 name="Dave, the "Tester""',
        'erin@example.com name="Erin"',
        "frank@example.com",
        "grace@example.com quota=1073741824",
        "heidi@example.com",
        "ivan@example.com",
    ]
    port = server.pop3_port
    for user, pw in [("carol", "plain pw"), ("dave", "pw, with comma"),
                     ("erin", "sha512 pw"), ("frank", "sha256 pw"),
                     ("grace", "bcrypt pw"), ("heidi", "yescrypt pw"),
                     ("ivan", "argon pw")]:
        address = user + "@example.com"
        assert pop3_can_login(port, address, pw), address
        assert not pop3_can_login(port, address, pw + "x"), address
    # And they receive mail.
    code, _ = smtp_send(server.smtp_port, "erin@example.com",
                        make_message("imported"))
    assert code == 250
    assert len(pop3_fetch(port, "erin@example.com", "sha512 pw")) == 1


def test_import_with_bad_lines_imports_nothing(server, tmp_path):
    path = write(tmp_path, "users.csv", "\n".join([
        "# header",                                   # 1
        "carol@example.com,pw1",                      # 2
        "not an address,pw2",                         # 3 bad
        "dave@example.com,pw3,10M,Dave",              # 4
        "",                                           # 5
        "erin@example.net,pw4",                       # 6 bad: domain
        "frank@example.com,pw5",                      # 7
        "grace@example.com,pw6,lots",                 # 8 bad: quota
        "heidi@example.com,pw7",                      # 9
    ]) + "\n")
    r = server.cli("user", "import", path, check=False)
    err = failed(r)
    reported = [line for line in err.splitlines()
                if line.startswith(path + ":")]
    assert [int(line[len(path) + 1:].split(":")[0]) for line in reported] == [
        3, 6, 8], err
    assert "quota" in reported[2]
    assert "3 bad line(s)" in err and "nothing imported" in err
    assert addresses(server) == ["alice@example.com", "bob@example.com"]
    assert not pop3_can_login(server.pop3_port, "carol@example.com", "pw1")


@pytest.mark.parametrize("line,reason", [
    ("a@@b,pw", "bad domain"),
    ("carol@example.com", "expected address,password"),
    ("carol@example.com,", "empty password"),
    ("carol@example.com,pw,5,Carol,extra", "too many fields"),
    ("carol@example.com,pw,5,Smith, Carol", "too many fields"),
    ('carol@example.com,"pw', "unterminated"),
    ('carol@example.com,"pw"x', "after a quoted field"),
    ('carol@example.com,p"w', "quote inside"),
    ("carol@[127.0.0.1],pw", "literal"),
    ("carol@example.com,{MD5}abcdef", "unknown password scheme"),
    ("carol@example.com,{SHA512-CRYPT}$1$abc$def", "does not match"),
    ("carol@example.com,{SHA512-CRYPT}$6$", "crypt(3)"),
    ('carol@example.com,"{ARGON2ID}$argon2i$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA"',
     "$argon2id$"),
])
def test_import_bad_line_reasons(srv, tmp_path, line, reason):
    path = write(tmp_path, "u.csv", "zed@example.com,ok\n%s\n" % line)
    err = failed(srv.cli("user", "import", path, check=False))
    assert "%s:2: " % path in err and reason in err, err
    assert "%s:1:" % path not in err
    assert users(srv) == []


def test_import_refuses_a_malformed_argon2id_hash(srv, tmp_path):
    """Like a crypt hash, an {ARGON2ID} hash must be one that can be
    verified; otherwise the account is locked out without a word."""
    path = write(tmp_path, "u.csv", "zed@example.com,ok\n"
                 "carol@example.com,{ARGON2ID}$argon2id$garbage\n")
    err = failed(srv.cli("user", "import", path, check=False))
    assert "%s:2: " % path in err, err
    assert users(srv) == []


def test_import_duplicate_address_within_file(srv, tmp_path):
    path = write(tmp_path, "u.csv", "dave@example.com,pw1\n"
                 "carol@example.com,pw2\nDave@EXAMPLE.com,pw3\n")
    err = failed(srv.cli("user", "import", path, check=False))
    assert "%s:3: address repeats an earlier line" % path in err, err
    assert "%s:1:" % path not in err
    assert users(srv) == []


def test_import_existing_user(server, tmp_path):
    path = write(tmp_path, "u.csv", "carol@example.com,pw\n"
                 "ALICE@example.com,changed\n")
    err = failed(server.cli("user", "import", path, check=False))
    assert "%s:2: user already exists" % path in err, err
    assert addresses(server) == ["alice@example.com", "bob@example.com"]
    assert pop3_can_login(server.pop3_port, "alice@example.com", PASSWORD)
    assert not pop3_can_login(server.pop3_port, "alice@example.com",
                              "changed")


def stored_hash(srv, address):
    """The password hash the store keeps for `address`, read as the
    server's own user (root opening the database could leave files
    behind that the server cannot write)."""
    code = ("import sqlite3, sys\n"
            "db = sqlite3.connect(sys.argv[1])\n"
            "print(db.execute('SELECT password FROM user WHERE address=?',"
            " (sys.argv[2],)).fetchone()[0])\n")
    r = subprocess.run([sys.executable, "-c", code,
                        os.path.join(srv.data, "accounts.db"), address],
                       user=server_user() or None, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_imported_crypt_hash_becomes_argon2id_at_first_login(server,
                                                             tmp_path):
    sha512 = openssl_hash("old pw", "-6")
    path = write(tmp_path, "u.csv",
                 "olga@example.com,{SHA512-CRYPT}%s\n" % sha512)
    server.cli("user", "import", path)
    assert stored_hash(server, "olga@example.com") == "{CRYPT}" + sha512
    # A wrong password changes nothing.
    assert not pop3_can_login(server.pop3_port, "olga@example.com", "nope")
    assert stored_hash(server, "olga@example.com") == "{CRYPT}" + sha512
    assert pop3_can_login(server.pop3_port, "olga@example.com", "old pw")
    # With the configured cost (the fixture's auth.argon2_* settings).
    new = stored_hash(server, "olga@example.com")
    assert new.startswith("$argon2id$v=19$m=8192,t=1,p=1$"), new
    assert re.search(r" auth rehash result=argon2id user=olga@example\.com\n",
                     server.log()), server.log()[-2000:]
    assert pop3_can_login(server.pop3_port, "olga@example.com", "old pw")
    assert not pop3_can_login(server.pop3_port, "olga@example.com", "nope")
    assert stored_hash(server, "olga@example.com") == new


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_import_reads_a_root_only_file(srv, tmp_path):
    """Run as root, import opens the file before it leaves root."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    path = private / "users.csv"
    path.write_text("zed@example.com,zed pw\n")
    path.chmod(0o600)
    r = srv.cli("user", "import", str(path))
    assert r.stdout.strip() == "imported 1 user(s)", r.stderr
    assert addresses(srv) == ["zed@example.com"]
    # The user the command switches to could not have read it.
    assert server_user()
    r = subprocess.run(["cat", str(path)], user=server_user(),
                       capture_output=True, timeout=60)
    assert r.returncode != 0 and b"zed" not in r.stdout


def test_import_missing_file(srv, tmp_path):
    path = str(tmp_path / "nonexistent.csv")
    assert path in failed(srv.cli("user", "import", path, check=False))


def test_import_empty_file(srv, tmp_path):
    path = write(tmp_path, "u.csv", "# nothing here\n\n")
    r = srv.cli("user", "import", path)
    assert "imported 0 user(s)" in r.stdout
    assert users(srv) == []


# ---- while the server runs ----

def test_cli_changes_apply_to_running_server(server):
    smtp, pop3 = server.smtp_port, server.pop3_port
    assert rcpt_code(smtp, "carol@example.com") == 550
    server.add_user("carol@example.com")
    code, text = smtp_send(smtp, "carol@example.com", make_message("hi"))
    assert code == 250, text
    assert len(pop3_fetch(pop3, "carol@example.com")) == 1

    # A domain added now is ours at once.
    assert rcpt_code(smtp, "dan@example.org") == 554
    server.cli("domain", "add", "example.org")
    server.add_user("dan@example.org")
    assert rcpt_code(smtp, "dan@example.org") == 250

    # An open session sees the removal at its next RCPT.
    with smtp_session(smtp) as c:
        assert c.cmd("MAIL FROM:<s@example.org>")[0] == 250
        assert c.cmd("RCPT TO:<carol@example.com>")[0] == 250
        server.cli("user", "remove", "carol@example.com")
        assert c.cmd("RSET")[0] == 250
        assert c.cmd("MAIL FROM:<s@example.org>")[0] == 250
        assert c.cmd("RCPT TO:<carol@example.com>")[0] == 550
    assert rcpt_code(smtp, "carol@example.com") == 550
    assert not pop3_can_login(pop3, "carol@example.com")


# ---- passwords on standard input ----

def test_password_without_newline(server):
    server.cli("user", "add", "carol@example.com", input="no newline")
    assert pop3_can_login(server.pop3_port, "carol@example.com", "no newline")


def test_password_with_crlf(server):
    # Had the CR been kept, this password would never match.
    server.cli("user", "add", "carol@example.com", input="windows pw\r\n")
    assert pop3_can_login(server.pop3_port, "carol@example.com", "windows pw")


def test_only_the_first_line_is_the_password(server):
    server.cli("user", "add", "carol@example.com", input="first\nsecond\n")
    assert pop3_can_login(server.pop3_port, "carol@example.com", "first")


@pytest.mark.parametrize("stdin", ["", "\n", "\r\n"])
def test_empty_password_refused(srv, stdin):
    r = srv.cli("user", "add", "carol@example.com", input=stdin, check=False)
    assert "no password" in failed(r)
    assert users(srv) == []


def test_password_too_long_refused(srv):
    r = srv.cli("user", "add", "carol@example.com", input="x" * 5000 + "\n",
                check=False)
    assert "too long" in failed(r)
    assert users(srv) == []


def test_password_from_dev_null(srv):
    """stdin not a terminal and empty: an error, never a prompt."""
    with open(os.devnull) as null:
        r = subprocess.run(srv.args() + ["user", "add", "carol@example.com"],
                           stdin=null, capture_output=True, text=True,
                           env=ENV, timeout=60)
    assert "no password" in failed(r)
    assert users(srv) == []


def test_alias_loops_get_a_definite_answer(server):
    """Aliases that lead only to each other reach nobody: RCPT gets a
    permanent refusal at once (no hang, no temporary failure), and a loop
    with a way out still delivers, once."""
    server.cli("alias", "add", "loop@example.com", "loop@example.com")
    server.cli("alias", "add", "l1@example.com", "l2@example.com")
    server.cli("alias", "add", "l2@example.com", "l1@example.com")
    for rcpt in ("loop@example.com", "l1@example.com", "l2@example.com"):
        assert rcpt_code(server.smtp_port, rcpt) == 550, rcpt
    server.cli("alias", "add", "l2@example.com", "alice@example.com")
    code, _ = smtp_send(server.smtp_port, "l1@example.com",
                        make_message("via-loop"))
    assert code == 250
    assert len(pop3_fetch(server.pop3_port, "alice@example.com")) == 1


@pytest.mark.parametrize("name", ["Eve\nmallory@example.com quota=1",
                                  "Eve\x1b[31m", "Eve\rX", "Eve\x00X"])
def test_names_cannot_forge_user_list_lines(srv, name, tmp_path):
    """A name with control characters is refused, or shown escaped: either
    way `user list` stays one plain line per user."""
    if "\x00" not in name:      # argv cannot carry a NUL
        srv.cli("user", "add", "eve@example.com", "--name", name,
                input=PASSWORD + "\n", check=False)
    path = write(tmp_path, "u.csv", 'zed@example.com,pw,,"%s"\n' % name)
    srv.cli("user", "import", path, check=False)
    out = srv.cli("user", "list").stdout
    lines = out.splitlines()
    assert all(line.split()[0] in ("eve@example.com", "zed@example.com")
               for line in lines), out
    assert not any(ch < " " or ch == "\x7f" for ch in out.replace("\n", "")), \
        repr(out)
