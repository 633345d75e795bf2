"""posthorn import maildir|mbox and posthorn export: trees built here the
way Dovecot, mutt and Thunderbird write them are imported with the real
CLI, and what the server then holds is read back over IMAP (imaplib):
folders, flags, keywords, INTERNALDATE, the bytes, subscriptions.  An
export imported into another user gives the same; Dovecot, when it is
installed, reads the export; a running server's IDLE session sees what
the CLI imports."""

import base64
import datetime
import imaplib
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import Client, PASSWORD, data_home, server_user

ALICE = "alice@example.com"
BOB = "bob@example.com"


# ---- the formats, written as the other programs write them ----

def mutf7(name):
    """Modified UTF-7 (RFC 3501 5.1.3), as Dovecot names folders on disk."""
    out, run = [], []

    def flush():
        if run:
            raw = "".join(run).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=")
                       .replace("/", ",") + "-")
            run.clear()
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


def message(tag, body="Hello.\n", extra=""):
    """A message with LF line ends, as Dovecot keeps them on disk."""
    return ("From: Sender <sender@example.org>\nTo: alice@example.com\n"
            "Subject: %s\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n"
            "Message-ID: <%s@example.org>\n%s\n%s" % (tag, tag, extra, body)
            ).encode()


def crlf(data):
    """What IMAP serves of LF-ended bytes."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


def maildir_folder(path):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)


def maildir_put(folder, sub, name, data, mtime):
    path = os.path.join(folder, sub, name)
    with open(path, "wb") as f:
        f.write(data)
    os.utime(path, (mtime, mtime))
    return path


T1, T2, T3, T4 = 1500000000, 1600000000, 1650000000, 1700000000

# Folder name -> [(file name in cur/ or new/, flags, keywords, date, bytes)]
# in the order the folder's dovecot-uidlist gives them.
def dovecot_tree(root):
    """A Maildir++ tree as Dovecot 2.3 leaves it.  Returns what IMAP
    should show: {mailbox: [(flags, date, bytes)]}, in UID order."""
    want = {}
    maildir_folder(root)
    a = message("inbox-seen")
    b = message("inbox-new")
    c = message("inbox-answered", "Line one.\nLine two.\n")
    # Named so that file-name order differs from UID order.
    maildir_put(root, "cur", "1700000009.M1P10.host,S=%d,W=%d:2,S"
                % (len(a), len(crlf(a))), a, T1)
    maildir_put(root, "new", "1700000001.M2P10.host", b, T2)
    maildir_put(root, "cur", "1700000005.M3P10.host:2,RS", c, T3)
    with open(os.path.join(root, "dovecot-uidlist"), "w") as f:
        f.write("3 V1700000000 N4 G0123456789abcdef0123456789abcdef\n"
                "1 :1700000009.M1P10.host,S=%d,W=%d\n"
                "2 W%d :1700000001.M2P10.host\n"
                "3 :1700000005.M3P10.host\n" % (len(a), len(crlf(a)),
                                                 len(crlf(b))))
    want["INBOX"] = [({"\\Seen"}, T1, crlf(a)), (set(), T2, crlf(b)),
                     ({"\\Answered", "\\Seen"}, T3, crlf(c))]
    # dovecot's own files, which import leaves alone
    for name in ("dovecot.index.log", "dovecot-uidvalidity",
                 "dovecot.list.index.log"):
        open(os.path.join(root, name), "wb").close()
    open(os.path.join(root, "tmp", "1700000010.M9P10.host"), "wb").close()

    work = os.path.join(root, ".Work")
    maildir_folder(work)
    open(os.path.join(work, "maildirfolder"), "wb").close()
    d = message("work")
    maildir_put(work, "cur", "1700000100.M1P11.host:2,F", d, T2)
    want["Work"] = [({"\\Flagged"}, T2, crlf(d))]

    proj = os.path.join(root, ".Work.Projects")
    maildir_folder(proj)
    with open(os.path.join(proj, "dovecot-keywords"), "w") as f:
        f.write("0 $Junk\n1 project-x\n2 $Forwarded\n")
    e = message("project-one", "From the start.\n")
    f_ = message("project-two")
    g = message("project-draft")
    maildir_put(proj, "cur", "1700000200.M1P12.host:2,RSTab", e, T1)
    maildir_put(proj, "cur", "1700000201.M1P12.host:2,Fc", f_, T4)
    maildir_put(proj, "new", "1700000202.M1P12.host:2,D", g, T3)
    want["Work/Projects"] = [
        ({"\\Answered", "\\Seen", "\\Deleted", "$Junk", "project-x"}, T1,
         crlf(e)),
        ({"\\Flagged", "$Forwarded"}, T4, crlf(f_)),
        ({"\\Draft"}, T3, crlf(g))]

    ete = os.path.join(root, "." + mutf7("Été"))
    maildir_folder(ete)
    h = message("ete", "Ça va ?\n")
    maildir_put(ete, "cur", "1700000300.M1P13.host:2,S", h, T2)
    want["Été"] = [({"\\Seen"}, T2, crlf(h))]

    sub = os.path.join(root, ".Sub.Folder")
    maildir_folder(sub)
    i = message("sub-folder")
    maildir_put(sub, "cur", "1700000400.M1P14.host:2,", i, T3)
    # A file that is no message: reported and skipped.
    maildir_put(sub, "cur", "1700000401.M1P14.host:2,S", b"", T3)
    want["Sub/Folder"] = [(set(), T3, crlf(i))]

    with open(os.path.join(root, "subscriptions"), "w") as f:
        f.write("V\t2\n\nINBOX\nWork\nSub\tFolder\n%s\n" % mutf7("Été"))
    return want


# ---- the server's side, through imaplib ----

def imap_login(srv, user=ALICE):
    c = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=30)
    ok(c.login(user, PASSWORD))
    return c


def ok(resp):
    typ, data = resp
    assert typ == "OK", resp
    return data


def quoted(name):
    return '"%s"' % name.replace("\\", "\\\\").replace('"', '\\"')


LIST_RE = re.compile(rb'^\(([^)]*)\) (?:NIL|"(?:\\.|[^"\\])*") (.+)$')


def imap_names(c, command="LIST"):
    """LIST or LSUB "" "*" as {name in UTF-8: set of attributes}."""
    data = ok(c.lsub('""', "*") if command == "LSUB" else c.list('""', "*"))
    out = {}
    for item in data:
        if item is None:
            continue
        m = LIST_RE.match(item)
        assert m, item
        name = m.group(2)
        if name.startswith(b'"'):
            name = re.sub(rb'\\(.)', rb'\1', name[1:-1])
        out[mutf7_decode(name.decode("ascii"))] = set(
            m.group(1).decode().split())
    return out


def mutf7_decode(s):
    def run(m):
        if m.group(1) == "":
            return "&"
        b64 = m.group(1).replace(",", "/")
        return base64.b64decode(b64 + "=" * (-len(b64) % 4)).decode(
            "utf-16-be")
    return re.sub(r"&([^-]*)-", run, s)


FETCH_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")
FETCH_DATE = re.compile(rb'\bINTERNALDATE "([^"]+)"')
FETCH_UID = re.compile(rb"\bUID (\d+)")


def internaldate(text):
    return int(datetime.datetime.strptime(
        text.decode().strip(), "%d-%b-%Y %H:%M:%S %z").timestamp())


def imap_fetch(c, mailbox):
    """[(flags, internal date, bytes)] of a mailbox, in UID order."""
    data = ok(c.select(quoted(mutf7(mailbox)), readonly=True))
    if int(data[0]) == 0:
        return []
    data = ok(c.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])"))
    out = {}
    i = 0
    while i < len(data):
        item = data[i]
        i += 1
        if not isinstance(item, tuple):
            continue
        head, literal = item
        if i < len(data) and isinstance(data[i], bytes):
            head += data[i]
            i += 1
        uid = int(FETCH_UID.search(head).group(1))
        flags = set(FETCH_FLAGS.search(head).group(1).decode().split())
        flags.discard("\\Recent")
        out[uid] = (flags, internaldate(FETCH_DATE.search(head).group(1)),
                    literal)
    return [out[uid] for uid in sorted(out)]


def snapshot(srv, user=ALICE):
    """Every mailbox's messages, and the subscriptions."""
    c = imap_login(srv, user)
    try:
        names = imap_names(c)
        boxes = {name: imap_fetch(c, name) for name, attrs in names.items()
                 if "\\Noselect" not in attrs and
                 "\\NonExistent" not in attrs}
        subscribed = set(imap_names(c, "LSUB"))
        return boxes, subscribed
    finally:
        c.logout()


