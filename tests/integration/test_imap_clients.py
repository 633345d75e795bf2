"""Real IMAP clients against the real server, run the way users run them:
mbsync (isync), curl, fetchmail and mutt.  Each test checks the outcome on
both sides: what the client got or left behind, and what the server holds
afterwards (seen through Python's imaplib)."""

import fcntl
import getpass
import imaplib
import os
import re
import select
import shutil
import struct
import subprocess
import termios
import time

import pytest

from conftest import Client, PASSWORD, body_of, make_message, smtp_send
from test_clients import without_fetchmail_received

ALICE = "alice@example.com"
BOB = "bob@example.com"


def tool(name):
    path = shutil.which(name)
    if not path:
        pytest.skip("%s is not installed (tools/deps.sh check installs it)"
                    % name)
    return path


def run(args, timeout=120, **kw):
    return subprocess.run(args, capture_output=True, timeout=timeout, **kw)


def subject(msg):
    m = re.search(rb"^Subject: (.*?)\r?$", msg, re.M)
    return m.group(1).decode() if m else None


def deliver(srv, user, tag, body=b"Hello.\r\n"):
    """A message for `user` through SMTP; returns it as it was sent."""
    msg = make_message(tag, body, rcpt=user)
    code, text = smtp_send(srv.smtp_port, user, msg)
    assert code == 250, text
    return msg


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


def imap_list(c, ref="", pattern="*"):
    """LIST as {name: set of attributes}."""
    out = {}
    for item in ok(c.list(quoted(ref), pattern)):
        assert isinstance(item, bytes), item  # no literal names here
        m = LIST_RE.match(item)
        assert m, item
        name = m.group(2)
        if name.startswith(b'"'):
            name = re.sub(rb'\\(.)', rb'\1', name[1:-1])
        out[name.decode("ascii")] = set(m.group(1).decode().split())
    return out


FETCH_UID = re.compile(rb"\bUID (\d+)")
FETCH_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")


def imap_fetch_all(c, items="FLAGS BODY.PEEK[]"):
    """UID FETCH 1:* of the selected mailbox as {uid: (flags, literal)}:
    imaplib splits each response around its literal, so UID and FLAGS may
    be on either side of it."""
    out = {}
    data = ok(c.uid("FETCH", "1:*", "(%s)" % items))
    i = 0
    while i < len(data):
        item = data[i]
        i += 1
        if item is None:
            continue
        if isinstance(item, tuple):
            head, literal = item
            if i < len(data) and isinstance(data[i], bytes):
                head += data[i]
                i += 1
        else:
            head, literal = item, None
        uid = int(FETCH_UID.search(head).group(1))
        f = FETCH_FLAGS.search(head)
        # Stored flags: \Recent is the reading session's own (EXAMINE
        # shows what no session claimed yet), see test_imap_flags.py.
        out[uid] = (frozenset(f.group(1).decode().split()) - {"\\Recent"}
                    if f else None, literal)
    return out


def imap_mailbox(srv, mailbox, user=ALICE):
    """What the server holds in `mailbox`, read-only: (UIDVALIDITY,
    UIDNEXT, {uid: (flags, message)})."""
    c = imap_login(srv, user)
    try:
        ok(c.select(quoted(mailbox), readonly=True))
        validity = int(c.response("UIDVALIDITY")[1][0])
        uidnext = int(c.response("UIDNEXT")[1][0])
        return validity, uidnext, imap_fetch_all(c)
    finally:
        c.logout()


def imap_messages(srv, mailbox, user=ALICE):
    """{uid: (flags, message)} of `mailbox`."""
    return imap_mailbox(srv, mailbox, user)[2]


def imap_append(srv, mailbox, msg, flags="", user=ALICE):
    c = imap_login(srv, user)
    try:
        ok(c.append(quoted(mailbox), flags or None, None, msg))
    finally:
        c.logout()


def imap_snapshot(srv, user=ALICE):
    """Every selectable mailbox with its UIDVALIDITY, UIDNEXT, messages
    and flags: two equal snapshots mean nothing changed on the server."""
    c = imap_login(srv, user)
    try:
        names = imap_list(c)
    finally:
        c.logout()
    return {name: imap_mailbox(srv, name, user)
            for name, attrs in names.items() if "\\Noselect" not in attrs}


# ---- mbsync ----

# Maildir info letters and the IMAP flags they stand for.
MAILDIR_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered",
                 "S": "\\Seen", "T": "\\Deleted"}
MBSYNC_NOISE = "*** IMAP Warning *** Password is being sent in the clear"


