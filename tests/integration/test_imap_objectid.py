"""RFC 8474 OBJECTID (MAILBOXID, EMAILID, THREADID) and RFC 8514
SAVEDATE, spoken on a raw socket so the exact response grammar is what
is checked: ids stable across RENAME, COPY and MOVE, never given again
after a delete, apart between accounts; a THREADID shared by a
conversation, replies delivered over SMTP included, in every mailbox;
SAVEDATE and the SAVED* search keys against the time the message was put
into each mailbox."""

import imaplib
import re
import time

from conftest import PASSWORD, smtp_send
from test_imap_compress import connect, login

ALICE = "alice@example.com"
BOB = "bob@example.com"

OBJECTID = rb"[A-Za-z0-9_-]{1,255}"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
          "Oct", "Nov", "Dec"]


def cmd(w, tag, text):
    """Send `tag text`; returns (untagged lines, tagged line), the tagged
    one checked to be OK."""
    w.send(b"%s %s\r\n" % (tag, text))
    lines, r = w.tagged(tag)
    assert r.startswith(tag + b" OK"), (text, r)
    return lines, r


def append(srv, user, msgs, box="INBOX"):
    m = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=30)
    m.login(user, PASSWORD)
    for msg in msgs:
        assert m.append(box, None, None, msg)[0] == "OK"
    m.logout()


def status_id(w, tag, name):
    lines, _ = cmd(w, tag, b"STATUS %s (MAILBOXID)" % name)
    assert len(lines) == 1, lines
    m = re.fullmatch(rb'\* STATUS "?%s"? \(MAILBOXID \((%s)\)\)' % (
        re.escape(name), OBJECTID), lines[0])
    assert m, lines
    return m.group(1)


def select_id(w, tag, name, verb=b"SELECT"):
    lines, _ = cmd(w, tag, verb + b" " + name)
    found = [re.fullmatch(rb"\* OK \[MAILBOXID \((%s)\)\] .*" % OBJECTID, l)
             for l in lines]
    found = [m.group(1) for m in found if m]
    assert len(found) == 1, lines
    return found[0]


def fetch_ids(w, tag, what=b"1:*"):
    """{uid: (emailid, threadid, savedate)} by UID FETCH."""
    lines, _ = cmd(w, tag, b"UID FETCH %s (EMAILID THREADID SAVEDATE)"
                   % what)
    out = {}
    for l in lines:
        m = re.fullmatch(rb'\* \d+ FETCH \(UID (\d+) EMAILID \((%s)\) '
                         rb'THREADID \((%s)\) SAVEDATE "([ 0-9]\d-[A-Z][a-z]'
                         rb'{2}-\d{4} \d\d:\d\d:\d\d [+-]\d{4})"\)'
                         % (OBJECTID, OBJECTID), l)
        assert m, l
        out[int(m.group(1))] = (m.group(2), m.group(3), m.group(4))
    return out


def test_capabilities(server):
    w = connect(server)
    login(w)
    lines, _ = cmd(w, b"c", b"CAPABILITY")
    caps = lines[0].split()
    assert b"OBJECTID" in caps and b"SAVEDATE" in caps, lines