def lines(out):
    return [l for l in out.splitlines() if l]


# ---- import maildir ----

def test_import_dovecot_maildir(server, tmp_path):
    root = str(tmp_path / "Maildir")
    want = dovecot_tree(root)
    r = server.cli("import", "maildir", ALICE, root)
    assert lines(r.stdout) == [
        "INBOX: 3 imported",
        "Sub/Folder: 1 imported, 1 skipped (see above)",
        "Work: 1 imported",
        "Work/Projects: 3 imported",
        "Été: 1 imported",
        "imported 9 message(s) into 5 folder(s) of alice@example.com",
    ], r.stdout
    assert ".Sub.Folder/cur/1700000401.M1P14.host:2,S: empty message" \
        in r.stderr, r.stderr
    boxes, subscribed = snapshot(server)
    for name, msgs in want.items():
        assert boxes[name] == msgs, name
    # Only what the file lists, and the new account's own subscriptions.
    assert {"INBOX", "Work", "Sub/Folder", "Été"} <= subscribed
    assert "Work/Projects" not in subscribed
    # No parent is made up: "Sub" is only implied by its child.
    assert "Sub" not in boxes


def test_import_twice_skips_what_is_there(server, tmp_path):
    root = str(tmp_path / "Maildir")
    want = dovecot_tree(root)
    server.cli("import", "maildir", ALICE, root)
    r = server.cli("import", "maildir", ALICE, root)
    assert "INBOX: 0 imported, 3 already there" in r.stdout, r.stdout
    assert "imported 0 message(s)" in r.stdout, r.stdout
    boxes, _ = snapshot(server)
    for name, msgs in want.items():
        assert boxes[name] == msgs, name