def mbsync_config(srv, home, user=ALICE, password=PASSWORD, mech="LOGIN"):
    root = home / "Mail"
    root.mkdir(parents=True, exist_ok=True)
    cfg = home / "mbsyncrc"
    cfg.write_text(
        "IMAPAccount acct\n"
        "Host 127.0.0.1\n"
        "Port %d\n"
        "User %s\n"
        "Pass \"%s\"\n"
        "SSLType None\n"
        "AuthMechs %s\n"
        "\n"
        "IMAPStore far\n"
        "Account acct\n"
        "\n"
        "MaildirStore near\n"
        "Path \"%s/\"\n"
        "Inbox \"%s/INBOX\"\n"
        "SubFolders Verbatim\n"
        "\n"
        "Channel sync\n"
        "Far :far:\n"
        "Near :near:\n"
        "Patterns *\n"
        "Create Both\n"
        "Expunge Both\n"
        "SyncState *\n"
        % (srv.imap_port, user, password, mech, root, root))
    cfg.chmod(0o600)
    return cfg, root


def mbsync(cfg, expect=0):
    """Run mbsync on every channel of `cfg`; returns its stderr less the
    warning it always gives for a login without TLS."""
    r = run([tool("mbsync"), "-V", "-c", str(cfg), "-a"],
            env=dict(os.environ, HOME=str(cfg.parent)))
    err = "\n".join(line for line in r.stderr.decode().splitlines()
                    if line.strip() and line != MBSYNC_NOISE)
    log = "mbsync exit %d\nstderr:\n%s\nstdout:\n%s" % (
        r.returncode, err, r.stdout.decode()[-6000:])
    assert r.returncode == expect, log
    if expect == 0:
        assert err == "", log
    return err


def maildir_folders(root):
    """Names of the Maildir folders under `root` ("Projects/2024")."""
    out = set()
    for dirpath, dirs, _ in os.walk(root):
        if {"cur", "new", "tmp"} <= set(dirs):
            out.add(os.path.relpath(dirpath, root))
    return out


def maildir_files(folder):
    """[(path, set of info letters)] of the messages in a Maildir folder."""
    out = []
    for sub in ("new", "cur"):
        for p in sorted((folder / sub).iterdir()):
            info = p.name.split(":2,", 1)[1] if ":2," in p.name else ""
            out.append((p, set(info)))
    return out


def maildir_find(folder, tag):
    """The one file in `folder` whose Subject is `tag`."""
    found = [(p, f) for p, f in maildir_files(folder)
             if subject(p.read_bytes()) == tag]
    assert len(found) == 1, (tag, maildir_files(folder))
    return found[0]


def maildir_set_flags(path, letters):
    """Change a message's flags the way a Maildir mail reader does: by
    renaming it into cur/ with a new info part."""
    base = path.name.split(":2,", 1)[0]
    info = ":2," + "".join(sorted(letters))
    new = path.parent.parent / "cur" / (base + info)
    path.rename(new)
    return new


def maildir_add(folder, name, msg, letters=None):
    """A message put into a Maildir folder by a local program: new/ with
    no info, or cur/ with the given flags."""
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    if letters is None:
        path = folder / "new" / name
    else:
        path = folder / "cur" / (name + ":2," + "".join(sorted(letters)))
    tmp = folder / "tmp" / name
    tmp.write_bytes(msg)
    tmp.rename(path)
    return path


def strip_tuid(msg):
    """mbsync puts an X-TUID header of its own into each message it copies
    (to find it again on the other side); it is not part of the mail."""
    head, sep, rest = msg.partition(b"\n\n")
    lines = [l for l in head.split(b"\n") if not l.startswith(b"X-TUID: ")]
    return b"\n".join(lines) + sep + rest


def assert_in_sync(srv, root, user=ALICE):
    """Every folder holds the same messages with the same flags on both
    sides: the Maildir copy is the server's message with LF line ends
    (less mbsync's X-TUID header), and nothing deleted is left anywhere."""
    server = imap_snapshot(srv, user)
    assert set(server) == maildir_folders(root)
    for name, (_, _, msgs) in server.items():
        far = sorted((strip_tuid(m.replace(b"\r\n", b"\n")),
                      tuple(sorted(flags))) for flags, m in msgs.values())
        near = sorted((strip_tuid(p.read_bytes()),
                       tuple(sorted(MAILDIR_FLAGS[x] for x in letters)))
                      for p, letters in maildir_files(root / name))
        assert far == near, name
        assert all("\\Deleted" not in f for _, f in far), name