def test_mailboxid(server):
    w = connect(server)
    login(w)
    inbox = status_id(w, b"s1", b"INBOX")
    assert select_id(w, b"s2", b"INBOX") == inbox
    assert select_id(w, b"s3", b"INBOX", b"EXAMINE") == inbox
    _, r = cmd(w, b"c1", b"CREATE foo")
    m = re.fullmatch(rb"c1 OK \[MAILBOXID \((%s)\)\] .*" % OBJECTID, r)
    assert m, r
    foo = m.group(1)
    assert foo != inbox
    assert status_id(w, b"s4", b"foo") == foo
    # LIST-STATUS (RFC 5819) carries it too.
    lines, _ = cmd(w, b"l", b'LIST "" "foo" RETURN (STATUS (MAILBOXID))')
    assert lines[1] == b"* STATUS foo (MAILBOXID (%s))" % foo, lines
    # Stable across RENAME, also of its parent.
    cmd(w, b"r1", b"RENAME foo bar")
    assert status_id(w, b"s5", b"bar") == foo
    cmd(w, b"c2", b"CREATE bar/child")
    child = status_id(w, b"s6", b"bar/child")
    cmd(w, b"r2", b"RENAME bar baz")
    assert status_id(w, b"s7", b"baz/child") == child
    assert status_id(w, b"s8", b"baz") == foo
    # The newest mailbox deleted: its id is not given again, nor is the
    # name's old one.
    cmd(w, b"d1", b"DELETE baz/child")
    cmd(w, b"d2", b"DELETE baz")
    cmd(w, b"c3", b"CREATE baz")
    again = status_id(w, b"s9", b"baz")
    assert again not in (foo, child, inbox)
    # Another account's INBOX has an id of its own.
    v = connect(server)
    login(v, BOB)
    assert status_id(v, b"s", b"INBOX") != inbox


def today():
    t = time.gmtime()
    return b"%d-%s-%d" % (t.tm_mday, MONTHS[t.tm_mon - 1].encode(),
                          t.tm_year)


def test_emailid_and_savedate(server):
    append(server, ALICE, [b"Subject: one\r\n\r\none\r\n",
                           b"Subject: two\r\n\r\ntwo\r\n"])
    append(server, BOB, [b"Subject: bob\r\n\r\nbob\r\n"])
    w = connect(server)
    login(w)
    cmd(w, b"c", b"CREATE Other")
    select_id(w, b"s", b"INBOX")
    ids = fetch_ids(w, b"f1")
    assert sorted(ids) == [1, 2]
    assert ids[1][0] != ids[2][0]
    # Saved today, as the server's clock says (UTC).
    day, mon, year = re.match(rb"\s?(\d+)-(\w+)-(\d+) ", ids[1][2]).groups()
    assert b"%d-%s-%d" % (int(day), mon, int(year)) == today(), ids[1][2]
    # The same message in another mailbox keeps its EMAILID, by COPY and
    # by MOVE.
    cmd(w, b"k", b"UID COPY 1 Other")
    cmd(w, b"m", b"UID MOVE 2 Other")
    select_id(w, b"s2", b"Other")
    other = fetch_ids(w, b"f2")
    assert sorted(v[0] for v in other.values()) == \
        sorted([ids[1][0], ids[2][0]])
    # And its THREADID.
    assert sorted(v[1] for v in other.values()) == \
        sorted([ids[1][1], ids[2][1]])
    # SEARCH by EMAILID finds the copy; an id of no thread, nothing.
    lines, _ = cmd(w, b"q1", b"UID SEARCH EMAILID " + ids[2][0])
    uid2 = [u for u, v in other.items() if v[0] == ids[2][0]]
    assert lines == [b"* SEARCH %d" % uid2[0]], lines
    lines, _ = cmd(w, b"q2", b"UID SEARCH THREADID T1")
    assert lines == [b"* SEARCH"], lines
    lines, _ = cmd(w, b"q3", b"UID SEARCH EMAILID Mzz-zz")
    assert lines == [b"* SEARCH"], lines
    # The SAVED* keys (RFC 8514 4.2) on the date the copies were made.
    day = today()
    lines, _ = cmd(w, b"q4", b"UID SEARCH SAVEDON " + day)
    assert lines == [b"* SEARCH 1 2"], lines
    lines, _ = cmd(w, b"q5", b"UID SEARCH SAVEDBEFORE " + day)
    assert lines == [b"* SEARCH"], lines
    lines, _ = cmd(w, b"q6", b"UID SEARCH SAVEDSINCE " + day)
    assert lines == [b"* SEARCH 1 2"], lines
    lines, _ = cmd(w, b"q7", b"UID SEARCH SAVEDATESUPPORTED")
    assert lines == [b"* SEARCH 1 2"], lines
    # Bob's message is not found by Alice's ids, and has ids of its own.
    v = connect(server)
    login(v, BOB)
    select_id(v, b"s", b"INBOX")
    bob = fetch_ids(v, b"f")
    assert bob[1][0] not in (ids[1][0], ids[2][0])
    lines, _ = cmd(v, b"q", b"UID SEARCH EMAILID " + ids[1][0])
    assert lines == [b"* SEARCH"], lines


