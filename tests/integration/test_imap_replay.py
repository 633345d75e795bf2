"""The command sequences that real mail clients send, replayed against the
real server: Thunderbird (115/128), Apple Mail (iOS and macOS) and
Outlook.  Each sequence follows what the clients were seen sending in
protocol logs published in bug threads and in the vendors' own
documentation (the source is named above each test); the commands are
sent as the client writes them, tags, case and literals included, and the
test checks what that client relies on in the answers: the untagged
responses it parses, the exact grammar (every response is parsed, every
literal read to its announced length), and the mailbox state afterwards."""

import base64
import datetime
import re
import socket
import time

import pytest

from conftest import PASSWORD, Client, body_of, smtp_send
from test_imap import Atom, fetches, parse

ALICE = "alice@example.com"
# How long news may take to reach another session: generous, never a
# measure of speed.
NEWS_WAIT = 10


@pytest.fixture(autouse=True)
def no_store_failures(request):
    """A replayed client never makes the store fail: afterwards the log has
    no store-failed line and no error."""
    if "server" not in request.fixturenames:
        yield
        return
    srv = request.getfixturevalue("server")
    yield
    bad = [line for line in srv.log().splitlines()
           if "store-failed" in line or " error " in line]
    assert not bad, "\n".join(bad[:10])


# ---- the replaying client ----

class Literal:
    """A literal inside a command: synchronizing ({n}, the client waits for
    the server's "+") or not ({n+}, LITERAL+)."""

    def __init__(self, data, sync=True):
        self.data = data
        self.sync = sync


TAG = rb"[^\s(){%*\"\\\]+]+"
TAGGED = re.compile(TAG + rb" (OK|NO|BAD)(?: \[([^\]\r\n]*)\])?"
                    rb"(?: [^\r\n]*)?$")
UNTAGGED_STATUS = re.compile(rb"\* (?:OK|NO|BAD|BYE|PREAUTH)"
                             rb"(?: \[([^\]\r\n]*)\])?(?: [^\r\n]*)?$")
UNTAGGED_KINDS = {"CAPABILITY", "LIST", "LSUB", "STATUS", "FLAGS", "SEARCH",
                  "ESEARCH", "ENABLED", "ID", "NAMESPACE", "VANISHED",
                  "QUOTA", "QUOTAROOT"}
NUMBERED_KINDS = {"EXISTS", "RECENT", "EXPUNGE", "FETCH"}


FETCH_ITEM = re.compile(r"(UID|FLAGS|INTERNALDATE|RFC822(\.SIZE|\.HEADER|"
                        r"\.TEXT)?|ENVELOPE|BODY|BODYSTRUCTURE|MODSEQ|"
                        r"EMAILID|THREADID|SAVEDATE|PREVIEW|"
                        r"(BODY|BINARY|BINARY\.SIZE)\[[^\]]*\](<\d+>)?)$",
                        re.I)


def check_code(r, m, group):
    """A status response's code: "[" atom [SP ...] "]" when its text starts
    with "[", well formed inside; the text after it is free."""
    if m.group(group) is None:
        assert not re.match(rb"\S+ \S+ \[", r), "unclosed code in %r" % r
        return
    code = parse(m.group(group))
    assert code and isinstance(code[0], Atom), r


def check_grammar(r):
    """One whole response (bytes, literals inline) against the response
    grammar of RFC 9051 section 9 and its extensions: a continuation, a
    tagged or untagged status with a well-formed response code, or a known
    untagged response whose strings, lists and literals are well formed."""
    if r.startswith(b"+"):
        assert r == b"+" or r.startswith(b"+ "), r
        return
    if not r.startswith(b"* "):
        m = TAGGED.match(r)
        assert m, "bad tagged response %r" % r[:200]
        check_code(r, m, 2)
        return
    m = UNTAGGED_STATUS.match(r)
    if m:
        check_code(r, m, 1)
        return
    v = parse(r)    # asserts quoting, nesting and literal lengths
    assert len(v) >= 2, r
    if isinstance(v[1], int):
        assert len(v) >= 3 and v[2] in NUMBERED_KINDS, r[:200]
        if v[2] == "FETCH":
            assert v[1] >= 1 and len(v) == 4 and isinstance(v[3], list), r
            assert len(v[3]) % 2 == 0, r[:300]
            for name in v[3][0::2]:
                assert isinstance(name, Atom) and FETCH_ITEM.match(name), \
                    "bad FETCH item %r in %r" % (name, r[:300])
        else:
            assert len(v) == 3, r
        return
    assert v[1] in UNTAGGED_KINDS, "unknown response %r" % r[:200]


def test_grammar_check_catches_malformed_responses():
    """The checker the replays rely on accepts what the grammar allows and
    refuses what a client would choke on."""
    good = [b"+ idling", b"+", b"7 OK [APPENDUID 1 2] done", b"a.1 NO no",
            b"* OK [PERMANENTFLAGS (\\Seen \\*)] Limited (see RFC)",
            b"* OK it's fine (really", b"* 3 EXISTS", b"* VANISHED 2:3",
            b'* 1 FETCH (UID 4 BODY[] {3}\r\nabc FLAGS (\\Seen))',
            b'* LIST (\\Sent) "/" Sent', b'* ID NIL']
    bad = [b"+idling", b"7 MAYBE", b"7 OK [APPENDUID 1 2 done",
           b"* 3 EXISTED", b"* 3 EXISTS 4", b"* WHATEVER x",
           b'* 1 FETCH (UID 4 BODY[] {5}\r\nabc FLAGS (\\Seen))',
           b"* 1 FETCH (UID 4 FLAGS (\\Seen)", b"* 1 FETCH (UID)",
           b'* LIST (\\Sent) "/ Sent', b"* 0 FETCH (UID 1)"]
    for r in good:
        check_grammar(r)
    for r in bad:
        with pytest.raises(AssertionError):
            check_grammar(r)


