"""IMAP SEARCH on the text of messages (RFC 9051 6.4.4), as imaplib sends
it, against the real server: BODY and TEXT from the full-text index,
FROM/TO/SUBJECT/HEADER on the decoded (RFC 2047) header fields, all as
substrings under i;unicode-casemap (RFC 5051), with non-ASCII strings sent
as literals under CHARSET UTF-8.  Messages arrive over SMTP, by APPEND, by
COPY; results are checked after EXPUNGE and for messages too large to be
indexed at delivery."""

import base64
import imaplib
import os
import random
import sqlite3

import pytest

from conftest import PASSWORD, smtp_send

ALICE = "alice@example.com"


def msg(*lines, body=b""):
    """A message from header lines (str) and a body (bytes), CRLF ends."""
    head = "".join(l + "\r\n" for l in lines).encode()
    return head + b"\r\n" + body


B64_BODY = base64.encodebytes(
    "Résumé attached: the zebrafish experiment, all data.\r\n".encode())
B64_BODY = B64_BODY.replace(b"\n", b"\r\n")

MESSAGES = [
    # 1: encoded words in From and Subject, a quoted-printable latin-1
    # body.
    msg("From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <joerg@example.org>",
        "To: alice@example.com",
        "Subject: =?iso-8859-1?q?gr=F6=DFe?= Angabe",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=iso-8859-1",
        "Content-Transfer-Encoding: quoted-printable",
        body=b"Die Stra=DFe in K=F6ln ist gesperrt, sagt die Stadt.\r\n"),
    # 2: a base64 UTF-8 body.
    msg("From: Alice Smith <alice.smith@example.net>",
        "To: alice@example.com",
        "Subject: Quarterly report",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: base64",
        body=B64_BODY),
    # 3: an upper-case subject with double s, plain text.
    msg("From: carol@example.com",
        "To: alice@example.com",
        "Subject: =?utf-8?q?GR=C3=96SSE?=",
        body=b"Nothing to see here.\r\n"),
    # 4: HTML with inline tags and references, beside a plain part.
    msg("From: shop@example.com",
        "To: alice@example.com",
        "Subject: Offer",
        "MIME-Version: 1.0",
        "Content-Type: multipart/alternative; boundary=alt",
        body=(b"--alt\r\nContent-Type: text/plain\r\n\r\nsee the html\r\n"
              b"--alt\r\nContent-Type: text/html\r\n\r\n"
              b"<p>The <b>pine</b>apple &amp; mango <i>sorbet</i></p>\r\n"
              b"--alt--\r\n")),
    # 5: a forwarded message (message/rfc822) and a binary attachment.
    msg("From: dave@example.com",
        "To: alice@example.com",
        "Subject: Fwd: stuff",
        "MIME-Version: 1.0",
        "Content-Type: multipart/mixed; boundary=mix",
        body=(b"--mix\r\nContent-Type: text/plain\r\n\r\nsee below\r\n"
              b"--mix\r\nContent-Type: message/rfc822\r\n\r\n"
              b"Subject: Inner topic xylophone\r\n"
              b"From: eve@example.com\r\n\r\n"
              b"the inner words: marimba\r\n"
              b"--mix\r\nContent-Type: application/octet-stream\r\n"
              b"Content-Transfer-Encoding: base64\r\n\r\n"
              + base64.b64encode(b"hidden binary zebrafish words")
              + b"\r\n--mix--\r\n")),
]


def deliver(srv, *messages, rcpt=ALICE):
    for m in messages:
        code, text = smtp_send(srv.smtp_port, rcpt, m)
        assert code == 250, text


def login(srv, user=ALICE):
    c = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=60)
    ok(c.login(user, PASSWORD))
    return c


def ok(resp):
    typ, data = resp
    assert typ == "OK", resp
    return data


def ids(data):
    return [int(x) for x in data[0].split()]