def maildir_snapshot(root):
    """Every message file under `root` (name and content) and every
    folder: two equal snapshots mean nothing changed locally."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            if f.startswith(".mbsyncstate") or f == ".uidvalidity":
                continue
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = fh.read()
    return maildir_folders(root), out


def by_subject(msgs):
    """{uid: (flags, message)} as {Subject: (uid, flags, message)}."""
    out = {}
    for uid, (flags, m) in msgs.items():
        out[subject(m)] = (uid, flags, m)
    assert len(out) == len(msgs), "subjects not unique"
    return out


LOCAL_MSG = (b"From: Alice <alice@example.com>\n"
             b"To: Someone <someone@example.org>\n"
             b"Subject: %s\n"
             b"Message-Id: <%s@client.test>\n"
             b"Content-Type: text/plain; charset=utf-8\n"
             b"Content-Transfer-Encoding: 8bit\n"
             b"\n"
             b"Written locally.\n"
             b".\n"
             b"..two dots\n"
             b"\xc3\xa4\xc3\xb6\xc3\xbc\n")


def local_msg(tag):
    return LOCAL_MSG % (tag.encode(), tag.encode())


def test_mbsync_two_way_sync(server, tmp_path):
    tool("mbsync")
    cfg, root = mbsync_config(server, tmp_path)
    body = b"A line.\r\n.leading dot\r\n\xc3\xa4 8bit\r\n"
    for i in range(1, 4):
        deliver(server, ALICE, "inbox-%d" % i, body)
    imap_append(server, "Sent", make_message("sent-1"), "(\\Seen)")

    # 1: the first sync pulls every folder down.
    mbsync(cfg)
    assert maildir_folders(root) == {"INBOX", "Archive", "Drafts", "Junk",
                                     "Sent", "Trash"}
    assert_in_sync(server, root)
    assert len(maildir_files(root / "INBOX")) == 3
    [(_, letters)] = maildir_files(root / "Sent")
    assert letters == {"S"}

    # 2: changes on both sides.
    inbox = root / "INBOX"
    p1, _ = maildir_find(inbox, "inbox-1")
    maildir_set_flags(p1, {"S"})
    p2, _ = maildir_find(inbox, "inbox-2")
    maildir_set_flags(p2, {"F"})
    p3, _ = maildir_find(inbox, "inbox-3")
    maildir_set_flags(p3, {"S", "T"})  # deleted: Expunge Both removes it
    maildir_add(root / "Archive", "1700000000.1.client", local_msg("archived"),
                {"S"})
    for folder in ("Receipts", "Projects", "Projects/2024"):
        tag = "in-" + folder.replace("/", "-")
        maildir_add(root / folder, "1700000001.%s.client" % tag.lower(),
                    local_msg(tag))
    deliver(server, ALICE, "inbox-4")
    c = imap_login(server)
    try:
        ok(c.select("INBOX"))
        inbox_far = by_subject(imap_fetch_all(c))
        ok(c.uid("STORE", str(inbox_far["inbox-2"][0]), "+FLAGS",
                 "(\\Answered)"))
        ok(c.select("Sent"))
        [uid] = imap_fetch_all(c)
        ok(c.uid("MOVE", str(uid), "Trash"))
    finally:
        c.logout()

    mbsync(cfg)
    assert_in_sync(server, root)
    far = by_subject(imap_messages(server, "INBOX"))
    assert sorted(far) == ["inbox-1", "inbox-2", "inbox-4"]
    assert far["inbox-1"][1] == {"\\Seen"}
    assert far["inbox-2"][1] == {"\\Flagged", "\\Answered"}
    assert far["inbox-4"][1] == set()
    assert maildir_find(inbox, "inbox-2")[1] == {"F", "R"}
    assert maildir_find(inbox, "inbox-4")[1] == set()
    # The upload is the local file with CRLF line ends, and the flag.
    [(flags, msg)] = imap_messages(server, "Archive").values()
    assert flags == {"\\Seen"}
    assert strip_tuid(msg.replace(b"\r\n", b"\n")) == local_msg("archived")
    # The local folders were created on the server, nested ones too.
    c = imap_login(server)
    try:
        names = imap_list(c)
    finally:
        c.logout()
    assert set(names) == {"INBOX", "Archive", "Drafts", "Junk", "Sent",
                          "Trash", "Receipts", "Projects", "Projects/2024"}
    assert "\\HasChildren" in names["Projects"]
    [(_, msg)] = imap_messages(server, "Projects/2024").values()
    assert subject(msg) == "in-Projects-2024"
    # The message moved on the server moved locally too.
    assert maildir_files(root / "Sent") == []
    assert maildir_find(root / "Trash", "sent-1")[1] == {"S"}

    # 3: nothing changed since, so a sync changes nothing.
    far_before = imap_snapshot(server)
    near_before = maildir_snapshot(root)
    mbsync(cfg)
    assert imap_snapshot(server) == far_before
    assert maildir_snapshot(root) == near_before

    # 4: a deletion on the server reaches the Maildir.
    c = imap_login(server)
    try:
        ok(c.select("INBOX"))
        uid = by_subject(imap_fetch_all(c))["inbox-1"][0]
        ok(c.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)"))
        ok(c.expunge())
    finally:
        c.logout()
    mbsync(cfg)
    assert_in_sync(server, root)
    assert sorted(subject(p.read_bytes()) for p, _ in
                  maildir_files(inbox)) == ["inbox-2", "inbox-4"]


def test_mbsync_plain_and_bad_password(server, tmp_path):
    """AUTHENTICATE PLAIN (through Cyrus SASL); a wrong password fails
    the sync and changes nothing."""
    tool("mbsync")
    sent = deliver(server, BOB, "for-bob", b"x" * 70 + b"\r\n" * 3000)
    bad, bad_root = mbsync_config(server, tmp_path / "bad", user=BOB,
                                  password="wrong", mech="PLAIN")
    err = mbsync(bad, expect=1)
    assert "IMAP" in err and "rror" in err, err
    assert maildir_folders(bad_root) == set()

    cfg, root = mbsync_config(server, tmp_path / "good", user=BOB,
                              mech="PLAIN")
    mbsync(cfg)
    [(p, letters)] = maildir_files(root / "INBOX")
    assert letters == set()
    got = strip_tuid(p.read_bytes()).replace(b"\n", b"\r\n")
    assert body_of(got) == sent
    assert_in_sync(server, root, BOB)
    # Alice's mail stays Alice's.
    assert imap_messages(server, "INBOX", ALICE) == {}


# ---- curl ----

def curl_imap(srv, path="", *extra, user=ALICE, password=PASSWORD,
              expect=0):
    """curl on imap://127.0.0.1:PORT/PATH; returns its output (bytes)."""
    r = run([tool("curl"), "-sS", "-u", "%s:%s" % (user, password), *extra,
             "imap://127.0.0.1:%d/%s" % (srv.imap_port, path)])
    assert r.returncode == expect, (r.returncode, r.stderr.decode(),
                                    r.stdout[:2000])
    return r.stdout