def test_import_layout_fs(server, tmp_path):
    """Dovecot's LAYOUT=fs: DIR/Sub/Folder/{cur,new}, found by itself."""
    root = str(tmp_path / "fs")
    maildir_folder(root)
    a, b, c = message("fs-inbox"), message("fs-nested"), message("fs-utf")
    maildir_put(root, "cur", "1.M1P1.h:2,S", a, T1)
    # "Sub" has no cur/ or new/: a parent only.
    maildir_folder(os.path.join(root, "Sub", "Folder"))
    maildir_put(os.path.join(root, "Sub", "Folder"), "new", "2.M1P1.h", b,
                T2)
    maildir_folder(os.path.join(root, mutf7("Ünï")))
    maildir_put(os.path.join(root, mutf7("Ünï")), "cur", "3.M1P1.h:2,F", c,
                T3)
    with open(os.path.join(root, "subscriptions"), "w") as f:
        f.write("V\t2\n\nSub\tFolder\n")
    r = server.cli("import", "maildir", BOB, root)
    assert lines(r.stdout)[:3] == ["INBOX: 1 imported",
                                   "Sub/Folder: 1 imported",
                                   "Ünï: 1 imported"], r.stdout
    boxes, subscribed = snapshot(server, BOB)
    assert boxes["INBOX"] == [({"\\Seen"}, T1, crlf(a))]
    assert boxes["Sub/Folder"] == [(set(), T2, crlf(b))]
    assert boxes["Ünï"] == [({"\\Flagged"}, T3, crlf(c))]
    assert "Sub/Folder" in subscribed and "Ünï" not in subscribed


# ---- import mbox ----