def test_emailid_never_given_again(server):
    """The newest message expunged for good, then another stored: SQLite
    would give the new bytes the old row's number; the store does not."""
    append(server, ALICE, [b"Subject: a\r\n\r\na\r\n",
                           b"Subject: b\r\n\r\nb\r\n"])
    w = connect(server)
    login(w)
    select_id(w, b"s", b"INBOX")
    before = fetch_ids(w, b"f1")
    cmd(w, b"st", b"UID STORE 2 +FLAGS.SILENT (\\Deleted)")
    cmd(w, b"x", b"EXPUNGE")
    append(server, ALICE, [b"Subject: c\r\n\r\nc\r\n"])
    cmd(w, b"n", b"NOOP")
    after = fetch_ids(w, b"f2")
    assert sorted(after) == [1, 3]
    assert after[1][0] == before[1][0]
    assert after[3][0] not in (before[1][0], before[2][0])


def test_fetch_items_alone(server):
    """Each item alone, with the grammar of RFC 8474 5.1 and RFC 8514 4.1."""
    append(server, ALICE, [b"Subject: x\r\n\r\nx\r\n"])
    w = connect(server)
    login(w)
    select_id(w, b"s", b"INBOX")
    lines, _ = cmd(w, b"a", b"FETCH 1 EMAILID")
    assert re.fullmatch(rb"\* 1 FETCH \(EMAILID \(%s\)\)" % OBJECTID,
                        lines[0]), lines
    lines, _ = cmd(w, b"b", b"FETCH 1 THREADID")
    assert re.fullmatch(rb"\* 1 FETCH \(THREADID \(%s\)\)" % OBJECTID,
                        lines[0]), lines
    lines, _ = cmd(w, b"c", b"FETCH 1 SAVEDATE")
    assert re.fullmatch(rb'\* 1 FETCH \(SAVEDATE "[ 0-9]\d-[A-Z][a-z]{2}-'
                        rb'\d{4} \d\d:\d\d:\d\d \+0000"\)', lines[0]), lines


def mail(tag, extra=b""):
    return (b"From: carol@example.org\r\nTo: alice@example.com\r\n"
            b"Subject: Re: lunch\r\nMessage-ID: <%s@example.org>\r\n%s"
            b"\r\n%s\r\n" % (tag, extra, tag))