def search(c, *criteria, uid=False):
    """SEARCH with ASCII criteria; the message numbers (or UIDs) found."""
    if uid:
        return ids(ok(c.uid("SEARCH", *criteria)))
    return ids(ok(c.search(None, *criteria)))


def search_utf8(c, *criteria, text):
    """SEARCH CHARSET UTF-8 with `text` as the last argument, a literal."""
    c.literal = text.encode()
    return ids(ok(c.search("UTF-8", *criteria)))


def unindexed(srv):
    """How many of the one account's messages have no text in the index,
    read from its database behind the server's back."""
    mail = os.path.join(srv.data, "mail")
    dirs = os.listdir(mail)
    assert len(dirs) == 1, dirs
    path = os.path.join(mail, dirs[0], "index.db")
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        return db.execute(
            "SELECT count(*) FROM message m WHERE NOT EXISTS "
            "(SELECT 1 FROM msgtext_docsize d WHERE d.id = m.body_id)"
        ).fetchone()[0]
    finally:
        db.close()


@pytest.fixture
def inbox(server):
    """alice's INBOX with MESSAGES delivered, selected."""
    deliver(server, *MESSAGES)
    # Delivery leaves the index to the first search (it halves the
    # delivery rate otherwise).
    assert unindexed(server) == len(MESSAGES)
    c = login(server)
    ok(c.select("INBOX"))
    yield c
    c.logout()


def test_body_and_text(inbox):
    c = inbox
    assert search(c, "BODY", "zebrafish") == [2]
    # A substring inside a word, in any case.
    assert search(c, "BODY", "ebrafi") == [2]
    assert search(c, "BODY", "ZEBRAFISH") == [2]
    assert search(c, "BODY", '"the zebrafish experiment"') == [2]
    assert search(c, "BODY", "zebrafishes") == []
    # The subject is header text: TEXT finds it, BODY does not.
    assert search(c, "TEXT", "quarterly") == [2]
    assert search(c, "BODY", "quarterly") == []
    assert search(c, "TEXT", "zebrafish") == [2]
    # Not from another message's words.
    assert search(c, "BODY", "nothing") == [3]
    assert search(c, "BODY", "gesperrt") == [1]
    # HTML: tags gone, inline ones joining their words, references
    # decoded; the plain alternative is there too.
    assert search(c, "BODY", "pineapple") == [4]
    assert search(c, "BODY", '"apple & mango sorbet"') == [4]
    assert search(c, "BODY", "<b>") == []
    assert search(c, "BODY", '"see the html"') == [4]
    # A forwarded message: its header and body are body text; a binary
    # attachment is not.
    assert search(c, "BODY", "xylophone") == [5]
    assert search(c, "BODY", "marimba") == [5]
    assert search(c, "SUBJECT", "xylophone") == []
    assert search(c, "BODY", "hidden") == []
    # The empty string is in every message.
    assert search(c, "BODY", '""') == [1, 2, 3, 4, 5]
    assert search(c, "TEXT", '""') == [1, 2, 3, 4, 5]


def test_decoded_and_non_ascii(inbox):
    c = inbox
    # Base64 UTF-8 and quoted-printable latin-1 bodies, looked for in
    # UTF-8 and in another case.
    assert search_utf8(c, "BODY", text="résumé") == [2]
    assert search_utf8(c, "BODY", text="RÉSUMÉ") == [2]
    assert search_utf8(c, "BODY", text="köln") == [1]
    assert search_utf8(c, "BODY", text="KÖLN") == [1]
    assert search_utf8(c, "BODY", text="Straße") == [1]
    # RFC 5051 does not fold ß to SS.
    assert search_utf8(c, "BODY", text="strasse") == []
    # Encoded words in the subject.
    assert search_utf8(c, "SUBJECT", text="größe") == [1]
    assert search_utf8(c, "SUBJECT", text="GRÖSSE") == [3]
    assert search_utf8(c, "SUBJECT", text="öß") == [1]
    assert search(c, "SUBJECT", "Angabe") == [1]
    assert search(c, "SUBJECT", "=?iso-8859-1?q?") == []
    # Encoded words in From; the address part too.
    assert search_utf8(c, "FROM", text="jörg müller") == [1]
    assert search_utf8(c, "FROM", text="MÜLL") == [1]
    assert search(c, "FROM", "smith") == [2]
    assert search(c, "FROM", "ALICE.SMITH@EXAMPLE") == [2]
    assert search(c, "FROM", "example.com") == [3, 4, 5]
    assert search(c, "TO", "alice@example.com") == [1, 2, 3, 4, 5]
    assert search(c, "CC", "alice") == []
    # One or two characters: no trigram, still found.
    assert search_utf8(c, "BODY", text="ö") == [1]
    assert search_utf8(c, "SUBJECT", text="ß") == [1]
    assert search(c, "SUBJECT", "Fw") == [5]
    assert search(c, "BODY", "zz") == []