MBOX = (
    # mutt: Status/X-Status, mboxrd quoting, a zone after the year
    b"From sender@example.org Sat Jul 15 10:00:00 2017 +0200\n"
    b"From: sender@example.org\nSubject: quoted\nStatus: RO\n"
    b"X-Status: AF\n\n"
    b">From the start of a line.\n>>From twice quoted.\n"
    b"text\nFrom not after an empty line\n\n"
    b"From sender@example.org Sun Sep 13 12:26:40 2020\n"
    b"From: sender@example.org\nSubject: keywords\nStatus: O\n"
    b"X-Keywords: $Label1 work\n\nbody\n\n"
    # Thunderbird: deleted, waiting for compaction
    b"From - Mon Jan  1 00:00:00 2024\n"
    b"X-Mozilla-Status: 0009\nSubject: deleted\n\ngone\n\n"
    # Thunderbird: read, flagged, forwarded, a label
    b"From - Tue Jan  2 00:00:00 2024\n"
    b"X-Mozilla-Status: 1005\nX-Mozilla-Status2: 00000000\n"
    b"X-Mozilla-Keys: $label1                \nSubject: tb\n\ntb body\n\n")


def test_import_mbox_file(server, tmp_path):
    path = tmp_path / "Saved.mbox"
    path.write_bytes(MBOX)
    # Dates without a zone are local time: make it UTC here.
    server.env = dict(server.env, TZ="UTC")
    r = server.cli("import", "mbox", ALICE, str(path))
    assert lines(r.stdout) == [
        "Saved: 3 imported, 1 deleted left out",
        "imported 3 message(s) into 1 folder(s) of alice@example.com"], \
        r.stdout
    boxes, subscribed = snapshot(server)
    assert "Saved" in subscribed
    msgs = boxes["Saved"]
    assert [m[0] for m in msgs] == [
        {"\\Seen", "\\Answered", "\\Flagged"}, {"$Label1", "work"},
        {"\\Seen", "\\Flagged", "$Forwarded", "$label1"}]
    assert [m[1] for m in msgs] == [1500105600, 1600000000, 1704153600]
    assert msgs[0][2] == (
        b"From: sender@example.org\r\nSubject: quoted\r\nStatus: RO\r\n"
        b"X-Status: AF\r\n\r\n"
        b"From the start of a line.\r\n>From twice quoted.\r\n"
        b"text\r\nFrom not after an empty line\r\n")
    assert msgs[1][2].endswith(b"\r\n\r\nbody\r\n")
    assert msgs[2][2].endswith(b"\r\n\r\ntb body\r\n")


def test_import_mbox_into_named_mailbox(server, tmp_path):
    path = tmp_path / "alice"
    path.write_bytes(MBOX)
    r = server.cli("import", "mbox", "--mailbox", "inbox", ALICE, str(path))
    assert lines(r.stdout)[0].startswith("INBOX: 3 imported"), r.stdout
    assert len(snapshot(server)[0]["INBOX"]) == 3


def test_import_mbox_keywords_past_the_limit(server, tmp_path):
    """A mailbox keeps 256 keywords: a message that would bring more is
    imported without its keywords, and the import says so."""
    many = b" ".join(b"k%d" % i for i in range(256))
    path = tmp_path / "Tags"
    path.write_bytes(
        b"From - Tue Jan  2 00:00:00 2024\nX-Keywords: " + many +
        b"\nSubject: full\n\nx\n\n"
        b"From - Tue Jan  2 00:00:00 2024\nX-Keywords: k1 one-more\n"
        b"Subject: past\n\ny\n")
    r = server.cli("import", "mbox", ALICE, str(path))
    assert lines(r.stdout)[0] == "Tags: 2 imported", r.stdout
    assert "keywords left out" in r.stderr, r.stderr
    msgs = snapshot(server)[0]["Tags"]
    assert len(msgs[0][0]) == 256 and msgs[1][0] == set(), msgs