def test_threadid(server):
    """One conversation, one THREADID: in INBOX and in a copy elsewhere,
    for a reply delivered over SMTP, a reply to the copy that was moved
    away, and a message APPENDed to Sent that answers it; mail with the
    same subject but no reference has a THREADID of its own."""
    port = server.smtp_port
    assert smtp_send(port, "alice@example.com", mail(b"p"))[0] == 250
    assert smtp_send(port, "alice@example.com", mail(b"u"))[0] == 250
    w = connect(server)
    login(w)
    cmd(w, b"c", b"CREATE Other")
    select_id(w, b"s1", b"INBOX")
    first = fetch_ids(w, b"f1")
    parent, unrelated = first[1][1], first[2][1]
    assert parent != unrelated
    # THREADIDs are not EMAILIDs, nor MAILBOXIDs.
    assert parent not in (first[1][0], first[2][0])
    cmd(w, b"k", b"UID COPY 1 Other")

    # A reply, and a reply to that reply naming only its parent.
    assert smtp_send(port, "alice@example.com", mail(
        b"r", b"In-Reply-To: <p@example.org>\r\n"
              b"References: <p@example.org>\r\n"))[0] == 250
    assert smtp_send(port, "alice@example.com", mail(
        b"rr", b"In-Reply-To: <r@example.org>\r\n"))[0] == 250
    cmd(w, b"n", b"NOOP")
    now = fetch_ids(w, b"f2")
    assert now[1][1] == parent and now[2][1] == unrelated
    assert now[3][1] == parent and now[4][1] == parent
    # Already known threads never change.
    assert first[1][1] == now[1][1] and first[2][1] == now[2][1]

    # SEARCH THREADID: the conversation's messages, in this mailbox.
    lines, _ = cmd(w, b"q1", b"UID SEARCH THREADID " + parent)
    assert lines == [b"* SEARCH 1 3 4"], lines
    lines, _ = cmd(w, b"q2", b"UID SEARCH NOT THREADID " + parent)
    assert lines == [b"* SEARCH 2"], lines
    lines, _ = cmd(w, b"q3", b"UID SEARCH THREADID " + parent.lower())
    assert lines == [b"* SEARCH"], lines

    # The copy in Other: the same THREADID; SEARCH there finds it.
    select_id(w, b"s2", b"Other")
    other = fetch_ids(w, b"f3")
    assert [v[1] for v in other.values()] == [parent]
    lines, _ = cmd(w, b"q4", b"UID SEARCH THREADID " + parent)
    assert lines == [b"* SEARCH 1"], lines

    # The parent moved out of INBOX: a reply still joins it, and so
    # does the user's own answer saved in Sent by APPEND.
    select_id(w, b"s3", b"INBOX")
    cmd(w, b"m", b"UID MOVE 1 Other")
    assert smtp_send(port, "alice@example.com", mail(
        b"r2", b"References: <p@example.org>\r\n"))[0] == 250
    append(server, ALICE, [mail(b"mine", b"In-Reply-To: <r2@example.org>"
                                         b"\r\n")], box="Sent")
    cmd(w, b"n2", b"NOOP")
    now = fetch_ids(w, b"f4")
    assert now[max(now)][1] == parent
    select_id(w, b"s4", b"Sent")
    assert [v[1] for v in fetch_ids(w, b"f5").values()] == [parent]

    # Bob gets the same conversation: threads of his own.
    assert smtp_send(port, "bob@example.com", mail(b"p"))[0] == 250
    v = connect(server)
    login(v, BOB)
    select_id(v, b"s", b"INBOX")
    bob = fetch_ids(v, b"f")
    assert bob[1][1] != parent
    lines, _ = cmd(v, b"q", b"UID SEARCH THREADID " + parent)
    assert lines == [b"* SEARCH"], lines


def test_threadid_import(server, tmp_path):
    """`posthorn import mbox`: a reply saved before its parent and the
    parent share a THREADID, an unrelated message has its own, and mail
    delivered afterwards joins the imported conversation."""
    path = tmp_path / "Saved.mbox"
    path.write_bytes(
        b"From carol@example.org Mon Nov 30 10:00:00 2026\n" +
        mail(b"ir", b"In-Reply-To: <ip@example.org>\r\n").replace(
            b"\r\n", b"\n") +
        b"\nFrom carol@example.org Mon Nov 30 09:00:00 2026\n" +
        mail(b"ip").replace(b"\r\n", b"\n") +
        b"\nFrom dave@example.org Mon Nov 30 11:00:00 2026\n" +
        mail(b"iu").replace(b"\r\n", b"\n"))
    r = server.cli("import", "mbox", "--mailbox", "INBOX", ALICE, str(path))
    assert "imported 3 message(s)" in r.stdout, r.stdout
    assert smtp_send(server.smtp_port, ALICE, mail(
        b"later", b"References: <ip@example.org> <ir@example.org>\r\n"
    ))[0] == 250
    w = connect(server)
    login(w)
    select_id(w, b"s", b"INBOX")
    ids = fetch_ids(w, b"f")
    assert sorted(ids) == [1, 2, 3, 4]
    assert ids[1][1] == ids[2][1] == ids[4][1]
    assert ids[3][1] != ids[1][1]
