"""The flags of a mailbox as a whole: the keywords FLAGS and
PERMANENTFLAGS name (RFC 9051 7.3.5: a client may rely on FLAGS, so a
keyword new to the mailbox is announced before any FETCH shows it, in
this session and in others), their limit (NO [LIMIT]), and \\Recent
(RFC 3501 2.3.2): recent in exactly one session, the first read-write one
that selects the mailbox or learns of the message at a sync; EXAMINE sees
without claiming; IMAP4rev2 has none of it.  Spoken on raw sockets, so the
order of the responses is what is checked."""

import imaplib
import re

from conftest import PASSWORD
from test_imap_compress import connect, login

ALICE = "alice@example.com"
MSG = b"From: a@example.org\r\nSubject: s\r\n\r\nbody\r\n"
SYSTEM = {b"\\Answered", b"\\Flagged", b"\\Deleted", b"\\Seen", b"\\Draft"}


class Session:
    """One logged-in raw IMAP session of alice."""

    def __init__(self, srv):
        self.w = connect(srv)
        login(self.w)
        self.n = 0

    def cmd(self, text, ok=True):
        self.n += 1
        tag = b"t%d" % self.n
        self.w.send(tag + b" " + text + b"\r\n")
        lines, r = self.w.tagged(tag)
        if ok:
            assert r.startswith(tag + b" OK"), (text, lines, r)
        return lines, r

    def close(self):
        self.w.send(b"z LOGOUT\r\n")
        self.w.tagged(b"z")
        self.w.s.close()


def append(srv, msgs, box="INBOX", flags=None):
    """APPEND from a session that selects nothing, so it claims nothing."""
    m = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=30)
    m.login(ALICE, PASSWORD)
    for msg in msgs:
        assert m.append(box, flags, None, msg)[0] == "OK"
    m.logout()


def flags_line(lines):
    """The words of the last untagged FLAGS, or None."""
    found = [l for l in lines if l.startswith(b"* FLAGS (")]
    return set(found[-1][9:-1].split()) if found else None


def permanent(lines):
    found = [re.search(rb"\[PERMANENTFLAGS \((.*?)\)\]", l) for l in lines]
    found = [m.group(1) for m in found if m]
    return set(found[-1].split()) if found else None


def recent_count(lines):
    found = [int(l.split()[1]) for l in lines
             if re.fullmatch(rb"\* \d+ RECENT", l)]
    assert len(found) <= 1, lines
    return found[0] if found else None


def fetch_flags(s, what=b"1:*"):
    """{seq: set of flags} from FETCH FLAGS."""
    lines, _ = s.cmd(b"FETCH %s (FLAGS)" % what)
    out = {}
    for l in lines:
        m = re.fullmatch(rb"\* (\d+) FETCH \(FLAGS \((.*)\)\)", l)
        if m:
            out[int(m.group(1))] = set(m.group(2).split())
    return out


def search(s, key):
    lines, _ = s.cmd(b"SEARCH " + key)
    found = [l for l in lines if l.startswith(b"* SEARCH")]
    assert len(found) == 1, lines
    return [int(x) for x in found[0].split()[2:]]


def status_recent(s, box=b"INBOX"):
    lines, _ = s.cmd(b"STATUS %s (MESSAGES RECENT)" % box)
    m = re.search(rb"RECENT (\d+)", lines[0])
    return int(m.group(1))


# ---- \Recent ----

def test_recent_belongs_to_the_first_select(server):
    append(server, [MSG, MSG])
    ex = Session(server)
    lines, r = ex.cmd(b"EXAMINE INBOX")
    assert recent_count(lines) == 2, lines
    assert all(b"\\Recent" in f for f in fetch_flags(ex).values())
    a = Session(server)
    # EXAMINE took nothing: the first SELECT gets both.
    assert status_recent(a) == 2
    lines, _ = a.cmd(b"SELECT INBOX")
    assert recent_count(lines) == 2, lines
    assert fetch_flags(a) == {1: {b"\\Recent"}, 2: {b"\\Recent"}}
    assert search(a, b"RECENT") == [1, 2]
    a.cmd(b"STORE 1 +FLAGS.SILENT (\\Seen)")
    assert search(a, b"NEW") == [2]
    assert search(a, b"OLD") == []
    assert search(a, b"NOT RECENT") == []
    assert status_recent(a) == 0
    # Claimed: nobody else sees them as recent, not even a new EXAMINE.
    b = Session(server)
    lines, _ = b.cmd(b"SELECT INBOX")
    assert recent_count(lines) == 0, lines
    assert fetch_flags(b) == {1: {b"\\Seen"}, 2: set()}
    assert search(b, b"RECENT") == [] and search(b, b"NEW") == []
    assert search(b, b"OLD") == [1, 2]
    lines, _ = ex.cmd(b"EXAMINE INBOX")
    assert recent_count(lines) == 0, lines
    # Still recent in the session that claimed them, after all that.
    assert fetch_flags(a)[2] == {b"\\Recent"}
    for s in (ex, a, b):
        s.close()