def test_header_keys_leave_mail_unindexed(server, inbox):
    """Searches of header fields alone look into the fields of mail that
    is not indexed yet, without indexing it; their answers are those the
    index gives once BODY has filled it."""
    c = inbox
    queries = [
        (("FROM",), "jörg müller", [1]),
        (("FROM",), "MÜLL", [1]),
        (("FROM",), "smith", [2]),
        (("FROM",), "ALICE.SMITH@EXAMPLE", [2]),
        (("FROM",), "example.com", [3, 4, 5]),
        (("FROM",), "eve", []),
        (("TO",), "alice@example.com", [1, 2, 3, 4, 5]),
        (("CC",), "alice", []),
        (("SUBJECT",), "größe", [1]),
        (("SUBJECT",), "GRÖSSE", [3]),
        (("SUBJECT",), "ß", [1]),
        (("SUBJECT",), "xylophone", []),
        (("SUBJECT",), "=?iso-8859-1?q?", []),
        (("HEADER", "Content-Type"), "multipart", [4, 5]),
        (("HEADER", "content-type"), "ALTERNATIVE", [4]),
        (("HEADER", "MIME-Version"), "", [1, 2, 4, 5]),
        (("HEADER", "X-Nowhere"), "", []),
        (("HEADER", "Subject"), "Subject", []),
        (("HEADER", "To"), "shop", []),
    ]

    def run():
        return [search_utf8(c, *keys, text=text) for keys, text, _ in queries]

    before = run()
    assert before == [want for _, _, want in queries]
    assert search(c, "OR", "FROM", "smith", "SUBJECT", "offer") == [2, 4]
    assert search(c, "NOT", "FROM", "example.com", "SUBJECT", "e") == [1, 2]
    assert unindexed(server) == len(MESSAGES)
    assert search(c, "BODY", "zebrafish") == [2]
    assert unindexed(server) == 0
    assert run() == before


def test_header_and_combinations(inbox):
    c = inbox
    assert search(c, "HEADER", "Content-Type", "multipart") == [4, 5]
    assert search(c, "HEADER", "content-type", "ALTERNATIVE") == [4]
    # An empty string: every message with the field.
    assert search(c, "HEADER", "MIME-Version", '""') == [1, 2, 4, 5]
    assert search(c, "HEADER", "X-Nowhere", '""') == []
    # The field's value, not its name or another field.
    assert search(c, "HEADER", "Subject", "Subject") == []
    assert search(c, "HEADER", "To", "shop") == []
    assert search(c, "OR", "BODY", "zebrafish", "SUBJECT", "offer") == [2, 4]
    assert search(c, "NOT", "BODY", "a") == [3]
    assert search(c, "BODY", "see", "NOT", "FROM", "shop") == [3, 5]
    assert search(c, "UID", "2:4", "TEXT", "e") == [2, 3, 4]
    assert search(c, "BODY", "zebrafish", uid=True) == [2]
    ok(c.store("1", "+FLAGS", "\\Seen"))
    assert search(c, "SEEN", "BODY", "die") == [1]
    assert search(c, "UNSEEN", "BODY", "die") == []
    typ, data = c.sort("(SUBJECT)", "UTF-8", "TEXT", "example")
    # By base subject: GRÖSSE before GRÖßE ("S" is below "ß"), and
    # "Fwd: stuff" as "stuff".
    assert typ == "OK" and data[0] == b"3 1 4 2 5", data


