"""THREAD=REFERENCES (RFC 5256) over IMAP: a conversation delivered by
SMTP, threaded by its Message-ID, References and In-Reply-To fields and by
subject, as imaplib sees the answer."""

import imaplib

import pytest

from conftest import PASSWORD, Client, smtp_send

ALICE = "alice@example.com"


def message(date, subject, msgid=None, refs=None, irt=None):
    lines = ["From: Bob <bob@example.org>", "To: " + ALICE,
             "Date: " + date, "Subject: " + subject]
    if msgid:
        lines.append("Message-ID: " + msgid)
    if irt:
        lines.append("In-Reply-To: " + irt)
    if refs:
        lines.append("References: " + refs)
    return ("\r\n".join(lines) + "\r\n\r\nText.\r\n").encode()


# In delivery order: UIDs and sequence numbers 1 to 8.
CONVERSATION = [
    # 1: the first message of a thread
    message("Mon, 1 Jan 2024 09:00:00 +0000", "Project kickoff",
            "<kickoff@example.org>"),
    # 2: a reply with both fields
    message("Mon, 1 Jan 2024 10:00:00 +0000", "Re: Project kickoff",
            "<r1@example.org>", refs="<kickoff@example.org>",
            irt="<kickoff@example.org>"),
    # 3: a reply to r2, which alice never got; References folded
    message("Mon, 1 Jan 2024 12:00:00 +0000", "Re: Project kickoff",
            "<r3@example.org>",
            refs="<kickoff@example.org>\r\n <r1@example.org>\r\n"
                 "\t<r2@example.org>",
            irt="<r2@example.org> (Carol's message)"),
    # 4: a reply with In-Reply-To alone, from another time zone
    message("Mon, 1 Jan 2024 12:00:00 +0100", "RE: Project kickoff",
            "<r4@example.org>", irt="<kickoff@example.org>"),
    # 5: forwarded: no reference, found by its subject
    message("Mon, 1 Jan 2024 13:00:00 +0000", "Fwd: Project kickoff",
            "<fwd@example.org>"),
    # 6: another thread, started later the same morning
    message("Mon, 1 Jan 2024 09:30:00 +0000", "Lunch?",
            "<lunch@example.org>"),
    # 7: its reply names it in quoted form (RFC 5256: the same id)
    message("Mon, 1 Jan 2024 09:45:00 +0000", "Re: Lunch?",
            "<lunch-re@example.org>", refs='<"lunch"@example.org>'),
    # 8: no Message-ID at all, the oldest
    message("Sun, 31 Dec 2023 17:00:00 +0000", "Status report"),
]


def imap(srv):
    c = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=30)
    typ, _ = c.login(ALICE, PASSWORD)
    assert typ == "OK"
    return c


def thread(c, *args, uid=False):
    if uid:
        typ, data = c.uid("THREAD", *args)
    else:
        typ, data = c.thread(*args)
    assert typ == "OK", data
    return data[0]


def test_thread_references_conversation(server):
    for m in CONVERSATION:
        code, text = smtp_send(server.smtp_port, ALICE, m)
        assert code == 250, text
    c = imap(server)
    try:
        typ, caps = c.capability()
        assert b"THREAD=REFERENCES" in caps[0].split(), caps
        typ, data = c.select("INBOX")
        assert typ == "OK" and data[0] == b"8", data

        # 2 and 4 reply to 1 (4 sent at 11:00 UTC); 3 hangs below 2 in
        # place of the missing r2; 5 joins by subject as a forward; 8 is
        # oldest and 6 starts after 1.
        want = b"(8)(1 (2 3)(4)(5))(6 7)"
        assert thread(c, "REFERENCES", "UTF-8", "ALL") == want
        assert thread(c, "REFERENCES", "US-ASCII", "ALL", uid=True) == want

        # Without the first message its replies share a missing parent:
        # a thread with no message at its head, placed by its first
        # child (10:00), after the lunch thread (09:30).
        assert (thread(c, "REFERENCES", "UTF-8", "2:8")
                == b"(8)(6 7)((2 3)(4)(5))")

        # Nothing found: no threads.
        assert thread(c, "REFERENCES", "UTF-8", "SUBJECT", "nothing") == b""
    finally:
        c.logout()


def raw_command(c, tag, text):
    """The lines a command gets, its tagged one last."""
    c.send("%s %s\r\n" % (tag, text))
    lines = []
    while True:
        lines.append(c.line())
        if lines[-1].startswith(tag.encode() + b" "):
            return lines


def test_thread_references_on_the_wire(server):
    """The bytes: "* THREAD", one space, the lists with none between."""
    for m in CONVERSATION[:3]:
        code, text = smtp_send(server.smtp_port, ALICE, m)
        assert code == 250, text
    with Client(server.imap_port) as c:
        assert c.line().startswith(b"* OK")
        assert raw_command(c, "a", 'LOGIN %s "%s"' % (ALICE, PASSWORD))[
            -1].startswith(b"a OK")
        assert raw_command(c, "b", "SELECT INBOX")[-1].startswith(b"b OK")
        assert raw_command(c, "c", "THREAD REFERENCES UTF-8 ALL") == [
            b"* THREAD (1 2 3)", b"c OK THREAD completed"]
        assert raw_command(c, "d", "UID THREAD REFERENCES UTF-8 1,3") == [
            b"* THREAD (1 3)", b"d OK UID THREAD completed"]
        assert raw_command(c, "e", "THREAD REFERENCES UTF-8 2:3") == [
            b"* THREAD (2 3)", b"e OK THREAD completed"]
        assert raw_command(c, "f", "THREAD REFERENCES UTF-8 SEEN") == [
            b"* THREAD", b"f OK THREAD completed"]


# ORDEREDSUBJECT: no space between sibling thread-lists (RFC 5256's
# grammar, thread-nested = 2*thread-list, and its example
# "(177 (183)(182)(188)...)").
def test_thread_orderedsubject_grammar(server):
    for m in CONVERSATION:
        code, text = smtp_send(server.smtp_port, ALICE, m)
        assert code == 250, text
    c = imap(server)
    try:
        c.select("INBOX")
        assert (thread(c, "ORDEREDSUBJECT", "UTF-8", "ALL")
                == b"(8)(1 (2)(4)(3)(5))(6 7)")
    finally:
        c.logout()


def test_thread_unknown_algorithm(server):
    c = imap(server)
    try:
        c.select("INBOX")
        try:
            c.thread("NOSUCHALG", "UTF-8", "ALL")
            raise AssertionError("an unknown algorithm was accepted")
        except imaplib.IMAP4.error as e:
            assert "BAD" in str(e), e
    finally:
        c.logout()