class Replay:
    """A raw IMAP client that sends what a recorded client sent, byte for
    byte, with the caller's tags; every response it reads is checked with
    check_grammar()."""

    def __init__(self, port):
        self.c = Client(port, timeout=30)
        self.greeting = self.response()
        assert self.greeting.startswith(b"* OK "), self.greeting

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.c.close()

    def _read(self, n):
        while len(self.c.buf) < n:
            self.c._fill()
        out = bytes(self.c.buf[:n])
        del self.c.buf[:n]
        return out

    def response(self):
        """One whole response, each literal read to its announced length."""
        out = bytearray()
        while True:
            line = self.c.line()
            # Only CRLF ends a line; a bare CR or LF outside a literal is
            # a grammar error.
            assert b"\r" not in line and b"\n" not in line, line[:200]
            out += line
            m = re.search(rb"\{(\d+)\}$", line)
            if not m:
                check_grammar(bytes(out))
                return bytes(out)
            out += b"\r\n" + self._read(int(m.group(1)))

    def send(self, tag, *parts):
        """Send one command: `parts` are its text (str or bytes) and
        Literal objects, in order; CRLF ends it."""
        out = tag.encode() + b" "
        for p in parts:
            if isinstance(p, Literal):
                out += b"{%d%s}\r\n" % (len(p.data), b"" if p.sync else b"+")
                if p.sync:
                    self.c.send(out)
                    out = b""
                    r = self.response()
                    assert r.startswith(b"+"), (tag, r)
                out += p.data
            else:
                out += p.encode() if isinstance(p, str) else p
        self.c.send(out + b"\r\n")

    def until(self, tag):
        """Responses up to the tagged one: (untagged list, tagged)."""
        tag = tag.encode()
        untagged = []
        while True:
            r = self.response()
            if r.startswith(tag + b" "):
                return untagged, r
            assert r.startswith(b"* "), (tag, r)
            untagged.append(r)

    def run(self, tag, *parts):
        self.send(tag, *parts)
        return self.until(tag)

    def ok(self, tag, *parts):
        """A command the client expects to succeed: its untagged responses
        and the tagged OK."""
        untagged, tagged = self.run(tag, *parts)
        assert tagged.startswith(tag.encode() + b" OK"), (parts, untagged,
                                                          tagged)
        return untagged, tagged

    def pipeline(self, *commands):
        """(tag, text) commands sent in one write, as some clients do;
        their results in order."""
        self.c.send(b"".join(b"%s %s\r\n" % (t.encode(), x.encode())
                             for t, x in commands))
        out = []
        for t, _ in commands:
            untagged, tagged = self.until(t)
            assert tagged.startswith(t.encode() + b" OK"), (t, tagged)
            out.append(untagged)
        return out

    def wait_for(self, pattern, wait=NEWS_WAIT):
        """Untagged responses until one matches `pattern`, which must come
        within `wait` seconds (an IDLE client waiting for news)."""
        self.c.sock.settimeout(wait)
        got = []
        try:
            while True:
                r = self.response()
                got.append(r)
                if re.match(pattern, r):
                    return got
        except socket.timeout:
            raise AssertionError("no %r within %d s; got %r" % (
                pattern, wait, got)) from None
        finally:
            self.c.sock.settimeout(30)

    def poll(self, tag, pattern, wait=NEWS_WAIT):
        """NOOP as a polling client does (tags tag.1, tag.2, ...) until
        one brings a response matching `pattern`: the store's news may take
        a moment to reach the session, so up to `wait` seconds, a bound
        only a broken server reaches.  Returns all untagged responses."""
        deadline = time.time() + wait
        got, n = [], 0
        while True:
            n += 1
            got += self.ok("%s.%d" % (tag, n), "NOOP")[0]
            if any(re.match(pattern, r) for r in got):
                return got
            assert time.time() < deadline, ("no %r within %d s; got %r"
                                            % (pattern, wait, got))
            time.sleep(0.1)

    def idle(self, tag):
        self.c.send(tag.encode() + b" IDLE\r\n")
        r = self.response()
        assert r.startswith(b"+ "), r

    def done(self, tag):
        self.c.send(b"DONE\r\n")
        untagged, tagged = self.until(tag)
        assert tagged.startswith(tag.encode() + b" OK"), tagged
        return untagged


# ---- reading what came back ----

def codes(untagged):
    """{CODE: text} of the untagged OK responses' response codes."""
    out = {}
    for r in untagged:
        m = re.match(rb"\* OK \[([A-Z0-9-]+)(?: ([^\]]*))?\]", r)
        if m:
            out[m.group(1).decode()] = (m.group(2) or b"").decode()
    return out


def tagged_code(tagged):
    m = re.match(rb"\S+ OK \[([A-Z0-9-]+)(?: ([^\]]*))?\]", tagged)
    return (m.group(1).decode(), (m.group(2) or b"").decode()) if m else None


def caps_in(text):
    m = re.search(rb"CAPABILITY ([^\]\r\n]*)", text)
    assert m, text
    return set(m.group(1).decode().upper().split())


def exists(untagged):
    n = [int(m.group(1)) for m in (re.match(rb"\* (\d+) EXISTS$", r)
                                   for r in untagged) if m]
    return n[-1] if n else None


def expunged(untagged):
    return [int(m.group(1)) for m in (re.match(rb"\* (\d+) EXPUNGE$", r)
                                      for r in untagged) if m]


def after_expunges(uids, untagged):
    """The UIDs by sequence number after applying the EXPUNGE responses
    one by one, as a client must (RFC 9051 7.5.1)."""
    uids = list(uids)
    for seq in expunged(untagged):
        assert 1 <= seq <= len(uids), (seq, uids)
        del uids[seq - 1]
    return uids


def uid_set(text):
    out = []
    for part in text.split(","):
        if ":" in part:
            a, b = sorted(int(x) for x in part.split(":"))
            out += range(a, b + 1)
        else:
            out.append(int(part))
    return out


def vanished(untagged, earlier):
    """The UIDs of the VANISHED (or VANISHED (EARLIER)) responses."""
    out = []
    for r in untagged:
        v = parse(r)
        if v[1] != "VANISHED":
            continue
        if earlier != isinstance(v[2], list):
            continue
        if earlier:
            assert [str(x).upper() for x in v[2]] == ["EARLIER"], r
        out += uid_set(str(v[-1]))
    return out


def by_uid(untagged):
    """The FETCH responses as {uid: items}; each must carry its UID."""
    out = {}
    for seq, items in fetches(untagged)[0].items():
        assert "UID" in items, (seq, items)
        out[items["UID"]] = dict(items, SEQ=seq)
    return out


def flags(items):
    """The message's stored flags: \\Recent belongs to the session that
    claimed the message and is checked in test_imap_flags.py."""
    return set(str(f) for f in items["FLAGS"]) - {"\\Recent"}


def modseq(items):
    v = items["MODSEQ"]
    assert isinstance(v, list) and len(v) == 1 and isinstance(v[0], int), v
    return v[0]


def list_attrs(untagged, kind="LIST"):
    """{mailbox name: set of lower-case attributes} of LIST responses."""
    out = {}
    for r in untagged:
        v = parse(r)
        if v[1] != kind:
            continue
        attrs, delim, name = v[2], v[3], v[4]
        assert delim == b"/", r
        name = name.encode() if isinstance(name, Atom) else name
        out[name.decode()] = set(str(a).lower() for a in attrs)
    return out


def header_fields(msg, names):
    """What BODY[HEADER.FIELDS (names)] of `msg` is (RFC 9051 6.4.5): its
    header fields with those names, folding kept, in message order, and the
    blank line."""
    head = msg.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    fields = re.findall(rb"[^ \t\r\n][^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*",
                        head)
    want = {n.lower().encode() for n in names}
    return b"".join(f for f in fields
                    if f.split(b":", 1)[0].strip().lower() in want) + b"\r\n"


# ---- the mail the replays find ----

def plain(n, subject, extra=b""):
    return (b"Date: Mon, 30 Nov 2026 09:%02d:00 +0100\r\n"
            b"From: Carol Sender <carol@example.org>\r\n"
            b"To: Alice <alice@example.com>\r\n"
            b"Subject: %s\r\n"
            b"Message-ID: <replay-%d@example.org>\r\n"
            b"%s"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"\r\n"
            b"Hello Alice,\r\n\r\nmessage number %d.\r\n" % (
                n, subject.encode(), n, extra, n))


def reply(n):
    # A folded References field: clients ask for it by name and must get
    # its continuation lines too.
    return plain(n, "Re: plans", b"In-Reply-To: <replay-1@example.org>\r\n"
                 b"References: <replay-0@example.org>\r\n"
                 b" <replay-1@example.org>\r\n"
                 b"X-Priority: 1 (Highest)\r\n")