def test_expunge_copy_append(server, inbox):
    c = inbox
    ok(c.copy("2", "Archive"))
    ok(c.copy("2", "Archive"))
    ok(c.store("2", "+FLAGS", "\\Deleted"))
    ok(c.expunge())
    assert search(c, "BODY", "zebrafish") == []
    # The messages after it moved down a number.
    assert search(c, "BODY", "nothing") == [2]
    # The copies share one text and still find it.
    other = login(server)
    ok(other.select("Archive"))
    assert search(other, "BODY", "zebrafish") == [1, 2]
    ok(other.store("1", "+FLAGS", "\\Deleted"))
    ok(other.expunge())
    assert search(other, "BODY", "zebrafish") == [1]
    assert search(other, "BODY", "nothing") == []
    other.logout()
    # APPEND keeps the text with the message.
    appended = msg("From: =?utf-8?b?RnLDqWTDqXJpYw==?= <f@example.org>",
                   "Subject: =?utf-8?q?Z=C3=BCrich_trip?=",
                   "Content-Type: text/plain; charset=utf-8",
                   "Content-Transfer-Encoding: quoted-printable",
                   body=b"Z=C3=BCri-Geschnetzeltes for dinner\r\n")
    ok(c.append("INBOX", None, None, appended))
    ok(c.noop())
    assert search_utf8(c, "SUBJECT", text="zürich") == [5]
    assert search_utf8(c, "FROM", text="frédéric") == [5]
    assert search(c, "BODY", "geschnetzelt") == [5]
    assert search(c, "BODY", "dinner") == [5]


def test_large_message_indexed_at_first_search(server):
    """Deliveries (this one spooled, past the in-memory limit) are not
    indexed at delivery; the first search reads and indexes them, later
    ones find them in the index."""
    filler = b"".join(b"line %06d of filler text\r\n" % i
                      for i in range(9500))
    big = msg("From: big@example.com", "Subject: a large one",
              body=filler + b"the last words: quokka habitat\r\n")
    # Spooled at delivery, yet within the index's bounds (256 KiB of
    # text).
    assert len(big) > 256 * 1024
    deliver(server, MESSAGES[0], big, MESSAGES[2])
    assert unindexed(server) == 3
    c = login(server)
    ok(c.select("INBOX"))
    assert search(c, "BODY", '"quokka habitat"') == [2]
    assert unindexed(server) == 0
    assert search(c, "SUBJECT", "large") == [2]
    assert search(c, "BODY", '"line 009499"') == [2]
    assert search(c, "BODY", "nothing") == [3]
    c.logout()
    # Another session, after the first one indexed it.
    c = login(server)
    ok(c.select("INBOX"))
    assert search(c, "TEXT", "quokka") == [2]
    assert search_utf8(c, "BODY", text="köln") == [1]
    c.logout()


def test_unindexable_text_searched_by_reading(server):
    """Text the full-text index would take minutes over (64 KiB of random
    characters: FTS5's cost grows with distinct trigrams) stays out of
    it: APPEND is quick to answer, and SEARCH still finds every
    substring, by reading that message."""
    rnd = random.Random(7)
    noise = "".join(chr(rnd.randrange(33, 127)) for _ in range(64 * 1024))
    noise = noise.replace("a", "b")  # so that the needle is only where put
    body = (noise[:30000] + " aardvark-needle " + noise[30000:]).encode()
    lines = b"\r\n".join(body[i:i + 900] for i in range(0, len(body), 900))
    odd = msg("From: noise@example.com", "Subject: armour", body=lines)
    c = login(server)
    ok(c.append("INBOX", None, None, odd))
    deliver(server, MESSAGES[2])
    ok(c.select("INBOX"))
    assert search(c, "BODY", "aardvark-needle") == [1]
    assert search(c, "BODY", "nothing") == [2]
    assert search(c, "BODY", "aardvark-absent") == []
    # The delivered one went into the index at that search; the random
    # one did not, and never will.
    assert unindexed(server) == 1
    assert search(c, "BODY", "aardvark") == [1]
    c.logout()