def test_curl_imap_list(server):
    out = curl_imap(server)
    c = imap_login(server)
    try:
        want = b"".join(b"* LIST " + item + b"\r\n" for item in ok(c.list()))
        ok(c.create("Work/Reports"))
    finally:
        c.logout()
    assert out == want
    assert re.findall(rb'^\* LIST \([^)]*\) "/" (\S+)\r$', out, re.M) == [
        b"Archive", b"Drafts", b"INBOX", b"Junk", b"Sent", b"Trash"]
    assert b'* LIST (\\HasNoChildren \\Sent) "/" Sent\r\n' in out
    # A path ending in the delimiter lists what lies below it.
    out = curl_imap(server, "Work/")
    assert sorted(out.split(b"\r\n")) == [
        b"", b'* LIST (\\HasChildren) "/" Work',
        b'* LIST (\\HasNoChildren) "/" Work/Reports'], out
    curl_imap(server, "", user=ALICE, password="wrong", expect=67)


def test_curl_imap_fetch_by_uid(server):
    sent = [deliver(server, ALICE, "one", b".dot\r\n..two\r\n\xc3\xa4\r\n"),
            deliver(server, ALICE, "two",
                    b"".join(b"line %06d %s\r\n" % (i, b"x" * 60)
                             for i in range(5000))),
            deliver(server, ALICE, "three")]
    validity, _, stored = imap_mailbox(server, "INBOX")
    assert [body_of(stored[u][1]) for u in (1, 2, 3)] == sent

    # Fetching the whole message sets \Seen on that message only.
    assert curl_imap(server, "INBOX;UID=1") == stored[1][1]
    flags = {u: f for u, (f, _) in imap_messages(server, "INBOX").items()}
    assert flags == {1: {"\\Seen"}, 2: set(), 3: set()}

    assert curl_imap(server, "INBOX;UID=2") == stored[2][1]
    assert curl_imap(server, "INBOX/;UID=2") == stored[2][1]
    assert curl_imap(server, "INBOX;MAILINDEX=3") == stored[3][1]
    assert curl_imap(server, "INBOX;UIDVALIDITY=%d;UID=3" % validity) == \
        stored[3][1]
    head, sep, text = stored[1][1].partition(b"\r\n\r\n")
    assert curl_imap(server, "INBOX;UID=1;SECTION=HEADER") == head + sep
    assert curl_imap(server, "INBOX;UID=1;SECTION=TEXT") == text
    assert curl_imap(server, "INBOX;UID=2;PARTIAL=0.10") == stored[2][1][:10]
    assert curl_imap(server, "INBOX;UID=2;PARTIAL=100.7") == \
        stored[2][1][100:107]

    # curl checks UIDVALIDITY, and says so when a UID is not there.
    curl_imap(server, "INBOX;UIDVALIDITY=%d;UID=1" % (validity + 1),
              expect=78)
    curl_imap(server, "INBOX;UID=99", expect=78)
    curl_imap(server, "Nowhere;UID=1", expect=67)  # curl: "Select failed"
    after = imap_messages(server, "INBOX")
    assert {u: m for u, (_, m) in after.items()} == {
        u: m for u, (_, m) in stored.items()}
    assert all(f == {"\\Seen"} for f, _ in after.values())