def with_attachment(n, size=90000):
    """multipart/mixed: a text part and a base64 attachment big enough that
    Thunderbird fetches the message in more than one chunk."""
    raw = bytes((i * 7 + 3) % 256 for i in range(size * 3 // 4))
    b64 = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    return (b"Date: Mon, 30 Nov 2026 10:%02d:00 +0100\r\n"
            b"From: Dave <dave@example.org>\r\n"
            b"To: alice@example.com\r\n"
            b"Subject: the report\r\n"
            b"Message-ID: <replay-%d@example.org>\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"=-b1\"\r\n"
            b"\r\n"
            b"--=-b1\r\n"
            b"Content-Type: text/plain; charset=us-ascii\r\n"
            b"\r\n"
            b"The report is attached.\r\n"
            b"--=-b1\r\n"
            b"Content-Type: application/pdf; name=\"report.pdf\"\r\n"
            b"Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b"\r\n" + b64 +
            b"--=-b1--\r\n") % (n, n)


def deliver(srv, *msgs):
    for m in msgs:
        code, text = smtp_send(srv.smtp_port, ALICE, m)
        assert code == 250, text


def inbox_mail(srv):
    """Four messages delivered over SMTP (UIDs 1-4): plain, reply with
    folded References, attachment, plain."""
    msgs = [plain(1, "plans"), reply(2), with_attachment(3),
            plain(4, "lunch?")]
    deliver(srv, *msgs)
    return msgs


def stored(c, tag, uid):
    """The message with `uid` in the selected mailbox, read with
    BODY.PEEK[] (no side effects)."""
    untagged, _ = c.ok(tag, "UID FETCH %d (BODY.PEEK[])" % uid)
    got = by_uid(untagged)
    assert uid in got, untagged
    return got[uid]["BODY[]"]


def sent_message(subject):
    return (b"Message-ID: <%s@example.com>\r\n"
            b"Date: Tue, 1 Dec 2026 08:00:00 +0100\r\n"
            b"MIME-Version: 1.0\r\n"
            b"User-Agent: replay\r\n"
            b"From: Alice <alice@example.com>\r\n"
            b"To: carol@example.org\r\n"
            b"Subject: %s\r\n"
            b"Content-Type: text/plain; charset=UTF-8; format=flowed\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n"
            b"\r\n"
            b"Gr\xc3\xbc\xc3\x9fe,\r\n.\r\n..leading dots stay\r\n"
            b"Alice\r\n") % (subject.replace(b" ", b"-"), subject)


def plain_auth(user=ALICE, password=PASSWORD):
    return base64.b64encode(b"\0" + user.encode() + b"\0" +
                            password.encode()).decode()


# ---- Thunderbird 115 / 128 ----
#
# Sources: the IMAP:5 logs of Thunderbird 115.7 in the Stalwart thread
# "[bug]: Thunderbird Drafts issue" (github.com/stalwartlabs/stalwart
# issue 234: ID, ENABLE UTF8=ACCEPT, "UID fetch 1:* (FLAGS)" answered with
# UID and FLAGS per message) and of Thunderbird 115.2 in the mox thread
# "macOS's Mail.app IMAP folder matching" (github.com/mjl-/mox issue 66:
# authenticate, ID, ENABLE UTF8=ACCEPT, then
# list (subscribed) "" "*" return (special-use)); the hoodiecrow thread
# "Most IMAP clients won't fetch messages" (github.com/andris9/hoodiecrow
# issue 18) shows its lower-case commands and numeric tags.  Thunderbird
# asks for a fixed list of header fields when it builds its message list,
# fetches bodies in chunks of BODY[]<offset.size>, writes "+Flags", and
# with its CONDSTORE setting on selects with (CONDSTORE) and resyncs with
# CHANGEDSINCE.

TB_HEADERS = ("From", "To", "Cc", "Bcc", "Subject", "Date", "Message-ID",
              "Priority", "X-Priority", "References", "Newsgroups",
              "In-Reply-To", "Content-Type", "Reply-To")
TB_CHUNK = 65536


def tb_login(srv, tag=1):
    """Thunderbird's opening: capability, authenticate PLAIN with the
    response on its own line, ID, and the ENABLEs it uses when offered.
    Returns the client, the next tag number and the capabilities."""
    c = Replay(srv.imap_port)
    # It reads the capabilities in the greeting when they are there.
    assert "IMAP4REV1" in caps_in(c.greeting)
    untagged, _ = c.ok("%d" % tag, "capability")
    assert len(untagged) == 1 and "AUTH=PLAIN" in caps_in(untagged[0])
    c.send("%d" % (tag + 1), "authenticate PLAIN")
    assert c.response().startswith(b"+")
    c.c.send(plain_auth() + "\r\n")
    untagged, tagged = c.until("%d" % (tag + 1))
    assert tagged.startswith(b"%d OK" % (tag + 1)), tagged
    # The OK carries the capabilities after login (it asks again if not).
    caps = caps_in(tagged)
    assert {"ID", "ENABLE", "IDLE", "MOVE", "UIDPLUS", "CONDSTORE",
            "LITERAL+", "SPECIAL-USE", "LIST-EXTENDED"} <= caps, caps
    untagged, _ = c.ok("%d" % (tag + 2),
                       'ID ("name" "Thunderbird" "version" "128.5.0")')
    assert len(untagged) == 1 and untagged[0].startswith(b"* ID "), untagged
    v = parse(untagged[0])
    assert v[2] is None or (isinstance(v[2], list) and len(v[2]) % 2 == 0)
    n = tag + 3
    if "UTF8=ACCEPT" in caps:
        untagged, _ = c.ok("%d" % n, "ENABLE UTF8=ACCEPT")
        assert untagged == [b"* ENABLED UTF8=ACCEPT"], untagged
        n += 1
    untagged, _ = c.ok("%d" % n, "ENABLE CONDSTORE")
    assert untagged == [b"* ENABLED CONDSTORE"], untagged
    return c, n + 1, caps


def tb_select(c, tag, mailbox="INBOX"):
    """select "X" (CONDSTORE) and what Thunderbird keeps from it."""
    untagged, tagged = c.ok(tag, 'select "%s" (CONDSTORE)' % mailbox)
    assert tagged_code(tagged) == ("READ-WRITE", ""), tagged
    got = codes(untagged)
    for code in ("PERMANENTFLAGS", "UIDVALIDITY", "UIDNEXT",
                 "HIGHESTMODSEQ"):
        assert code in got, (code, untagged)
    perm = got["PERMANENTFLAGS"]
    assert perm.startswith("(") and perm.endswith(")"), perm
    # \* tells it that it may store its own keywords ($label1, Junk...).
    assert {"\\Seen", "\\Deleted", "\\Flagged", "\\Answered", "\\Draft",
            "\\*"} <= set(perm[1:-1].split()), perm
    flags_line = [r for r in untagged if r.startswith(b"* FLAGS (")]
    assert len(flags_line) == 1, untagged
    return {"EXISTS": exists(untagged),
            "UIDVALIDITY": int(got["UIDVALIDITY"]),
            "UIDNEXT": int(got["UIDNEXT"]),
            "HIGHESTMODSEQ": int(got["HIGHESTMODSEQ"])}


def test_thunderbird_first_sync_read_flag_move_and_send(server):
    msgs = inbox_mail(server)
    c, n, caps = tb_login(server)
    with c:
        # Folder discovery: subscribed folders with their special use.
        untagged, _ = c.ok("%d" % n,
                           'list (subscribed) "" "*" return (special-use)')
        boxes = list_attrs(untagged)
        for name, use in (("Drafts", "\\drafts"), ("Sent", "\\sent"),
                          ("Trash", "\\trash"), ("Junk", "\\junk"),
                          ("Archive", "\\archive")):
            assert name in boxes and use in boxes[name], (name, boxes)
        assert "INBOX" in boxes, boxes
        for name, attrs in boxes.items():
            assert "\\subscribed" in attrs, (name, attrs)
        untagged, _ = c.ok("%d" % (n + 1), 'list "" "INBOX"')
        assert list(list_attrs(untagged)) == ["INBOX"], untagged

        # First visit of INBOX: every UID and its flags; with QUOTA
        # offered it asks for the quota it shows in the folder's
        # properties.
        sel = tb_select(c, "%d" % (n + 2))
        assert sel["EXISTS"] == 4 and sel["UIDNEXT"] == 5, sel
        untagged, _ = c.ok("%d.q" % (n + 2), 'getquotaroot "INBOX"')
        roots = [parse(r) for r in untagged if r.startswith(b"* QUOTAROOT ")]
        assert len(roots) == 1 and roots[0][2] in (b"INBOX", "INBOX"), \
            untagged
        for r in untagged:
            v = parse(r)
            if v[1] == "QUOTA":
                assert isinstance(v[3], list) and len(v[3]) % 3 == 0, r
        untagged, _ = c.ok("%d" % (n + 3), "UID fetch 1:* (FLAGS)")
        got = by_uid(untagged)
        assert sorted(got) == [1, 2, 3, 4], got
        assert all(flags(i) == set() for i in got.values()), got
        assert [got[u]["SEQ"] for u in (1, 2, 3, 4)] == [1, 2, 3, 4]

        # The message list: size, flags and its header fields.
        untagged, _ = c.ok(
            "%d" % (n + 4), "UID fetch 1:4 (UID RFC822.SIZE FLAGS "
            "BODY.PEEK[HEADER.FIELDS (%s)])" % " ".join(TB_HEADERS))
        got = by_uid(untagged)
        key = "BODY[HEADER.FIELDS (%s)]" % " ".join(TB_HEADERS).upper()
        for uid, sent in zip((1, 2, 3, 4), msgs):
            items = got[uid]
            whole = stored(c, "%d.%d" % (n + 4, uid), uid)
            assert body_of(whole) == sent
            assert items["RFC822.SIZE"] == len(whole), uid
            assert items[key] == header_fields(whole, TB_HEADERS), uid
        assert b"References: <replay-0@example.org>\r\n" \
            b" <replay-1@example.org>\r\n" in got[2][key]

        # Opening the big message: BODY[] in chunks, which sets \Seen.
        uid = 3
        whole = stored(c, "%d.x" % (n + 5), uid)
        assert len(whole) > TB_CHUNK
        chunks, offset, t = [], 0, n + 5
        while offset < len(whole):
            untagged, _ = c.ok("%d" % t, "UID fetch %d (UID RFC822.SIZE "
                               "BODY[]<%d.%d>)" % (uid, offset, TB_CHUNK))
            items = by_uid(untagged)[uid]
            assert items["RFC822.SIZE"] == len(whole)
            part = items["BODY[]<%d>" % offset]
            assert len(part) == min(TB_CHUNK, len(whole) - offset)
            chunks.append(part)
            offset += len(part)
            t += 1
        assert b"".join(chunks) == whole
        untagged, _ = c.ok("%d" % t, "UID fetch 3 (FLAGS)")
        assert flags(by_uid(untagged)[3]) == {"\\Seen"}

        # Star it: the answer carries the flags, UID and (CONDSTORE) the
        # new MODSEQ.
        untagged, _ = c.ok("%d" % (t + 1), "uid store 2 +Flags (\\Flagged)")
        items = by_uid(untagged)[2]
        assert flags(items) == {"\\Flagged"}
        assert modseq(items) > sel["HIGHESTMODSEQ"]

        # Delete = move to Trash (MOVE offered).
        untagged, tagged = c.ok("%d" % (t + 2), 'uid move 1 "Trash"')
        copyuid = [r for r in untagged if b"[COPYUID " in r] + (
            [tagged] if b"[COPYUID " in tagged else [])
        assert len(copyuid) == 1, (untagged, tagged)
        m = re.search(rb"\[COPYUID (\d+) 1 (\d+)\]", copyuid[0])
        assert m, copyuid
        assert expunged(untagged) == [1], untagged

        # Sending: the copy goes to Sent with LITERAL+.
        mine = sent_message(b"tb sent")
        untagged, tagged = c.ok("%d" % (t + 3), 'append "Sent" (\\Seen) ',
                                Literal(mine, sync=False))
        code, val = tagged_code(tagged)
        assert code == "APPENDUID", tagged
        sent_uid = int(val.split()[1])

        # Trash and Sent hold what Thunderbird put there, byte for byte.
        tb_select(c, "%d" % (t + 4), "Trash")
        untagged, _ = c.ok("%d" % (t + 5), "UID fetch 1:* (FLAGS)")
        assert list(by_uid(untagged)) == [int(m.group(2))]
        assert body_of(stored(c, "%d" % (t + 6), int(m.group(2)))) == msgs[0]
        tb_select(c, "%d" % (t + 7), "Sent")
        assert stored(c, "%d" % (t + 8), sent_uid) == mine
        untagged, _ = c.ok("%d" % (t + 9), "UID fetch %d (FLAGS)" % sent_uid)
        assert flags(by_uid(untagged)[sent_uid]) == {"\\Seen"}

        # Empty Trash: every message it knows there marked, then EXPUNGE.
        tb_select(c, "%d" % (t + 10), "Trash")
        trash_uid = int(m.group(2))
        c.ok("%d" % (t + 11), "uid store %d +Flags (\\Deleted)" % trash_uid)
        untagged, _ = c.ok("%d" % (t + 12), "expunge")
        assert expunged(untagged) == [1], untagged
        untagged, _ = c.ok("%d" % (t + 13), 'STATUS "Trash" (MESSAGES)')
        assert re.match(rb'\* STATUS "?Trash"? \(MESSAGES 0\)$',
                        untagged[0]), untagged
        c.ok("%d" % (t + 14), "logout")


def other_device(srv):
    """A second client of the same account, for the changes a replayed
    client must learn about."""
    c = Replay(srv.imap_port)
    c.ok("o1", 'LOGIN %s "%s"' % (ALICE, PASSWORD))
    return c


def test_thunderbird_condstore_resync_drafts_and_idle(server):
    inbox_mail(server)
    c, n, _ = tb_login(server)
    with c:
        first = tb_select(c, "%d" % n)
        c.ok("%d" % (n + 1), "UID fetch 1:* (FLAGS)")
        c.ok("%d" % (n + 2), "logout")

    # Meanwhile, elsewhere: one message read, one deleted, one new.
    with other_device(server) as o:
        o.ok("o2", "SELECT INBOX")
        o.ok("o3", "UID STORE 2 +FLAGS (\\Seen)")
        o.ok("o4", "UID STORE 4 +FLAGS (\\Deleted)")
        o.ok("o5", "UID EXPUNGE 4")
        o.ok("o6", "LOGOUT")
    deliver(server, plain(5, "new one"))

    c, n, _ = tb_login(server)
    with c:
        sel = tb_select(c, "%d" % n)
        assert sel["UIDVALIDITY"] == first["UIDVALIDITY"]
        assert sel["HIGHESTMODSEQ"] > first["HIGHESTMODSEQ"], (first, sel)
        assert sel["UIDNEXT"] == 6 and sel["EXISTS"] == 4, sel
        # Only what changed since the modseq it kept.
        untagged, _ = c.ok("%d" % (n + 1), "UID fetch 1:* (FLAGS) "
                           "(CHANGEDSINCE %d)" % first["HIGHESTMODSEQ"])
        got = by_uid(untagged)
        assert sorted(got) == [2, 5], got
        assert flags(got[2]) == {"\\Seen"} and flags(got[5]) == set()
        for items in got.values():
            assert first["HIGHESTMODSEQ"] < modseq(items) <= \
                sel["HIGHESTMODSEQ"], items
        # Without QRESYNC it finds the expunged one from the full list.
        untagged, _ = c.ok("%d" % (n + 2), "UID fetch 1:* (FLAGS)")
        assert sorted(by_uid(untagged)) == [1, 2, 3, 5]
        # Its check for new mail asks from UIDNEXT on; with nothing newer
        # "6:*" still means the last message (RFC 9051 6.4.9).
        untagged, _ = c.ok("%d.n" % (n + 2), "UID fetch 6:* (FLAGS)")
        assert list(by_uid(untagged)) == [5], untagged
        # Nothing changed since the last HIGHESTMODSEQ: nothing comes.
        untagged, _ = c.ok("%d.m" % (n + 2), "UID fetch 1:* (FLAGS) "
                           "(CHANGEDSINCE %d)" % sel["HIGHESTMODSEQ"])
        assert untagged == [], untagged
        # An empty folder answers its first sync with nothing, and OK.
        tb_select(c, "%d.j" % (n + 2), "Junk")
        untagged, _ = c.ok("%d.k" % (n + 2), "UID fetch 1:* (FLAGS)")
        assert untagged == [], untagged

        # A draft saved twice: the new copy is appended, the old one
        # deleted and expunged by UID.
        d1 = sent_message(b"draft one")
        d2 = sent_message(b"draft two")
        uids = []
        for i, d in enumerate((d1, d2)):
            _, tagged = c.ok("%d" % (n + 3 + i),
                             'append "Drafts" (\\Seen \\Draft) ',
                             Literal(d, sync=False))
            code, val = tagged_code(tagged)
            assert code == "APPENDUID", tagged
            uids.append(int(val.split()[1]))
        assert uids[1] > uids[0]
        tb_select(c, "%d" % (n + 5), "Drafts")
        untagged, _ = c.ok("%d" % (n + 6), "uid store %d +Flags (\\Deleted)"
                           % uids[0])
        assert "\\Deleted" in flags(by_uid(untagged)[uids[0]])
        untagged, _ = c.ok("%d" % (n + 7), "UID expunge %d" % uids[0])
        assert expunged(untagged) == [1], untagged
        untagged, _ = c.ok("%d" % (n + 8), "UID fetch 1:* (FLAGS)")
        got = by_uid(untagged)
        assert list(got) == [uids[1]]
        assert flags(got[uids[1]]) == {"\\Seen", "\\Draft"}
        assert stored(c, "%d" % (n + 9), uids[1]) == d2

        # Back to INBOX and IDLE there: a delivery shows up as EXISTS.
        tb_select(c, "%d" % (n + 10))
        c.idle("%d" % (n + 11))
        deliver(server, plain(6, "while idling"))
        c.wait_for(rb"\* 5 EXISTS$")
        c.done("%d" % (n + 11))
        untagged, _ = c.ok("%d" % (n + 12), "UID fetch 6:* (FLAGS)")
        assert list(by_uid(untagged)) == [6]


# ---- Apple Mail on iOS ----
#
# Sources: the Stalwart threads "Can't connect via apple mail (iPhone)"
# (github.com/stalwartlabs/stalwart issue 1144: after authenticating, tag 2
# is ID ("name" "iPhone Mail" "version" ... "os" "iOS" "os-version" ...))
# and "[bug]: Can't sync with iOS 18" (issue 765: NAMESPACE and
# LIST "" "*" RETURN (SPECIAL-USE) sent together in one write); Apple's
# technote TN3189 "Managing Mail background traffic load" on the ID fields
# iOS Mail sends.  Its QRESYNC use (ENABLE QRESYNC, then
# SELECT INBOX (QRESYNC (uidvalidity modseq known-uids)) expecting
# VANISHED (EARLIER), and VANISHED instead of EXPUNGE afterwards) is
# written in the form RFC 7162 3.2.5 and 3.2.10 give, since no public
# trace showed its exact text.  Flags and bodies are fetched by UID in
# windows, newest first, with (UID FLAGS); bodies by part, partially.

IOS_HEADERS = ("date", "subject", "from", "to", "cc", "message-id",
               "in-reply-to", "references", "content-type", "x-priority",
               "x-uniform-type-identifier",
               "x-universally-unique-identifier", "list-id",
               "list-unsubscribe")
INTERNALDATE = re.compile(rb'^[ 0-3]\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d '
                          rb'[+-]\d{4}$')


def instant(date_time):
    """An IMAP date-time as an aware datetime."""
    assert INTERNALDATE.match(date_time), date_time
    return datetime.datetime.strptime(date_time.decode().strip(),
                                      "%d-%b-%Y %H:%M:%S %z")


def ios_login(srv):
    c = Replay(srv.imap_port)
    _, tagged = c.ok("1", "AUTHENTICATE PLAIN " + plain_auth())
    assert "QRESYNC" in caps_in(tagged), tagged
    untagged, _ = c.ok("2", 'ID ("name" "iPhone Mail" "version" "22C161" '
                       '"os" "iOS" "os-version" "18.2.1 (22C161)")')
    assert len(untagged) == 1 and untagged[0].startswith(b"* ID "), untagged
    untagged, _ = c.ok("3", "ENABLE QRESYNC")
    assert len(untagged) == 1 and "QRESYNC" in parse(untagged[0])[2:], \
        untagged
    return c


def ios_select(c, tag, qresync=None):
    """SELECT INBOX, with (QRESYNC (...)) when it knows the mailbox."""
    cmd = "SELECT INBOX"
    if qresync:
        cmd += " (QRESYNC (%s))" % qresync
    untagged, tagged = c.ok(tag, cmd)
    assert tagged_code(tagged) == ("READ-WRITE", ""), tagged
    got = codes(untagged)
    for code in ("UIDVALIDITY", "UIDNEXT", "HIGHESTMODSEQ",
                 "PERMANENTFLAGS"):
        assert code in got, (code, untagged)
    # RFC 7162 3.2.5.2: no EXPUNGE in a QRESYNC SELECT, only VANISHED.
    assert not expunged(untagged), untagged
    return untagged, {k: int(got[k]) for k in
                      ("UIDVALIDITY", "UIDNEXT", "HIGHESTMODSEQ")}


def test_apple_mail_ios_sync_archive_delete_send_and_qresync(server):
    msgs = inbox_mail(server)
    with ios_login(server) as c:
        ns, lists = c.pipeline(("4", "NAMESPACE"),
                               ("5", 'LIST "" "*" RETURN (SPECIAL-USE)'))
        assert len(ns) == 1, ns
        v = parse(ns[0])
        assert v[1] == "NAMESPACE" and v[2] == [[b"", b"/"]], ns
        boxes = list_attrs(lists)
        for name, use in (("Drafts", "\\drafts"), ("Sent", "\\sent"),
                          ("Trash", "\\trash"), ("Junk", "\\junk"),
                          ("Archive", "\\archive")):
            assert use in boxes.get(name, ()), (name, boxes)

        untagged, first = ios_select(c, "6")
        assert exists(untagged) == 4 and first["UIDNEXT"] == 5, untagged
        # Flags in windows of UIDs, newest first.
        seen = {}
        for tag, window in (("7", "3:4"), ("8", "1:2")):
            untagged, _ = c.ok(tag, "UID FETCH %s (UID FLAGS)" % window)
            seen.update(by_uid(untagged))
        assert sorted(seen) == [1, 2, 3, 4], seen

        # The headers it shows in the list, with size and date.
        untagged, _ = c.ok("9", "UID FETCH 1:4 (UID FLAGS RFC822.SIZE "
                           "INTERNALDATE BODY.PEEK[HEADER.FIELDS (%s)])"
                           % " ".join(IOS_HEADERS))
        got = by_uid(untagged)
        key = "BODY[HEADER.FIELDS (%s)]" % " ".join(IOS_HEADERS).upper()
        for uid, sent in zip((1, 2, 3, 4), msgs):
            whole = stored(c, "9.%d" % uid, uid)
            assert body_of(whole) == sent
            assert got[uid][key] == header_fields(whole, IOS_HEADERS)
            assert got[uid]["RFC822.SIZE"] == len(whole)
            assert INTERNALDATE.match(got[uid]["INTERNALDATE"]), got[uid]

        # The structure, then only the parts it shows.
        untagged, _ = c.ok("10", "UID FETCH 3 (UID BODYSTRUCTURE)")
        bs = by_uid(untagged)[3]["BODYSTRUCTURE"]
        text, pdf = bs[0], bs[1]
        assert bs[2].upper() == b"MIXED", bs
        assert [x.upper() for x in text[:2]] == [b"TEXT", b"PLAIN"], text
        assert [x.upper() for x in pdf[:2]] == [b"APPLICATION", b"PDF"]
        assert pdf[5].upper() == b"BASE64", pdf
        b64 = msgs[2].split(b"base64\r\n\r\n", 1)[1].rsplit(b"--=-b1--", 1)[0]
        assert pdf[6] == len(b64) - 2, (pdf, len(b64))
        untagged, _ = c.ok("11", "UID FETCH 1 (UID BODY.PEEK[1]<0.10240>)")
        assert by_uid(untagged)[1]["BODY[1]<0>"] == \
            msgs[0].split(b"\r\n\r\n", 1)[1]
        untagged, _ = c.ok("12", "UID FETCH 3 (UID BODY.PEEK[1] "
                           "BODY.PEEK[2]<0.4096>)")
        items = by_uid(untagged)[3]
        assert items["BODY[1]"] == b"The report is attached."
        assert items["BODY[2]<0>"] == b64[:4096]
        untagged, _ = c.ok("13", "UID FETCH 1:4 (UID FLAGS)")
        assert all(flags(i) == set() for i in by_uid(untagged).values())

        # Read, archived, deleted: under QRESYNC the moves answer VANISHED.
        c.ok("14", "UID STORE 1 +FLAGS.SILENT (\\Seen)")
        for tag, uid, box in (("15", 2, "Archive"), ("16", 3, "Trash")):
            untagged, tagged = c.ok(tag, "UID MOVE %d %s" % (uid, box))
            assert b"[COPYUID " in tagged or any(
                b"[COPYUID " in r for r in untagged), (untagged, tagged)
            assert vanished(untagged, False) == [uid], untagged
            assert not expunged(untagged), untagged

        # The copy of a sent message, with its date, synchronizing literal.
        mine = sent_message(b"from my iphone")
        _, tagged = c.ok("17", 'APPEND Sent (\\Seen) '
                         '"01-Dec-2026 09:30:00 +0100" ', Literal(mine))
        code, val = tagged_code(tagged)
        assert code == "APPENDUID", tagged
        sent_uid = int(val.split()[1])

        # IDLE on INBOX: a delivery wakes it.
        c.idle("18")
        deliver(server, plain(5, "push"))
        c.wait_for(rb"\* 3 EXISTS$")
        c.done("18")

        # Sent holds the message byte for byte with the date it gave.
        c.ok("19", "EXAMINE Sent")
        untagged, _ = c.ok("20", "UID FETCH %d (UID FLAGS INTERNALDATE "
                           "BODY.PEEK[])" % sent_uid)
        items = by_uid(untagged)[sent_uid]
        assert items["BODY[]"] == mine
        # The same instant; the server may give it in another zone.
        assert instant(items["INTERNALDATE"]) == instant(
            b"01-Dec-2026 09:30:00 +0100")
        assert flags(items) == {"\\Seen"}

        # Back to INBOX with what it knew at the first SELECT: the two
        # messages it moved away come back as VANISHED (EARLIER), the
        # read one and the new one as FETCH with their MODSEQ.
        untagged, second = ios_select(
            c, "21", "%d %d 1:4" % (first["UIDVALIDITY"],
                                    first["HIGHESTMODSEQ"]))
        assert sorted(vanished(untagged, True)) == [2, 3], untagged
        got = by_uid(untagged)
        assert sorted(got) == [1, 5], untagged
        assert flags(got[1]) == {"\\Seen"}
        for items in got.values():
            assert first["HIGHESTMODSEQ"] < modseq(items) <= \
                second["HIGHESTMODSEQ"]
        c.ok("22", "LOGOUT")

    # Overnight, another device deletes one and flags another.
    with other_device(server) as o:
        o.ok("o2", "SELECT INBOX")
        o.ok("o3", "UID STORE 4 +FLAGS (\\Deleted)")
        o.ok("o4", "UID EXPUNGE 4")
        o.ok("o5", "UID STORE 1 +FLAGS (\\Flagged)")
        o.ok("o6", "LOGOUT")

    with ios_login(server) as c:
        untagged, third = ios_select(
            c, "4", "%d %d 1:5" % (second["UIDVALIDITY"],
                                   second["HIGHESTMODSEQ"]))
        assert third["HIGHESTMODSEQ"] > second["HIGHESTMODSEQ"]
        gone = vanished(untagged, True)
        assert 4 in gone and set(gone) <= {2, 3, 4}, untagged
        got = by_uid(untagged)
        assert sorted(got) == [1], untagged
        assert flags(got[1]) == {"\\Seen", "\\Flagged"}
        assert exists(untagged) == 2, untagged
        c.ok("5", "LOGOUT")


# ---- Apple Mail on macOS ----
#
# Source: the transcript of macOS Mail 16 (macOS 13.5) in the mox thread
# "macOS's Mail.app IMAP folder matching" (github.com/mjl-/mox issue 66):
# tags "N.1" on its first connection and "N.2" on the second it opens in
# parallel, ID before LOGIN, LOGIN with the address as an atom,
# SELECT INBOX, FETCH 1:n (FLAGS UID) by sequence number, and
# LSUB "" * with an unquoted wildcard.

MAC_ID = ('ID ("name" "Mac OS X Mail" "version" "16.0 (3731.700.6)" "os" '
          '"Mac OS X" "os-version" "13.5.2 (22G91)" "vendor" "Apple Inc.")')


def test_apple_mail_macos_two_connections(server):
    inbox_mail(server)
    with Replay(server.imap_port) as c1, Replay(server.imap_port) as c2:
        # ID comes before login, from a client nobody knows yet.
        untagged, _ = c1.ok("1.1", MAC_ID)
        assert len(untagged) == 1 and untagged[0].startswith(b"* ID "), \
            untagged
        c1.ok("2.1", 'LOGIN %s "%s"' % (ALICE, PASSWORD))
        untagged, tagged = c1.ok("3.1", "SELECT INBOX")
        assert exists(untagged) == 4, untagged
        assert tagged_code(tagged) == ("READ-WRITE", ""), tagged
        got = codes(untagged)
        assert int(got["UIDNEXT"]) == 5 and "UIDVALIDITY" in got, got
        untagged, _ = c1.ok("4.1", "FETCH 1:4 (FLAGS UID)")
        got = fetches(untagged)[0]
        assert sorted(got) == [1, 2, 3, 4], got
        assert [got[i]["UID"] for i in (1, 2, 3, 4)] == [1, 2, 3, 4]
        assert all(flags(i) == set() for i in got.values())
        untagged, _ = c1.ok("5.1", 'LSUB "" *')
        subs = list_attrs(untagged, "LSUB")
        assert {"INBOX", "Drafts", "Sent", "Trash", "Junk", "Archive"} <= \
            set(subs), subs

        # The second connection, opened while the first has INBOX.
        c2.ok("1.2", MAC_ID)
        c2.ok("2.2", 'LOGIN %s "%s"' % (ALICE, PASSWORD))
        untagged, _ = c2.ok("3.2", "SELECT INBOX")
        assert exists(untagged) == 4
        c2.ok("4.2", "UID STORE 2 +FLAGS (\\Seen)")
        # The first connection learns of it at its next command.
        untagged = c1.poll("6.1", rb"\* 2 FETCH ")
        got = fetches(untagged)[0]
        assert list(got) == [2] and flags(got[2]) == {"\\Seen"}, untagged
        c2.ok("5.2", "LOGOUT")
        c1.ok("7.1", "LOGOUT")
    # The ID was logged with the client's name and system, under keys of
    # the server's own ("os-version" is no log key).
    assert re.search(r' id .*name="Mac OS X Mail".* os_version="13\.5\.2 '
                     r'\(22G91\)"', server.log()), server.log()[-2000:]


# ---- Outlook (Windows desktop) ----
#
# Sources: Microsoft's "[MS-STANOIMAP]: Outlook Internet Message Access
# Protocol (IMAP) Standards Support" (learn.microsoft.com, section 2.1:
# Outlook fetches with BODY.PEEK, never the ALL/FAST/FULL macros, and asks
# for whole messages with RFC822.PEEK), the go-imap thread "Outlook client
# uses obsolete RFC822.peek in fetch calls" (github.com/emersion/go-imap
# issue 657: "7 UID fetch 39 (UID RFC822.SIZE RFC822.peek)"), and the
# wildduck thread "XLIST command for imap" (github.com/zone-eu/wildduck
# issue 91) on Outlook finding Sent, Trash, Drafts and Junk from the
# folder list's attributes.  It deletes the classic way: copy to the
# deleted-items folder, mark \Deleted, expunge; it polls with NOOP and also
# idles.

def test_outlook_desktop_sync_read_delete_and_send(server):
    msgs = inbox_mail(server)
    with Replay(server.imap_port) as c:
        untagged, _ = c.ok("1", "CAPABILITY")
        assert "IMAP4REV1" in caps_in(untagged[0])
        c.ok("2", 'LOGIN "%s" "%s"' % (ALICE, PASSWORD))
        # The plain LIST must carry the special-use attributes.
        untagged, _ = c.ok("3", 'LIST "" "*"')
        boxes = list_attrs(untagged)
        for name, use in (("Drafts", "\\drafts"), ("Sent", "\\sent"),
                          ("Trash", "\\trash"), ("Junk", "\\junk")):
            assert use in boxes.get(name, ()), (name, boxes)
        untagged, _ = c.ok("4", 'LSUB "" "*"')
        assert set(list_attrs(untagged, "LSUB")) == set(boxes)
        # A STATUS per folder for its folder pane.
        tag = 5
        for name in sorted(boxes):
            untagged, _ = c.ok("%d" % tag, 'STATUS "%s" (MESSAGES UNSEEN '
                               'RECENT UIDNEXT UIDVALIDITY)' % name)
            tag += 1
            assert len(untagged) == 1, untagged
            v = parse(untagged[0])
            box = v[2] if isinstance(v[2], Atom) else v[2].decode()
            assert v[1] == "STATUS" and box == name, untagged
            items = dict(zip(v[3][0::2], v[3][1::2]))
            assert set(items) == {"MESSAGES", "UNSEEN", "RECENT", "UIDNEXT",
                                  "UIDVALIDITY"}, items
            if name == "INBOX":
                assert items["MESSAGES"] == 4 and items["UNSEEN"] == 4
                assert items["UIDNEXT"] == 5

        untagged, _ = c.ok("%d" % tag, 'SELECT "INBOX"')
        assert exists(untagged) == 4
        untagged, _ = c.ok("%d" % (tag + 1), "UID fetch 1:* (UID FLAGS)")
        assert sorted(by_uid(untagged)) == [1, 2, 3, 4]
        untagged, _ = c.ok("%d" % (tag + 2), "UID fetch 1:4 (UID "
                           "RFC822.SIZE FLAGS INTERNALDATE BODY.PEEK[HEADER])")
        got = by_uid(untagged)
        for uid, sent in zip((1, 2, 3, 4), msgs):
            head = got[uid]["BODY[HEADER]"]
            whole = stored(c, "%d.%d" % (tag + 2, uid), uid)
            assert whole.startswith(head) and head.endswith(b"\r\n\r\n")
            assert body_of(whole) == sent
            assert got[uid]["RFC822.SIZE"] == len(whole)

        # Opening a message: RFC822.peek, answered as RFC822, no \Seen;
        # then Outlook marks it read itself.
        untagged, _ = c.ok("%d" % (tag + 3),
                           "UID fetch 2 (UID RFC822.SIZE RFC822.peek)")
        items = by_uid(untagged)[2]
        assert body_of(items["RFC822"]) == msgs[1]
        assert items["RFC822.SIZE"] == len(items["RFC822"])
        untagged, _ = c.ok("%d" % (tag + 4), "UID fetch 2 (UID FLAGS)")
        assert flags(by_uid(untagged)[2]) == set()
        untagged, _ = c.ok("%d" % (tag + 5), "UID STORE 2 +FLAGS (\\Seen)")
        assert flags(by_uid(untagged)[2]) == {"\\Seen"}

        # Delete: copy to Trash, mark, expunge.
        untagged, tagged = c.ok("%d" % (tag + 6), 'UID COPY 3 "Trash"')
        code, val = tagged_code(tagged)
        assert code == "COPYUID" and val.split()[1] == "3", tagged
        trash_uid = int(val.split()[2])
        c.ok("%d" % (tag + 7), "UID STORE 3 +FLAGS (\\Deleted)")
        untagged, _ = c.ok("%d" % (tag + 8), "EXPUNGE")
        assert expunged(untagged) == [3], untagged

        # Sent items, synchronizing literal.
        mine = sent_message(b"from outlook")
        _, tagged = c.ok("%d" % (tag + 9), 'APPEND "Sent" (\\Seen) ',
                         Literal(mine))
        assert tagged_code(tagged)[0] == "APPENDUID", tagged
        sent_uid = int(tagged_code(tagged)[1].split()[1])

        # Polling: a new message shows up at the next NOOP.
        deliver(server, plain(5, "polled"))
        untagged = c.poll("%d" % (tag + 10), rb"\* 4 EXISTS$")
        assert exists(untagged) == 4, untagged
        # And idling.
        c.idle("%d" % (tag + 11))
        deliver(server, plain(6, "pushed"))
        c.wait_for(rb"\* 5 EXISTS$")
        c.done("%d" % (tag + 11))

        untagged, _ = c.ok("%d" % (tag + 12), 'SELECT "Trash"')
        assert body_of(stored(c, "%d" % (tag + 13), trash_uid)) == msgs[2]
        c.ok("%d" % (tag + 14), 'SELECT "Sent"')
        assert stored(c, "%d" % (tag + 15), sent_uid) == mine
        c.ok("%d" % (tag + 16), "LOGOUT")


# ---- two devices at once ----

def test_thunderbird_idles_while_iphone_moves_and_back(server):
    """Thunderbird idling on INBOX (CONDSTORE, no QRESYNC) while the
    iPhone (QRESYNC) archives a message: Thunderbird is told with EXPUNGE
    during its IDLE.  Then the other way round: the iPhone idles while
    Thunderbird marks one read and moves one to Trash, and is told with
    FETCH (with UID and MODSEQ) and VANISHED, never EXPUNGE.  A delivery
    reaches both while they idle."""
    inbox_mail(server)
    tb, n, _ = tb_login(server)
    with tb, ios_login(server) as ios:
        tb_select(tb, "%d" % n)
        tb.ok("%d" % (n + 1), "UID fetch 1:* (FLAGS)")
        _, sel = ios_select(ios, "4")
        ios.ok("5", "UID FETCH 1:* (UID FLAGS)")

        tb.idle("%d" % (n + 2))
        untagged, _ = ios.ok("6", "UID MOVE 2 Archive")
        assert vanished(untagged, False) == [2], untagged
        got = tb.wait_for(rb"\* 2 EXPUNGE$")
        assert not [r for r in got if b"VANISHED" in r], got
        deliver(server, plain(5, "to both"))
        tb.wait_for(rb"\* 4 EXISTS$")
        tb.done("%d" % (n + 2))

        # The iPhone learns of the delivery at its next command.
        untagged = ios.poll("7", rb"\* 4 EXISTS$")
        ios.idle("8")
        tb.ok("%d" % (n + 3), "uid store 1 +Flags (\\Seen)")
        untagged, _ = tb.ok("%d" % (n + 4), 'uid move 3 "Trash"')
        assert expunged(untagged) == [2], untagged
        got = ios.wait_for(rb"\* VANISHED 3$")
        got += ios.done("8")
        assert not expunged(got), got
        news = by_uid(got)
        assert list(news) == [1] and flags(news[1]) == {"\\Seen"}, got
        assert modseq(news[1]) > sel["HIGHESTMODSEQ"]
        # Both agree on what is left, in the same order.
        mine = by_uid(ios.ok("9", "UID FETCH 1:* (UID FLAGS)")[0])
        theirs = by_uid(tb.ok("%d" % (n + 5), "UID fetch 1:* (FLAGS)")[0])
        assert sorted(mine) == sorted(theirs) == [1, 4, 5]
        assert {u: (i["SEQ"], flags(i)) for u, i in mine.items()} == \
            {u: (i["SEQ"], flags(i)) for u, i in theirs.items()}
        untagged, _ = tb.ok("%d" % (n + 6), 'STATUS "Archive" (MESSAGES)')
        assert untagged == [b'* STATUS Archive (MESSAGES 1)'] or \
            untagged == [b'* STATUS "Archive" (MESSAGES 1)'], untagged


# ---- Outlook for iOS and Android ----
#
# Source: the question "Outlook for Android uses intermediate Microsoft
# servers" (a Dovecot admin's log, quoted at newproxylists.com): the app
# does not connect itself; Microsoft's servers log in over IMAP for it
# (with SASL LOGIN where offered), keep the account in sync and push
# changes to the phone.  No trace of its commands is public, so this
# replays only that pattern: it signs in with what the server offers,
# lists the folders, syncs INBOX by UID and waits in IDLE, so that what
# another device does reaches the phone at once.

def test_outlook_mobile_cloud_sync_and_push(server):
    inbox_mail(server)
    with Replay(server.imap_port) as c:
        untagged, _ = c.ok("A1", "CAPABILITY")
        caps = caps_in(untagged[0])
        if "AUTH=LOGIN" in caps:
            c.send("A2", "AUTHENTICATE LOGIN")
            for answer in (ALICE, PASSWORD):
                assert c.response().startswith(b"+")
                c.c.send(base64.b64encode(answer.encode()) + b"\r\n")
            _, tagged = c.until("A2")
            assert tagged.startswith(b"A2 OK"), tagged
        else:
            c.ok("A2", 'LOGIN "%s" "%s"' % (ALICE, PASSWORD))
        boxes = list_attrs(c.ok("A3", 'LIST "" "*"')[0])
        assert {"INBOX", "Sent", "Drafts", "Trash"} <= set(boxes), boxes
        untagged, _ = c.ok("A4", "SELECT INBOX")
        assert exists(untagged) == 4
        got = by_uid(c.ok("A5", "UID FETCH 1:* (UID FLAGS INTERNALDATE "
                          "RFC822.SIZE)")[0])
        assert sorted(got) == [1, 2, 3, 4], got
        c.idle("A6")
        # The user reads and deletes on the desktop meanwhile.
        with other_device(server) as o:
            o.ok("o2", "SELECT INBOX")
            o.ok("o3", "UID STORE 1 +FLAGS (\\Seen)")
            o.ok("o4", "UID STORE 4 +FLAGS (\\Deleted)")
            o.ok("o5", "UID EXPUNGE 4")
            o.ok("o6", "LOGOUT")
        got = c.wait_for(rb"\* 4 EXPUNGE$")
        got += c.done("A6")
        news = fetches(got)[0]
        assert 1 in news and flags(news[1]) == {"\\Seen"}, got
        got = by_uid(c.ok("A7", "UID FETCH 1:* (UID FLAGS)")[0])
        assert sorted(got) == [1, 2, 3], got
        c.ok("A8", "LOGOUT")


def test_thunderbird_archive_into_yearly_folder(server):
    """Thunderbird's Archive button with its default options (support
    article "Archived messages", support.mozilla.org): messages go into
    one subfolder per year under the folder marked \\Archive, which it
    creates, subscribes and looks up first."""
    msgs = inbox_mail(server)
    c, n, _ = tb_login(server)
    with c:
        tb_select(c, "%d" % n)
        c.ok("%d" % (n + 1), "UID fetch 1:* (FLAGS)")
        untagged, _ = c.ok("%d" % (n + 2), 'list "" "Archive/2026"')
        assert untagged == [], untagged
        c.ok("%d" % (n + 3), 'create "Archive/2026"')
        c.ok("%d" % (n + 4), 'subscribe "Archive/2026"')
        untagged, _ = c.ok("%d" % (n + 5), 'list "" "Archive/2026"')
        assert list(list_attrs(untagged)) == ["Archive/2026"], untagged
        untagged, tagged = c.ok("%d" % (n + 6), 'uid move 2,4 "Archive/2026"')
        # Whatever order the EXPUNGEs come in, applied one after the other
        # they must leave what the client should have left.
        assert after_expunges([1, 2, 3, 4], untagged) == [1, 3], untagged
        untagged, _ = c.ok("%d" % (n + 7),
                           'list (subscribed) "" "*" return (special-use)')
        boxes = list_attrs(untagged)
        assert "\\archive" in boxes["Archive"], boxes
        assert "\\subscribed" in boxes["Archive/2026"], boxes
        tb_select(c, "%d" % (n + 8), "Archive/2026")
        untagged, _ = c.ok("%d" % (n + 9), "UID fetch 1:* (FLAGS)")
        got = by_uid(untagged)
        assert sorted(got) == [1, 2], got
        assert body_of(stored(c, "%d" % (n + 10), 1)) == msgs[1]
        assert body_of(stored(c, "%d" % (n + 11), 2)) == msgs[3]


def test_thunderbird_keywords_junk_and_labels(server):
    """Thunderbird keeps its junk verdict and tags as keywords (the log in
    Stalwart issue 234 shows FLAGS (\\Seen NonJunk); Junk, $label1,
    $Forwarded are its others): it stores them because PERMANENTFLAGS has
    \\*, and finds them again in FLAGS and FETCH after it reconnects."""
    inbox_mail(server)
    c, n, _ = tb_login(server)
    with c:
        tb_select(c, "%d" % n)
        untagged, _ = c.ok("%d" % (n + 1),
                           "uid store 1 +Flags (NonJunk $label1)")
        assert flags(by_uid(untagged)[1]) == {"NonJunk", "$label1"}
        untagged, _ = c.ok("%d" % (n + 2), "uid store 2 +Flags (Junk)")
        assert flags(by_uid(untagged)[2]) == {"Junk"}
        untagged, _ = c.ok("%d" % (n + 3),
                           "uid store 2 -Flags (Junk)")
        assert flags(by_uid(untagged)[2]) == set()
        untagged, _ = c.ok("%d" % (n + 4),
                           "uid store 3 +Flags (\\Answered $Forwarded)")
        assert flags(by_uid(untagged)[3]) == {"\\Answered", "$Forwarded"}
        c.ok("%d" % (n + 5), "logout")
    c, n, _ = tb_login(server)
    with c:
        # FLAGS may list only the system flags (RFC 9051 7.3.5: "at a
        # minimum"); what it needs is \* in PERMANENTFLAGS, which
        # tb_select checks, and the keywords on the messages.
        tb_select(c, "%d" % n)
        got = by_uid(c.ok("%d" % (n + 1), "UID fetch 1:* (FLAGS)")[0])
        assert flags(got[1]) == {"NonJunk", "$label1"}
        assert flags(got[2]) == set()
        assert flags(got[3]) == {"\\Answered", "$Forwarded"}


def test_apple_mail_ios_draft_saved_twice(server):
    """iOS Mail saving a draft, then saving it again: the new copy is
    appended to Drafts, the old one marked \\Deleted silently and removed
    by UID; under QRESYNC that removal is told with VANISHED.  (The
    commands follow RFC 4315 and RFC 7162 3.2.10; no public trace of this
    part was found.)"""
    with ios_login(server) as c:
        uids = []
        for tag, text in (("4", b"first words"), ("5", b"more words")):
            _, tagged = c.ok(tag, "APPEND Drafts (\\Seen \\Draft) ",
                             Literal(sent_message(text)))
            code, val = tagged_code(tagged)
            assert code == "APPENDUID", tagged
            uids.append(int(val.split()[1]))
        untagged, tagged = c.ok("6", "SELECT Drafts")
        assert exists(untagged) == 2, untagged
        c.ok("7", "UID STORE %d +FLAGS.SILENT (\\Deleted)" % uids[0])
        untagged, _ = c.ok("8", "UID EXPUNGE %d" % uids[0])
        assert vanished(untagged, False) == [uids[0]], untagged
        assert not expunged(untagged), untagged
        got = by_uid(c.ok("9", "UID FETCH 1:* (UID FLAGS BODY.PEEK[])")[0])
        assert list(got) == [uids[1]]
        assert flags(got[uids[1]]) == {"\\Seen", "\\Draft"}
        assert got[uids[1]]["BODY[]"] == sent_message(b"more words")