def test_bad_charset(inbox):
    c = inbox
    typ, data = c.search("KOI8-R", "BODY", "x")
    assert typ == "NO" and b"BADCHARSET" in data[0], (typ, data)
    # The session goes on.
    assert search(c, "BODY", "zebrafish") == [2]


def test_text_past_every_bound_is_found(server):
    """Every word of a message's text is found, however long the text:
    a word after 3 MiB of text (past the 1 MiB the index's extraction
    keeps), a word in a base64 attachment of type text/plain after that
    part's first MiB, a word that spans the edge of the 64 KiB pieces the
    text is read in, and case-folded latin-1 quoted-printable text past
    the old bound, by BODY and TEXT, in a message too big for the index
    (APPEND) and in the same one delivered over SMTP."""
    line = b"plain filler words for a long letter, nothing to find\r\n"
    filler = line * (3 * 1024 * 1024 // len(line) + 1)
    # 'edgeword' straddles an edge of the pieces the attachment's text is
    # read in: 64 KiB of its content at a time, cut after the last line
    # end, is 840 lines of 76 base64 characters (and CR LF), 47880 bytes
    # of text.
    edge = 47880 * 25
    att_text = b"x" * (edge - 4) + b"edgeword " + b"y" * 100000
    att_text += b" attword-zanzibar\r\n"
    att = base64.encodebytes(bytes(att_text)).replace(b"\n", b"\r\n")
    qp = (b"=" + b"=\r\n=".join([b"41"] * 10) + b"\r\n"
          + b"Sch=F6ne Gr=FC=DFe aus K=F6ln\r\n")
    body = (b"--b\r\nContent-Type: text/plain\r\n\r\n" + filler +
            b"the word at the end: wombatquest\r\n"
            b"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + qp +
            b"--b\r\nContent-Type: text/plain; name=notes.txt\r\n"
            b"Content-Disposition: attachment; filename=notes.txt\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + att +
            b"--b--\r\n")
    big = msg("From: big@example.com", "Subject: huge", "MIME-Version: 1.0",
              "Content-Type: multipart/mixed; boundary=b", body=body)
    assert len(big) > 4 * 1024 * 1024
    c = login(server)
    ok(c.append("INBOX", None, None, big))
    deliver(server, MESSAGES[2], big)
    ok(c.select("INBOX"))
    for key in ("BODY", "TEXT"):
        assert search(c, key, "wombatquest") == [1, 3], key
        assert search(c, key, "WOMBATQUEST") == [1, 3], key
        assert search(c, key, "attword-zanzibar") == [1, 3], key
        assert search(c, key, "xxedgewordyy") == [], key
        assert search(c, key, "xxedgeword") == [1, 3], key
        assert search(c, key, '"word at the end"') == [1, 3], key
        assert search(c, key, "wombatquests") == [], key
    assert search_utf8(c, "BODY", text="schöne grüße aus köln") == [1, 3]
    assert search_utf8(c, "TEXT", text="GRÜSSE") == []
    assert search(c, "OR", "BODY", "nothing", "BODY", "attword") == [1, 2, 3]
    assert search(c, "NOT", "BODY", "edgeword") == [2]
    assert search(c, "TEXT", "huge") == [1, 3]
    assert search(c, "SUBJECT", "huge") == [1, 3]
    # Too big for the index: it stays out, and is read at each search.
    assert unindexed(server) == 2
    c.logout()
