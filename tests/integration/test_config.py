"""Configuration: defaults, the file, --set, and how problems are reported
(FILE:LINE, nothing starts)."""

import configparser
import os
import pwd
import re
import socket
import subprocess
import time

import pytest

from conftest import BIN, ENV, ROOT, Client, free_port, server_user


def run(*args, cwd=None, timeout=60):
    return subprocess.run([BIN] + list(args), capture_output=True, text=True,
                          env=ENV, timeout=timeout, cwd=cwd)


def parse(text):
    """`posthorn config` output as {section: {key: value}}; also checks
    that it is plain INI."""
    cp = configparser.ConfigParser(interpolation=None, delimiters=("=",),
                                   comment_prefixes=(), strict=True)
    cp.optionxform = str
    cp.read_string(text)
    return {s: dict(cp[s]) for s in cp.sections()}


def config_file(tmp_path, text, name="posthorn.conf"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def problems(stderr, path):
    """[(line, message)] of the FILE:LINE: reports."""
    out = []
    for line in stderr.splitlines():
        if line.startswith(path + ":"):
            num, _, msg = line[len(path) + 1:].partition(": ")
            out.append((int(num), msg))
    return out


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False


def serve_config(tmp_path, extra=""):
    """A file a server could start from, on free loopback ports; returns
    (text, smtp port, pop3 port)."""
    smtp, pop3 = free_port(), free_port()
    text = ("[server]\nuser = %s\nhostname = mx.test\ndata_dir = %s\n"
            "[listen]\nsmtp = 127.0.0.1:%d\npop3 = 127.0.0.1:%d\n"
            "submission =\nsubmissions =\nimap =\nimaps =\npop3s =\nhttp =\n"
            "[auth]\nargon2_memory = 8192\nargon2_passes = 1\n"
            % (server_user(), tmp_path / "data", smtp, pop3)) + extra
    return text, smtp, pop3


def serve_must_fail(args, ports, cwd):
    """Runs `serve`; it must exit non-zero soon without ever listening.
    Returns stderr."""
    proc = subprocess.Popen([BIN] + args + ["serve"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV,
                            cwd=cwd)
    try:
        deadline = time.time() + 20
        while proc.poll() is None and time.time() < deadline:
            for p in ports:
                assert not port_open(p), "serve opened port %d" % p
            time.sleep(0.05)
        assert proc.poll() is not None, "serve did not exit"
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode != 0, "serve exited 0: %s%s" % (out, err)
    for p in ports:
        assert not port_open(p)
    return err


# ---- what is printed ----

def test_defaults(tmp_path):
    r = run("config", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    for want in ["[server]", "[listen]", "[smtp]", "[pop3]", "[auth]",
                 "smtp = 127.0.0.1:10025", "pop3 = 127.0.0.1:10110",
                 "max_message_size = 26214400", "max_connections_per_ip = 50",
                 "data_dir = var", "level = info"]:
        assert want in lines, want
    cfg = parse(r.stdout)
    assert cfg["smtp"]["max_errors"] == "10"
    assert cfg["pop3"]["timeout"] == "600"
    # threads = 0 means one per CPU; the effective number is shown.
    assert int(cfg["server"]["threads"]) >= 1
    assert cfg["server"]["hostname"] != ""


def test_file_overrides_defaults_and_set_overrides_file(tmp_path):
    path = config_file(tmp_path, "\n".join([
        "# a comment",
        "; another",
        "[smtp]",
        "max_errors = 5   ; inline comment",
        "timeout=77",
        "max_message_size = 10M",
        "",
        "[pop3]",
        "timeout = 99",
        "[server]",
        "hostname = mx.file.test",
        "data_dir = /srv/from-file",
        "[log]",
        "level = debug",
    ]) + "\n")
    cfg = parse(run("-c", path, "config").stdout)
    assert cfg["smtp"]["max_errors"] == "5"
    assert cfg["smtp"]["timeout"] == "77"
    assert cfg["smtp"]["max_message_size"] == str(10 * 1024 * 1024)
    assert cfg["pop3"]["timeout"] == "99"
    assert cfg["pop3"]["max_errors"] == "10"      # same key, other section
    assert cfg["server"]["hostname"] == "mx.file.test"
    assert cfg["log"]["level"] == "debug"
    assert cfg["smtp"]["max_recipients"] == "1000"  # default kept

    r = run("-c", path, "--set", "smtp.timeout=88", "--set",
            "pop3.max_errors = 3", "--set", "listen.imap=", "--data",
            "/srv/from-data", "config")
    assert r.returncode == 0, r.stderr
    cfg = parse(r.stdout)
    assert cfg["smtp"]["timeout"] == "88"
    assert cfg["smtp"]["max_errors"] == "5"
    assert cfg["pop3"]["max_errors"] == "3"
    assert cfg["listen"]["imap"] == ""
    assert cfg["server"]["data_dir"] == "/srv/from-data"
    # The last --set wins.
    r = run("--set", "smtp.max_errors=4", "--set", "smtp.max_errors=6",
            "config")
    assert parse(r.stdout)["smtp"]["max_errors"] == "6"


def test_printed_config_reads_back_the_same(tmp_path):
    first = run("--set", "smtp.max_errors=7", "--set",
                "server.hostname=h.test", "config").stdout
    path = config_file(tmp_path, first)
    r = run("-c", path, "config")
    assert r.returncode == 0, r.stderr
    assert r.stdout == first


# ---- problems in the file ----

def test_unknown_key_reported_with_line_and_serve_does_not_start(tmp_path):
    text, smtp, pop3 = serve_config(tmp_path, "[smtp]\n# ok\n"
                                    "max_eror = 5\n")
    path = config_file(tmp_path, text)
    bad_line = text.splitlines().index("max_eror = 5") + 1
    r = run("-c", path, "config")
    assert r.returncode == 1
    assert problems(r.stderr, path) == [
        (bad_line, "unknown key 'max_eror' in section [smtp]")], r.stderr
    assert r.stdout == ""

    err = serve_must_fail(["-c", path], [smtp, pop3], tmp_path)
    assert "%s:%d: unknown key 'max_eror'" % (path, bad_line) in err
    assert not os.path.exists(tmp_path / "data")

    # An admin command does not run either.
    r = run("-c", path, "domain", "add", "example.com")
    assert r.returncode == 1 and "%s:%d:" % (path, bad_line) in r.stderr
    assert not os.path.exists(tmp_path / "data")


def test_indented_key_is_not_swallowed(tmp_path):
    """An indented "key = value" line (common in hand-written files) is
    either read as that key or reported; it must not silently become part
    of the previous key's value (inih's multi-line continuation)."""
    path = config_file(tmp_path, "[server]\nhostname = mx.example\n"
                       "  data_dir = /srv/mail\n")
    r = run("-c", path, "config")
    if r.returncode == 0:
        cfg = parse(r.stdout)
        assert cfg["server"]["hostname"] == "mx.example", r.stdout
        assert cfg["server"]["data_dir"] == "/srv/mail", r.stdout
    else:
        assert [n for n, _ in problems(r.stderr, path)] == [3], r.stderr


def test_unknown_section(tmp_path):
    path = config_file(tmp_path, "[smtp]\nmax_errors = 5\n\n[bogus]\n"
                       "x = 1\n")
    r = run("-c", path, "config")
    assert r.returncode == 1
    assert problems(r.stderr, path) == [
        (5, "unknown key 'x' in section [bogus]")], r.stderr


@pytest.mark.parametrize("section,key,value", [
    ("smtp", "max_errors", "many"),
    ("smtp", "max_errors", "0"),
    ("smtp", "max_errors", "-1"),
    ("smtp", "max_errors", "99999999999999999999999"),
    ("smtp", "max_message_size", "10X"),
    ("smtp", "max_message_size", "1"),
    ("smtp", "timeout", ""),
    ("listen", "smtp", "1.2.3.4"),
    ("listen", "smtp", "localhost:25"),
    ("listen", "smtp", "127.0.0.1:99999"),
    ("listen", "pop3", "[::1]"),
    ("log", "level", "loud"),
    ("auth", "allow_insecure", "maybe"),
    ("store", "backend", "mysql"),
])
def test_bad_value_reported_with_line(tmp_path, section, key, value):
    path = config_file(tmp_path, "# first line\n[%s]\n\n%s = %s\n"
                       % (section, key, value))
    r = run("-c", path, "config")
    assert r.returncode == 1
    got = problems(r.stderr, path)
    assert len(got) == 1 and got[0][0] == 4, r.stderr
    msg = got[0][1]
    assert "%s.%s" % (section, key) in msg and "'%s'" % value in msg, msg
    assert "expected" in msg
    # Says what is wanted: not "expected expected HOST:PORT" or "expected
    # bad port number".
    assert not re.search(r"expected (expected|not|bad)\b", msg), msg
    assert r.stdout == ""


def test_bad_value_serve_does_not_start(tmp_path):
    text, smtp, pop3 = serve_config(tmp_path, "[log]\nlevel = loud\n")
    path = config_file(tmp_path, text)
    err = serve_must_fail(["-c", path], [smtp, pop3], tmp_path)
    assert "%s:%d: bad value 'loud' for log.level" % (
        path, len(text.splitlines())) in err, err


def test_several_problems_all_reported(tmp_path):
    path = config_file(tmp_path, "\n".join([
        "[smtp]",                 # 1
        "max_errors = many",      # 2
        "",                       # 3
        "[listen]",               # 4
        "smtp = 1.2.3.4",         # 5
        "; comment",              # 6
        "[log]",                  # 7
        "level = loud",           # 8
        "[bogus]",                # 9
        "foo = 1",                # 10
        "[smtp]",                 # 11
        "frob = 2",               # 12
        "timeout = 30",           # 13  (fine)
    ]) + "\n")
    r = run("-c", path, "config")
    assert r.returncode == 1
    assert [n for n, _ in problems(r.stderr, path)] == [2, 5, 8, 10, 12], \
        r.stderr
    assert "5 configuration problem(s)" in r.stderr


def test_syntax_error(tmp_path):
    path = config_file(tmp_path, "[smtp]\nmax_errors = 5\nthis is not ini\n")
    r = run("-c", path, "config")
    assert r.returncode == 1
    assert [n for n, _ in problems(r.stderr, path)] == [3], r.stderr


def test_missing_file(tmp_path):
    path = str(tmp_path / "nope.conf")
    r = run("-c", path, "config")
    assert r.returncode == 1
    assert path in r.stderr and "cannot open" in r.stderr


# ---- problems in --set ----

@pytest.mark.parametrize("assignment,text", [
    ("smtp.max_errors=many", "bad value 'many' for smtp.max_errors"),
    ("smtp.nope=1", "unknown key 'smtp.nope'"),
    ("nodot=1", "'nodot=1'"),
    ("smtp.max_errors", "'smtp.max_errors'"),
    ("log.level=loud", "bad value 'loud' for log.level"),
    ("listen.smtp=1.2.3.4", "listen.smtp"),
])
def test_bad_set_mentions_set(tmp_path, assignment, text):
    r = run("--set", assignment, "config")
    assert r.returncode == 1
    assert r.stdout == ""
    line = [l for l in r.stderr.splitlines() if l.startswith("--set: ")]
    assert len(line) == 1 and text in line[0], r.stderr


def test_bad_set_serve_does_not_start(tmp_path):
    text, smtp, pop3 = serve_config(tmp_path)
    path = config_file(tmp_path, text)
    err = serve_must_fail(["-c", path, "--set", "smtp.max_errors=many"],
                          [smtp, pop3], tmp_path)
    assert "--set: bad value 'many' for smtp.max_errors" in err


def test_file_and_set_problems_together(tmp_path):
    path = config_file(tmp_path, "[smtp]\nmax_errors = many\n")
    r = run("-c", path, "--set", "pop3.nope=1", "config")
    assert r.returncode == 1
    assert problems(r.stderr, path) == [
        (2, "bad value 'many' for smtp.max_errors: expected a number in "
            "range 1..1000")]
    assert "--set: unknown key 'pop3.nope'" in r.stderr
    assert "2 configuration problem(s)" in r.stderr


# ---- root ----

needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason="what posthorn does when run as root")


@needs_root
@pytest.mark.parametrize("user", ["", "root"])
def test_root_must_name_an_unprivileged_user(tmp_path, user):
    text, smtp, pop3 = serve_config(tmp_path)
    path = config_file(tmp_path, text)
    setting = ["-c", path, "--set", "server.user=" + user]
    err = serve_must_fail(setting, [smtp, pop3], tmp_path)
    assert "posthorn does not run as root" in err, err
    assert "server.user" in err, err
    # Every command that opens the data is refused the same way, before
    # it creates anything.
    csv = config_file(tmp_path, "zed@example.com,pw\n", "u.csv")
    for args in (["domain", "add", "example.com"], ["domain", "list"],
                 ["user", "add", "a@example.com"], ["user", "list"],
                 ["user", "import", csv], ["alias", "list"]):
        r = subprocess.run([BIN] + setting + args, input="pw\n",
                           capture_output=True, text=True, env=ENV,
                           timeout=60)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert "posthorn does not run as root" in r.stderr, (args, r.stderr)
    assert not os.path.exists(tmp_path / "data")
    # Printing the configuration touches no data: still fine.
    assert run(*setting, "config").returncode == 0


@needs_root
def test_root_runs_as_server_user(server):
    """Started as root, the server and the admin commands run as
    server.user, and the data belongs to it."""
    want = pwd.getpwnam(server_user()).pw_uid
    # A greeting means start-up is over (ports are bound, and accept, well
    # before that), so the fixture's SIGTERM finds the handler in place.
    with Client(server.smtp_port) as c:
        assert c.reply()[0] == 220
    with open("/proc/%d/status" % server.proc.pid) as f:
        uids = [l.split()[1:] for l in f if l.startswith("Uid:")][0]
    assert uids == [str(want)] * 4, uids
    for dirpath, dirnames, filenames in os.walk(server.data):
        for name in [dirpath] + [os.path.join(dirpath, n)
                                 for n in filenames]:
            assert os.stat(name).st_uid == want, name


# ---- the documentation ----

def doc_sections():
    """docs/config.md split at its "[section]" headings: {section: text}."""
    with open(os.path.join(ROOT, "docs", "config.md"), encoding="utf-8") as f:
        doc = f.read()
    parts = {}
    heads = list(re.finditer(r"^#+ .*?\[(\w+)\]", doc, re.M))
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(doc)
        parts[m.group(1)] = parts.get(m.group(1), "") + doc[m.start():end]
    return parts


def doc_number(text):
    """'512M' -> 536870912: the units of docs/config.md's ranges."""
    m = re.fullmatch(r"(\d+)([KMG]?)", text)
    assert m, text
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)]