def test_recent_at_sync_goes_to_one_session(server):
    a, b = Session(server), Session(server)
    a.cmd(b"SELECT INBOX")
    b.cmd(b"SELECT INBOX")
    append(server, [MSG])
    lines, _ = a.cmd(b"NOOP")
    assert b"* 1 EXISTS" in lines and recent_count(lines) == 1, lines
    # RECENT comes with the EXISTS it is about, after it.
    assert lines.index(b"* 1 EXISTS") < lines.index(b"* 1 RECENT")
    lines, _ = b.cmd(b"NOOP")
    assert b"* 1 EXISTS" in lines and recent_count(lines) == 0, lines
    assert fetch_flags(a) == {1: {b"\\Recent"}}
    assert fetch_flags(b) == {1: set()}
    # The next message: b, with nothing recent yet, may take it.
    append(server, [MSG])
    lines, _ = b.cmd(b"NOOP")
    assert recent_count(lines) == 1, lines
    lines, _ = a.cmd(b"NOOP")
    assert recent_count(lines) == 1, lines
    assert search(a, b"RECENT") == [1] and search(b, b"RECENT") == [2]
    # A re-SELECT finds nothing left to claim.
    lines, _ = b.cmd(b"SELECT INBOX")
    assert recent_count(lines) == 0, lines
    a.close()
    b.close()


def test_copy_and_append_are_recent_for_the_selected_session(server):
    a = Session(server)
    a.cmd(b"CREATE Other")
    a.cmd(b"SELECT Other")
    append(server, [MSG, MSG])
    other = Session(server)
    other.cmd(b"SELECT INBOX")
    other.cmd(b"COPY 1:2 Other")
    lines, _ = a.cmd(b"NOOP")
    assert b"* 2 EXISTS" in lines and recent_count(lines) == 2, lines
    # Its own APPEND into the selected mailbox: recent here too.
    lines, _ = a.cmd(b"APPEND Other {%d+}\r\n%s" % (len(MSG), MSG))
    assert b"* 3 EXISTS" in lines and recent_count(lines) == 3, lines
    assert all(b"\\Recent" in f for f in fetch_flags(a).values())
    # A session that selects INBOX first got those of INBOX.
    assert status_recent(a, b"INBOX") == 0
    a.close()
    other.close()


def test_imap4rev2_has_no_recent_and_claims_nothing(server):
    append(server, [MSG])
    r2 = Session(server)
    r2.cmd(b"ENABLE IMAP4rev2")
    lines, _ = r2.cmd(b"SELECT INBOX")
    assert recent_count(lines) is None, lines
    assert not any(b"UNSEEN" in l for l in lines), lines
    assert fetch_flags(r2) == {1: set()}
    append(server, [MSG])
    lines, _ = r2.cmd(b"NOOP")
    assert b"* 2 EXISTS" in lines and recent_count(lines) is None, lines
    assert fetch_flags(r2) == {1: set(), 2: set()}
    # Both are left for an IMAP4rev1 session.
    r1 = Session(server)
    lines, _ = r1.cmd(b"SELECT INBOX")
    assert recent_count(lines) == 2, lines
    r1.close()
    r2.close()


def test_select_names_the_first_unseen(server):
    append(server, [MSG, MSG, MSG], flags="(\\Seen)")
    append(server, [MSG])
    s = Session(server)
    lines, _ = s.cmd(b"SELECT INBOX")
    assert b"* OK [UNSEEN 4] First unseen" in lines, lines
    s.close()


# ---- keywords ----

def test_select_lists_the_keywords_in_use(server):
    append(server, [MSG], flags="($Label1 \\Seen)")
    append(server, [MSG], flags="(NonJunk $label1)")
    s = Session(server)
    lines, _ = s.cmd(b"SELECT INBOX")
    # One keyword whatever its case (flags compare without it).
    assert flags_line(lines) == SYSTEM | {b"$Label1", b"NonJunk"}, lines
    assert permanent(lines) == SYSTEM | {b"$Label1", b"NonJunk", b"\\*"}
    lines, _ = s.cmd(b"EXAMINE INBOX")
    assert flags_line(lines) == SYSTEM | {b"$Label1", b"NonJunk"}, lines
    assert permanent(lines) == set(), lines
    s.close()


def before_fetch(lines, keyword):
    """FLAGS naming keyword comes before the first FETCH that shows it."""
    fl = [i for i, l in enumerate(lines)
          if l.startswith(b"* FLAGS (") and keyword in l.split()
          or l.startswith(b"* FLAGS (") and keyword + b")" in l]
    fe = [i for i, l in enumerate(lines)
          if b" FETCH " in l and keyword in l]
    assert fe, lines
    assert fl and fl[0] < fe[0], lines