def test_curl_imap_custom_requests(server):
    for tag in ("one", "two", "three"):
        deliver(server, ALICE, tag)
    validity, uidnext, before = imap_mailbox(server, "INBOX")

    out = curl_imap(server, "", "-X", "EXAMINE INBOX")
    assert b"* 3 EXISTS\r\n" in out, out
    assert b"[UIDVALIDITY %d]" % validity in out, out
    assert b"[UIDNEXT %d]" % uidnext in out, out
    assert b"[PERMANENTFLAGS ()]" in out, out  # read-only

    assert curl_imap(server, "INBOX", "-X", "SEARCH ALL") == \
        b"* SEARCH 1 2 3\r\n"
    assert curl_imap(server, "INBOX", "-X", "UID SEARCH SUBJECT two") == \
        b"* SEARCH 2\r\n"
    assert curl_imap(server, "INBOX?SUBJECT%20three") == b"* SEARCH 3\r\n"
    assert curl_imap(server, "INBOX?SUBJECT%20nothing") == b"* SEARCH\r\n"
    assert imap_messages(server, "INBOX") == before  # nothing was read

    curl_imap(server, "INBOX", "-X", "UID STORE 2 +FLAGS (\\Flagged)")
    assert imap_messages(server, "INBOX")[2][0] == {"\\Flagged"}

    curl_imap(server, "", "-X", 'CREATE "Work"')
    out = curl_imap(server, "", "-X", 'STATUS "Work" (MESSAGES UIDNEXT)')
    assert out == b'* STATUS Work (MESSAGES 0 UIDNEXT 1)\r\n', out
    curl_imap(server, "INBOX", "-X", 'UID COPY 1:2 "Work"')
    curl_imap(server, "", "-X", 'RENAME "Work" "Play"')
    c = imap_login(server)
    try:
        assert "Work" not in imap_list(c) and "Play" in imap_list(c)
    finally:
        c.logout()
    assert sorted(subject(m) for _, m in
                  imap_messages(server, "Play").values()) == ["one", "two"]
    curl_imap(server, "", "-X", 'DELETE "Play"')
    c = imap_login(server)
    try:
        assert "Play" not in imap_list(c)
    finally:
        c.logout()


def test_curl_imap_upload(server, tmp_path):
    msg = (b"From: Alice <alice@example.com>\r\n"
           b"To: bob@example.com\r\n"
           b"Subject: uploaded by curl\r\n"
           b"Message-Id: <curl-up@client.test>\r\n"
           b"\r\n"
           b".dot line\r\n"
           b".\r\n"
           b"\xc3\xa4\xc3\xb6\xc3\xbc 8bit\r\n"
           b"last line\r\n")
    f = tmp_path / "msg.eml"
    f.write_bytes(msg)
    assert curl_imap(server, "Sent", "-T", str(f)) == b""
    [(flags, got)] = imap_messages(server, "Sent").values()
    assert got == msg
    assert flags == {"\\Seen"}  # curl uploads with \Seen
    # To a mailbox that does not exist: refused, and nothing is created.
    curl_imap(server, "Nowhere", "-T", str(f), expect=25)
    c = imap_login(server)
    try:
        assert "Nowhere" not in imap_list(c)
    finally:
        c.logout()
    # Into a folder with a space in its name (curl quotes it).
    c = imap_login(server)
    try:
        ok(c.create('"My Stuff"'))
    finally:
        c.logout()
    curl_imap(server, "My%20Stuff", "-T", str(f))
    [(_, got)] = imap_messages(server, "My Stuff").values()
    assert got == msg
    assert curl_imap(server, "My%20Stuff;UID=1") == msg


# ---- fetchmail ----

def fetchmail_imap(srv, home, *args, user=ALICE, password=PASSWORD,
                   folders=()):
    """fetchmail over IMAP with an rc file written for it in `home`;
    returns (exit code, output)."""
    prog = tool("fetchmail")
    home.mkdir(parents=True, exist_ok=True)
    rc = home / "fetchmailrc"
    rc.write_text(
        "set no bouncemail\n"
        "poll 127.0.0.1 with proto IMAP port %d auth password\n"
        "  user \"%s\" there with password \"%s\" is \"%s\" here\n"
        "  sslproto '' no rewrite\n"
        "%s"
        % (srv.imap_port, user, password, getpass.getuser(),
           "  folder %s\n" % ",".join('"%s"' % f for f in folders)
           if folders else ""))
    rc.chmod(0o600)
    env = dict(os.environ, HOME=str(home), FETCHMAILHOME=str(home))
    r = run([prog, "--fetchmailrc", str(rc), "--pidfile",
             str(home / "fetchmail.pid"), *args], env=env)
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