def test_every_key_is_documented():
    cfg = parse(run("config").stdout)
    parts = doc_sections()
    missing = []
    for section, keys in cfg.items():
        for key in keys:
            if "`%s`" % key not in parts.get(section, ""):
                missing.append("%s.%s" % (section, key))
    assert not missing, "not described in docs/config.md: %s" % missing


def test_documented_ranges_are_the_real_ones():
    """Where docs/config.md gives a key's range, posthorn's own range for
    it (named when a value is refused) is the same."""
    checked = 0
    for section, text in doc_sections().items():
        for m in re.finditer(r"^\| `(\w+)` \|.*?\bRange (\w+)\.\.(\w+)\b",
                             text, re.M):
            key, lo, hi = m.group(1), doc_number(m.group(2)), \
                doc_number(m.group(3))
            r = run("--set", "%s.%s=99999999999" % (section, key), "config")
            assert r.returncode == 1, (key, r.stdout)
            got = re.search(r" (\d+)\.\.(\d+)$", r.stderr, re.M)
            assert got, r.stderr
            assert (int(got.group(1)), int(got.group(2))) == (lo, hi), \
                "%s.%s: documented %d..%d, real %s" % (
                    section, key, lo, hi, got.group(0))
            checked += 1
    assert checked >= 2


# ---- listeners ----

def test_listener_port_in_use(tmp_path):
    text, smtp, pop3 = serve_config(tmp_path)
    path = config_file(tmp_path, text)
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", smtp))
        busy.listen(1)
        err = serve_must_fail(["-c", path], [pop3], tmp_path)
    assert "listen.smtp" in err, err
    assert "127.0.0.1:%d" % smtp in err, err