def test_import_thunderbird_directory(server, tmp_path):
    root = tmp_path / "Local Folders"
    (root / "Projects.sbd").mkdir(parents=True)
    one = b"From - Tue Jan  2 00:00:00 2024\nSubject: one\n\nx\n"
    two = b"From - Tue Jan  2 00:00:00 2024\nSubject: two\n\ny\n"
    (root / "Inbox").write_bytes(one)
    (root / "Inbox.msf").write_bytes(b"// <!-- <mdb:mork:z v=\"1.4\"/> -->")
    (root / "Projects").write_bytes(b"")
    (root / "Projects.sbd" / "Alpha").write_bytes(two)
    (root / "msgFilterRules.dat").write_bytes(b"version=\"9\"\n")
    (root / "notes.txt").write_bytes(b"not mail\n")
    r = server.cli("import", "mbox", BOB, str(root))
    assert lines(r.stdout) == [
        "INBOX: 1 imported", "Projects: 0 imported",
        "Projects/Alpha: 1 imported",
        "imported 2 message(s) into 3 folder(s) of bob@example.com"], \
        r.stdout
    assert "notes.txt: not an mbox file" in r.stderr, r.stderr
    boxes, subscribed = snapshot(server, BOB)
    assert [m[2] for m in boxes["INBOX"]] == [b"Subject: one\r\n\r\nx\r\n"]
    assert [m[2] for m in boxes["Projects/Alpha"]] == [
        b"Subject: two\r\n\r\ny\r\n"]
    assert boxes["Projects"] == []
    assert {"Projects", "Projects/Alpha"} <= subscribed


# ---- export ----

def shared_dir():
    """A directory the server's user can reach (tmp_path cannot be when
    the tests run as root)."""
    d = tempfile.mkdtemp(dir=data_home())
    os.chmod(d, 0o711)
    return d


def test_export_then_import_gives_the_same(server, tmp_path):
    root = str(tmp_path / "Maildir")
    dovecot_tree(root)
    server.cli("import", "maildir", ALICE, root)
    # A message with CRLF bytes and a keyword, by APPEND.
    c = imap_login(server)
    try:
        ok(c.create("Archive/2019"))
        ok(c.append("Archive/2019", r"(\Seen $MDNSent)",
                    imaplib.Time2Internaldate(T4),
                    b"Subject: appended\r\n\r\nCRLF body\r\n"))
        ok(c.subscribe("Archive/2019"))
    finally:
        c.logout()
    out = os.path.join(shared_dir(), "export")
    r = server.cli("export", ALICE, out)
    assert "exported 10 message(s)" in r.stdout, r.stdout
    assert "Work/Projects: 3 exported" in r.stdout, r.stdout

    # What Dovecot would find.
    with open(os.path.join(out, "subscriptions")) as f:
        assert f.read().startswith("V\t2\n\n")
    proj = os.path.join(out, ".Work.Projects")
    with open(os.path.join(proj, "dovecot-keywords")) as f:
        kw = dict(l.split(" ", 1) for l in f.read().splitlines())
    assert set(kw.values()) == {"$Junk", "project-x", "$Forwarded"}
    files = sorted(os.listdir(os.path.join(proj, "cur")))
    assert len(files) == 3 and all(":2," in f for f in files)
    assert os.path.isdir(os.path.join(out, "." + mutf7("Été"), "cur"))
    assert os.path.isdir(os.path.join(out, ".Archive.2019", "cur"))
    dates = sorted(os.stat(os.path.join(proj, "cur", f)).st_mtime
                   for f in files)
    assert dates == [T1, T3, T4]

    server.cli("import", "maildir", BOB, out)
    a, b = snapshot(server, ALICE), snapshot(server, BOB)
    assert a == b
    assert a[0]["Archive/2019"] == [
        ({"\\Seen", "$MDNSent"}, T4,
         b"Subject: appended\r\n\r\nCRLF body\r\n")]
    # Once more: nothing new.
    r = server.cli("import", "maildir", BOB, out)
    assert "imported 0 message(s)" in r.stdout, r.stdout
    assert snapshot(server, BOB) == b


def test_export_refuses_a_directory_in_use(server, tmp_path):
    out = shared_dir()
    open(os.path.join(out, "something"), "w").close()
    r = server.cli("export", ALICE, out, check=False)
    assert r.returncode == 1
    assert "not empty" in r.stderr, r.stderr