def mda_into(directory):
    """An MDA command that writes each message into a file of its own."""
    directory.mkdir(parents=True, exist_ok=True)
    return "cat > \"$(mktemp %s/msg.XXXXXX)\"" % directory


def fetched(directory):
    """The messages an MDA from mda_into() wrote, without the Received
    header fetchmail adds.  fetchmail hands them over with LF line ends:
    compare them with lf(what the server has)."""
    return sorted(without_fetchmail_received(p.read_bytes())
                  for p in directory.iterdir())


def lf(msg):
    return msg.replace(b"\r\n", b"\n")


def test_fetchmail_imap_keep_then_nokeep(server, tmp_path):
    home = tmp_path / "home"
    deliver(server, ALICE, "fm0", b".dot\r\n..two\r\n\xc3\xa4\r\n")
    deliver(server, ALICE, "fm1",
            b"".join(b"line %06d %s\r\n" % (i, b"y" * 70)
                     for i in range(4000)))
    # What a server that miscounted a literal would have the client read
    # as its next responses.
    deliver(server, ALICE, "fm3", b"bare\nLF\n.\n)\r\n"
            b"A0005 OK FETCH completed\r\n* 1 FETCH (FLAGS (\\Deleted))\r\n")
    headers_only = (b"From: sender@example.org\r\nTo: alice@example.com\r\n"
                    b"Subject: fm2\r\n")
    assert smtp_send(server.smtp_port, ALICE, headers_only)[0] == 250
    validity, uidnext, stored = imap_mailbox(server, "INBOX")
    assert len(stored) == 4

    code, log = fetchmail_imap(server, home, "--keep", "--mda",
                               mda_into(home / "out1"))
    assert code == 0, log
    # fetchmail reads RFC822.HEADER and BODY[TEXT] and joins them; to a
    # header without a body it adds the empty line that ends a header.
    assert fetched(home / "out1") == sorted(
        lf(m) + b"\n" if subject(m) == "fm2" else lf(m)
        for _, m in stored.values())
    # The messages stay, marked \Seen.
    after = imap_messages(server, "INBOX")
    assert {u: m for u, (_, m) in after.items()} == {
        u: m for u, (_, m) in stored.items()}
    assert all(f == {"\\Seen"} for f, _ in after.values()), after

    # With --keep, only what is still unseen comes the next time.
    deliver(server, ALICE, "fm-new")
    code, log = fetchmail_imap(server, home, "--keep", "--mda",
                               mda_into(home / "out2"))
    assert code == 0, log
    [new] = fetched(home / "out2")
    assert subject(new) == "fm-new"
    assert b"\r" not in new
    assert len(imap_messages(server, "INBOX")) == 5

    # Everything, deleted and expunged on the server afterwards.
    _, _, stored = imap_mailbox(server, "INBOX")
    code, log = fetchmail_imap(server, home, "--nokeep", "--all", "--mda",
                               mda_into(home / "out3"))
    assert code == 0, log
    assert fetched(home / "out3") == sorted(
        lf(m) + b"\n" if subject(m) == "fm2" else lf(m)
        for _, m in stored.values())
    assert imap_mailbox(server, "INBOX") == (validity, uidnext + 1, {})
    code, log = fetchmail_imap(server, home, "--check")
    assert code == 1, log  # 1: no mail


def test_fetchmail_imap_folders(server, tmp_path):
    home = tmp_path / "home"
    deliver(server, ALICE, "in-inbox")
    imap_append(server, "Archive", make_message("archived-seen"), "(\\Seen)")
    imap_append(server, "Archive", make_message("archived-new"))
    deliver(server, BOB, "for-bob")
    want = sorted(m for f in ("INBOX", "Archive")
                  for _, m in imap_messages(server, f).values())
    code, log = fetchmail_imap(server, home, "--nokeep", "--all", "--mda",
                               mda_into(home / "out"),
                               folders=("INBOX", "Archive"))
    assert code == 0, log
    assert fetched(home / "out") == sorted(lf(m) for m in want)
    assert imap_messages(server, "INBOX") == {}
    assert imap_messages(server, "Archive") == {}
    assert len(imap_messages(server, "INBOX", BOB)) == 1


def imap_exchange(c, tag, command):
    """Send one command; returns every line up to its tagged reply."""
    c.send("%s %s\r\n" % (tag, command))
    lines = []
    while not lines or not lines[-1].startswith(tag.encode() + b" "):
        lines.append(c.line())
    return lines