def test_new_keyword_announced_before_fetch_in_both_sessions(server):
    append(server, [MSG, MSG])
    a, b = Session(server), Session(server)
    lines, _ = a.cmd(b"SELECT INBOX")
    assert flags_line(lines) == SYSTEM, lines
    b.cmd(b"SELECT INBOX")
    lines, _ = a.cmd(b"STORE 1 +FLAGS ($Forwarded)")
    before_fetch(lines, b"$Forwarded")
    assert permanent(lines) == SYSTEM | {b"$Forwarded", b"\\*"}, lines
    # The other session hears it at its next sync, FLAGS first.
    lines, _ = b.cmd(b"NOOP")
    before_fetch(lines, b"$Forwarded")
    # Told once: a FETCH that shows it again says no more FLAGS.
    lines, _ = b.cmd(b"FETCH 1 (FLAGS)")
    assert flags_line(lines) is None, lines
    # .SILENT sends no FETCH, yet the mailbox's FLAGS changed: told.
    lines, _ = a.cmd(b"STORE 2 +FLAGS.SILENT (Junk)")
    assert b"Junk" in flags_line(lines), lines
    assert not any(b" FETCH " in l for l in lines), lines
    lines, _ = b.cmd(b"FETCH 2 (FLAGS)")
    before_fetch(lines, b"Junk")
    # A keyword already defined is no news.
    lines, _ = a.cmd(b"STORE 2 +FLAGS ($Forwarded)")
    assert flags_line(lines) is None, lines
    # Removing keywords never shrinks the mailbox's set.
    a.cmd(b"STORE 1:2 -FLAGS ($Forwarded Junk)")
    lines, _ = b.cmd(b"SELECT INBOX")
    assert flags_line(lines) == SYSTEM | {b"$Forwarded", b"Junk"}, lines
    a.close()
    b.close()


def test_copy_and_append_bring_keywords_to_the_selected_mailbox(server):
    append(server, [MSG], flags="($Label2)")
    a, b = Session(server), Session(server)
    a.cmd(b"CREATE Other")
    a.cmd(b"SELECT INBOX")
    lines, _ = b.cmd(b"SELECT Other")
    assert flags_line(lines) == SYSTEM, lines
    a.cmd(b"COPY 1 Other")
    lines, _ = b.cmd(b"NOOP")
    more, _ = b.cmd(b"FETCH 1:* (FLAGS)")
    before_fetch(lines + more, b"$Label2")
    # APPEND into the selected mailbox, by another session.
    append(server, [MSG], box="Other", flags="($Label3)")
    lines, _ = b.cmd(b"NOOP")
    assert b"$Label3" in flags_line(lines), lines
    assert lines.index(next(l for l in lines if l.startswith(b"* FLAGS"))) \
        < lines.index(b"* 2 EXISTS"), lines
    a.close()
    b.close()


def test_keyword_limit(server):
    append(server, [MSG, MSG])
    s = Session(server)
    s.cmd(b"SELECT INBOX")
    # 256 keywords per mailbox, in a few STOREs.
    for k in range(0, 256, 64):
        kws = b" ".join(b"k%d" % i for i in range(k, k + 64))
        s.cmd(b"STORE 1 +FLAGS.SILENT (%s)" % kws)
    lines, _ = s.cmd(b"NOOP")
    lines, _ = s.cmd(b"SELECT INBOX")
    assert len(flags_line(lines)) == len(SYSTEM) + 256, lines
    # Full: PERMANENTFLAGS no longer offers \*.
    assert b"\\*" not in permanent(lines), lines
    lines, r = s.cmd(b"STORE 2 +FLAGS (one-more)", ok=False)
    assert re.match(rb"t\d+ NO \[LIMIT\]", r), r
    # The second SELECT found nothing left to claim: not recent.
    assert fetch_flags(s, b"2") == {2: set()}
    # Those defined still work.
    lines, _ = s.cmd(b"STORE 2 +FLAGS (k7)")
    assert fetch_flags(s, b"2") == {2: {b"k7"}}
    lines, r = s.cmd(b"APPEND INBOX (another) {%d+}\r\n%s"
                     % (len(MSG), MSG), ok=False)
    assert re.match(rb"t\d+ NO \[LIMIT\]", r), r
    # COPY into a full mailbox that would need a new keyword.
    s.cmd(b"CREATE Other")
    append(server, [MSG], box="Other", flags="(brand-new)")
    s.cmd(b"SELECT Other")
    lines, r = s.cmd(b"COPY 1 INBOX", ok=False)
    assert re.match(rb"t\d+ NO \[LIMIT\]", r), r
    lines, _ = s.cmd(b"STATUS INBOX (MESSAGES)")
    assert b"MESSAGES 2" in lines[0], lines
    # A keyword longer than 100 bytes, in a mailbox with room.
    lines, r = s.cmd(b"STORE 1 +FLAGS (%s)" % (b"x" * 101), ok=False)
    assert re.match(rb"t\d+ NO \[LIMIT\]", r), r
    s.cmd(b"STORE 1 +FLAGS (%s)" % (b"x" * 100))
    assert "keyword-limit" in server.log()
    s.close()