def test_dovecot_reads_the_export(server, tmp_path):
    doveadm = shutil.which("doveadm")
    if not doveadm:
        pytest.skip("Dovecot (doveadm) is not installed")
    root = str(tmp_path / "Maildir")
    want = dovecot_tree(root)
    server.cli("import", "maildir", ALICE, root)
    top = shared_dir()
    out = os.path.join(top, "export")
    server.cli("export", ALICE, out)
    # Dovecot runs as the owner of the export: the server's user when the
    # tests run as root, else ourselves.
    for d in ("run", "state", "home"):
        os.mkdir(os.path.join(top, d))
        if server_user():
            shutil.chown(os.path.join(top, d), server_user(), server_user())
    conf = os.path.join(top, "dovecot.conf")
    with open(conf, "w") as f:
        f.write("base_dir = %s/run\nstate_dir = %s/state\n"
                "log_path = %s/run/dovecot.log\nssl = no\n"
                "mail_location = maildir:%s\n"
                "namespace inbox {\n  inbox = yes\n  separator = /\n}\n"
                % (top, top, top, out))
    os.chmod(conf, 0o644)
    user = server_user() or os.environ.get("USER", "nobody")
    cmd = ["env", "-i", "PATH=" + os.environ.get("PATH", "/usr/bin:/bin"),
           "TZ=UTC", "USER=" + user, "HOME=%s/home" % top]
    if server_user():
        cmd += ["setpriv", "--reuid=" + user, "--regid=" + user,
                "--clear-groups"]
    cmd += [doveadm, "-c", conf]

    def dove(*args):
        r = subprocess.run(cmd + list(args), capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout.decode()

    names = set(dove("mailbox", "list").split())
    assert set(want) <= names, names
    subs = set(dove("mailbox", "list", "-s").split())
    assert {"INBOX", "Work", "Sub/Folder", "Été"} <= subs
    c = imap_login(server)
    try:
        ok(c.select(quoted("Work/Projects"), readonly=True))
        validity = c.response("UIDVALIDITY")[1][0].decode()
    finally:
        c.logout()
    status = dove("mailbox", "status", "messages uidvalidity",
                  "Work/Projects")
    assert "messages=3" in status and "uidvalidity=" + validity in status
    fetched = dove("-f", "flow", "fetch", "uid flags date.received",
                   "mailbox", "Work/Projects", "all")
    got = [l for l in fetched.splitlines() if l]
    assert len(got) == 3, fetched
    for line, (flags, date, _) in zip(got, want["Work/Projects"]):
        m = re.match(r"uid=(\d+) flags=(.*) date\.received=(.*)$", line)
        assert m, line
        assert set(m.group(2).split()) - {"\\Recent"} == flags, line
        when = datetime.datetime.strptime(m.group(3), "%Y-%m-%d %H:%M:%S")
        assert int(when.replace(tzinfo=datetime.timezone.utc).timestamp()) \
            == date, line
    text = dove("fetch", "text", "mailbox", "Été", "all")
    assert "Subject: ete" in text


# ---- a running server, another process ----

def test_idle_sees_what_the_cli_imports(server, tmp_path):
    root = str(tmp_path / "Maildir")
    maildir_folder(root)
    msg = message("while-idle")
    maildir_put(root, "new", "1.M1P1.h", msg, T2)
    with Client(server.imap_port) as c:
        assert c.line().startswith(b"* OK")
        c.send('a LOGIN %s "%s"\r\n' % (ALICE, PASSWORD))
        while not c.line().startswith(b"a OK"):
            pass
        c.send("b SELECT INBOX\r\n")
        while True:
            line = c.line()
            if line.startswith(b"b "):
                assert line.startswith(b"b OK"), line
                break
            m = re.match(rb"\* (\d+) EXISTS", line)
            if m:
                before = int(m.group(1))
        c.send("c IDLE\r\n")
        assert c.line().startswith(b"+")
        server.cli("import", "maildir", ALICE, root)
        # However long it takes; the socket timeout bounds the wait.
        c.sock.settimeout(60)
        while True:
            line = c.line()
            m = re.match(rb"\* (\d+) EXISTS", line)
            if m:
                assert int(m.group(1)) == before + 1
                break
        c.send("DONE\r\n")
        while not c.line().startswith(b"c "):
            pass


# ---- failures and privileges ----

def test_quota_stops_the_import(server, tmp_path):
    server.add_user("carol@example.com", PASSWORD, "--quota", "2500")
    root = str(tmp_path / "Maildir")
    maildir_folder(root)
    body = "x" * 900 + "\n"
    for i in range(3):
        maildir_put(root, "cur", "%d.M1P1.h:2,S" % (i + 1),
                    message("big-%d" % i, body), T1 + i)
    r = server.cli("import", "maildir", "carol@example.com", root,
                   check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "cur/3.M1P1.h:2,S: the account is over its quota" in r.stderr \
        or "larger than" in r.stderr, r.stderr
    assert "stopped after importing 2 message(s), 2 of them into " \
        "'INBOX'" in r.stderr, r.stderr
    # Again: the two are there, the third still does not fit.
    r = server.cli("import", "maildir", "carol@example.com", root,
                   check=False)
    assert r.returncode == 1
    assert "stopped after importing 0 message(s)" in r.stderr, r.stderr
    c = imap_login(server, "carol@example.com")
    try:
        assert imap_fetch(c, "INBOX")[1][1] == T1 + 1
        assert len(imap_fetch(c, "INBOX")) == 2
    finally:
        c.logout()


def test_usage_and_bad_arguments(server, tmp_path):
    assert server.cli("import", check=False).returncode == 2
    assert server.cli("import", "pst", ALICE, "x", check=False).returncode \
        == 2
    assert server.cli("export", ALICE, check=False).returncode == 2
    r = server.cli("import", "maildir", "nobody@example.com",
                   str(tmp_path), check=False)
    assert r.returncode == 1 and "no user" in r.stderr, r.stderr
    r = server.cli("import", "maildir", ALICE, str(tmp_path / "missing"),
                   check=False)
    assert r.returncode == 1 and "No such file" in r.stderr, r.stderr
    f = tmp_path / "file"
    f.write_bytes(b"From x\n\n")
    r = server.cli("import", "maildir", ALICE, str(f), check=False)
    assert r.returncode == 1 and "not a directory" in r.stderr, r.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_import_as_root_drops_privileges(server, tmp_path):
    """The tree belongs to root, mode 0700, as Dovecot's vmail tree
    belongs to vmail: it is read, and everything written is the server
    user's."""
    root = str(tmp_path / "Maildir")
    dovecot_tree(root)
    for d, _, files in os.walk(root):
        os.chmod(d, 0o700)
        for f in files:
            os.chmod(os.path.join(d, f), 0o600)
    r = server.cli("import", "maildir", ALICE, root)
    assert "imported 9 message(s)" in r.stdout, r.stdout
    out = os.path.join(shared_dir(), "export")
    server.cli("export", ALICE, out)
    import pwd
    uid = pwd.getpwnam(server_user()).pw_uid
    for top in (server.data, out):
        for d, dirs, files in os.walk(top):
            for name in dirs + files:
                try:
                    st = os.lstat(os.path.join(d, name))
                except FileNotFoundError:
                    continue    # the running server's -shm, -journal
                assert st.st_uid == uid, os.path.join(d, name)


def test_symbolic_links_are_not_followed(server, tmp_path):
    """A tree cannot make the import read a file outside it: links are
    reported and left alone, for messages and for folders."""
    root = str(tmp_path / "Maildir")
    maildir_folder(root)
    a = message("real")
    maildir_put(root, "cur", "1.M1P1.h:2,S", a, T1)
    secret = tmp_path / "secret"
    secret.write_bytes(message("secret"))
    os.symlink(str(secret), os.path.join(root, "cur", "2.M1P1.h:2,S"))
    outside = str(tmp_path / "outside")
    maildir_folder(outside)
    maildir_put(outside, "cur", "3.M1P1.h:2,S", message("outside"), T1)
    os.symlink(outside, os.path.join(root, ".Linked"))
    r = server.cli("import", "maildir", ALICE, root)
    assert "INBOX: 1 imported, 1 skipped (see above)" in r.stdout, r.stdout
    assert "cur/2.M1P1.h:2,S: Too many levels of symbolic links" \
        in r.stderr, r.stderr
    boxes, _ = snapshot(server)
    assert boxes["INBOX"] == [({"\\Seen"}, T1, crlf(a))]
    assert "Linked" not in boxes