def test_fetchmail_exchange_after_expunge(server):
    """fetchmail --nokeep stores \\Deleted on a message and expunges it,
    then goes on by sequence number: FETCH and STORE.  The session's own
    EXPUNGE is no news after it is told; it once held the session's view
    back, so that every FETCH and STORE told all flag changes since again
    and the next NOOP an EXISTS for nothing."""
    for i in range(3):
        deliver(server, ALICE, "m%d" % i)
    with Client(server.imap_port) as c:
        assert c.line().startswith(b"* OK ")
        assert imap_exchange(c, "A1", 'LOGIN %s "%s"' % (ALICE, PASSWORD))[
            -1].startswith(b"A1 OK ")
        assert imap_exchange(c, "A2", "SELECT INBOX")[-1].startswith(
            b"A2 OK ")
        # The first SELECT after the deliveries: all three are \Recent
        # in this session (RFC 3501 2.3.2).
        assert imap_exchange(c, "A3", "STORE 1 +FLAGS (\\Seen \\Deleted)") == [
            b"* 1 FETCH (FLAGS (\\Recent \\Seen \\Deleted))",
            b"A3 OK STORE completed"]
        assert imap_exchange(c, "A4", "EXPUNGE") == [
            b"* 1 EXPUNGE", b"A4 OK EXPUNGE completed"]
        assert imap_exchange(c, "A5", "FETCH 1 (FLAGS)") == [
            b"* 1 FETCH (FLAGS (\\Recent))", b"A5 OK FETCH completed"]
        assert imap_exchange(c, "A6", "STORE 1 +FLAGS (\\Seen)") == [
            b"* 1 FETCH (FLAGS (\\Recent \\Seen))", b"A6 OK STORE completed"]
        assert imap_exchange(c, "A7", "STORE 2 +FLAGS (\\Seen)") == [
            b"* 2 FETCH (FLAGS (\\Recent \\Seen))", b"A7 OK STORE completed"]
        assert imap_exchange(c, "A8", "FETCH 1:* (FLAGS)") == [
            b"* 1 FETCH (FLAGS (\\Recent \\Seen))",
            b"* 2 FETCH (FLAGS (\\Recent \\Seen))",
            b"A8 OK FETCH completed"]
        assert imap_exchange(c, "A9", "NOOP") == [b"A9 OK NOOP completed"]
        assert imap_exchange(c, "A10", "LOGOUT")[-1].startswith(b"A10 OK ")


def test_fetchmail_imap_bad_password(server, tmp_path):
    deliver(server, ALICE, "stays")
    before = imap_messages(server, "INBOX")
    code, log = fetchmail_imap(server, tmp_path / "home", "--nokeep", "--all",
                               password="wrong")
    assert code == 3, log  # 3: authentication failed
    assert imap_messages(server, "INBOX") == before


# ---- mutt ----

def muttrc(srv, home, user=ALICE, mech="login"):
    home.mkdir(parents=True, exist_ok=True)
    rc = home / "muttrc"
    rc.write_text(
        'set folder="imap://127.0.0.1:%d/"\n'
        'set imap_user="%s"\n'
        'set imap_pass="%s"\n'
        'set imap_authenticators="%s"\n'
        'set ssl_starttls=no\n'
        'set ssl_force_tls=no\n'
        'set spoolfile="+INBOX"\n'
        'set record="+Sent"\n'
        'set copy=yes\n'
        'set smtp_url="smtp://127.0.0.1:%d/"\n'
        'set from="%s"\n'
        'set realname="Mutt User"\n'
        'set use_from=yes\n'
        'set hostname="client.test"\n'
        'set header_cache=""\n'
        'set message_cachedir=""\n'
        # Nothing may ask a question that no one answers.
        'set quit=yes\n'
        'set move=no\n'
        'set delete=yes\n'
        'set confirmappend=no\n'
        'set confirmcreate=no\n'
        'set mark_old=no\n'
        'set wait_key=no\n'
        'set beep=no\n'
        'set sleep_time=0\n'
        'set mail_check_stats=no\n'
        % (srv.imap_port, user, PASSWORD, mech, srv.smtp_port, user))
    rc.chmod(0o600)
    return rc


def mutt_env(home):
    return dict(os.environ, HOME=str(home), TERM="vt100", LC_ALL="C.UTF-8")


def run_in_terminal(args, env, timeout=120):
    """Run `args` on a pseudo-terminal of its own (mutt's screen needs
    one), reading all it draws; returns (exit code, what it drew).  The
    keys it is to press are all given up front (push), so nothing here
    waits for the program to get anywhere."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 132, 0, 0))
    p = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave,
                         env=env, start_new_session=True)
    os.close(slave)
    out = bytearray()
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            if not select.select([master], [], [], 1)[0]:
                continue
            try:
                got = os.read(master, 65536)
            except OSError:  # EIO: the program and its children are gone
                break
            if not got:
                break
            out += got
    finally:
        os.close(master)
        if p.poll() is None:
            try:
                p.wait(timeout=max(1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                raise AssertionError("%s hangs; its screen:\n%s" % (
                    args[0], screen_text(out)))
    return p.returncode, screen_text(out)


def screen_text(raw):
    """What a program drew, without the terminal's control sequences."""
    text = re.sub(rb"\x1b(\[[0-9;?]*[A-Za-z]|[()][0-9A-Za-z]|[=>])", b"\n",
                  bytes(raw))
    text = re.sub(rb"[\x00-\x09\x0b-\x1f]", b"", text)
    return "\n".join(l for l in text.decode("utf-8", "replace").split("\n")
                     if l.strip())


def test_mutt_batch_send_keeps_copy_in_sent(server, tmp_path):
    """mutt in batch mode (no terminal) sends through SMTP and files its
    copy in the IMAP Sent folder (APPEND)."""
    mutt = tool("mutt")
    home = tmp_path / "home"
    rc = muttrc(server, home)
    (home / "note.txt").write_bytes(b"attached\n.\n\xc3\xa4\n")
    body = tmp_path / "body.txt"
    body.write_bytes(b"Hello Bob,\n.\nfrom mutt.\n")
    with open(body, "rb") as stdin:
        r = run([mutt, "-n", "-F", str(rc), "-s", "mutt batch",
                 "-a", str(home / "note.txt"), "--", BOB], stdin=stdin,
                env=mutt_env(home))
    assert r.returncode == 0, (r.stdout + r.stderr).decode()
    [(flags, copy)] = imap_messages(server, "Sent").values()
    assert flags == {"\\Seen"}
    assert subject(copy) == "mutt batch"
    assert b"\r\n\r\nHello Bob,\r\n.\r\nfrom mutt.\r\n" in copy
    assert re.search(rb'\r\nContent-Type: multipart/mixed; boundary="([^"]+)"'
                     rb"\r\n", copy), copy
    # Bob got the message mutt filed, byte for byte but for the Date
    # header, which mutt writes anew for its copy.
    [(flags, got)] = imap_messages(server, "INBOX", BOB).values()
    assert flags == set()
    undated = re.compile(rb"^Date: [^\r]*\r\n", re.M)
    assert undated.sub(b"", body_of(got), 1) == undated.sub(b"", copy, 1)
    assert imap_messages(server, "INBOX") == {}


def test_mutt_reads_flags_saves_and_deletes(server, tmp_path):
    """mutt on a terminal: reads INBOX over IMAP, pipes a message out,
    flags one, saves one to Archive and one to a folder that does not
    exist yet (with a non-ASCII name), deletes one; the server has the
    outcome afterwards."""
    mutt = tool("mutt")
    home = tmp_path / "home"
    rc = muttrc(server, home, mech="plain")
    sent = {tag: deliver(server, ALICE, tag,
                         b"Body of %s.\r\n.\r\n\xc3\xa4\r\n" % tag.encode())
            for tag in ("keep-me", "move-me", "file-me", "delete-me")}
    before = by_subject(imap_messages(server, "INBOX"))
    piped = tmp_path / "piped.eml"
    keys = ("<limit>~s keep-me<enter>"
            "<pipe-message>cat > %s<enter>"
            "<flag-message>"
            "<limit>~s move-me<enter>"
            "<save-message>=Archive<enter>"
            "<limit>~s file-me<enter>"
            "<save-message>=Entw\u00fcrfe<enter>"
            "<limit>~s delete-me<enter>"
            "<delete-message>"
            "<limit>~A<enter>"
            "<sync-mailbox>"
            "<quit>" % piped)
    code, screen = run_in_terminal(
        [mutt, "-n", "-F", str(rc), "-e", "push '%s'" % keys],
        mutt_env(home))
    assert code == 0, screen
    assert piped.read_bytes() == \
        before["keep-me"][2].replace(b"\r\n", b"\n"), screen

    after = by_subject(imap_messages(server, "INBOX"))
    assert sorted(after) == ["keep-me"], screen
    assert "\\Flagged" in after["keep-me"][1], screen
    assert after["keep-me"][0] == before["keep-me"][0]
    [(_, moved)] = imap_messages(server, "Archive").values()
    assert moved == before["move-me"][2]
    assert body_of(moved) == sent["move-me"]
    # mutt created the folder (after COPY said TRYCREATE) under its name
    # in modified UTF-7 (RFC 3501 5.1.3).
    c = imap_login(server)
    try:
        assert "Entw&APw-rfe" in imap_list(c)
    finally:
        c.logout()
    [(_, filed)] = imap_messages(server, "Entw&APw-rfe").values()
    assert filed == before["file-me"][2]
