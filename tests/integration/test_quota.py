"""Quotas over SMTP: refused at RCPT when the client declares SIZE=, at the
end of the data otherwise, with 452 4.2.2 while the mailbox is full and
552 5.2.2 for a message that can never fit; a message to several
recipients is never stored twice by the sender's retry."""

import pytest

from conftest import (PASSWORD, body_of, dot_stuff, make_message,
                      pop3_fetch_wait, smtp_send, smtp_session)

QUOTA = 10 * 1024


@pytest.fixture
def srv(custom):
    """alice and bob without a quota, q with 10 KiB."""
    return custom(before_start=lambda s: s.add_user(
        "q@example.com", PASSWORD, "--quota", "10K"))


def message(tag, size):
    """A message of about `size` bytes whose Subject is `tag`."""
    head = make_message(tag, b"")
    line = b"x" * 76 + b"\r\n"
    return head + line * max(0, (size - len(head)) // len(line))


def subjects(port, user, delete=False):
    return [m.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode()
            for m in pop3_fetch_wait(port, user, delete=delete)]


def transaction(c, rcpts, size=None):
    """MAIL (with SIZE= when given) and one RCPT per recipient; returns
    the RCPT reply codes and texts."""
    code, text = c.cmd("MAIL FROM:<s@example.org>%s" % (
        "" if size is None else " SIZE=%d" % size))
    assert code == 250, text
    return [c.cmd("RCPT TO:<%s>" % r) for r in rcpts]


def data(c, msg):
    code, text = c.cmd("DATA")
    assert code == 354, text
    c.send(dot_stuff(msg))
    return c.reply()


def test_declared_size_refused_at_rcpt_per_recipient(srv):
    with smtp_session(srv.smtp_port) as c:
        replies = transaction(c, ["q@example.com", "alice@example.com"],
                              size=QUOTA + 1)
        assert replies[0][0] == 552 and "5.2.2" in replies[0][1], replies
        assert replies[1][0] == 250, replies
        # The message goes on to the recipients that can take it.
        code, text = data(c, message("big", QUOTA + 1))
        assert code == 250, text
    assert subjects(srv.pop3_port, "alice@example.com") == ["big"]
    assert subjects(srv.pop3_port, "q@example.com") == []
    assert "code=552" in srv.log()


def test_full_mailbox_at_rcpt_and_at_end_of_data(srv):
    code, text = smtp_send(srv.smtp_port, "q@example.com",
                           message("first", 6000))
    assert code == 250, text
    # With SIZE=: the full mailbox is refused at RCPT, for now (4xx).
    with smtp_session(srv.smtp_port) as c:
        replies = transaction(c, ["q@example.com", "alice@example.com"],
                              size=5000)
        assert replies[0][0] == 452 and "4.2.2" in replies[0][1], replies
        assert replies[1][0] == 250, replies
        code, text = data(c, message("sized", 5000))
        assert code == 250, text
    # Without SIZE=: found at the end of the data.  The whole message is
    # refused, so the sender's retry does not give alice a second copy.
    with smtp_session(srv.smtp_port) as c:
        replies = transaction(c, ["alice@example.com", "q@example.com"])
        assert [r[0] for r in replies] == [250, 250], replies
        code, text = data(c, message("unsized", 5000))
        assert code == 452 and "4.2.2" in text, text
        # The same over BDAT.
        transaction(c, ["alice@example.com", "q@example.com"])
        msg = message("chunked", 5000)
        c.send(b"BDAT %d LAST\r\n" % len(msg) + msg)
        code, text = c.reply()
        assert code == 452 and "4.2.2" in text, text
    assert subjects(srv.pop3_port, "alice@example.com") == ["sized"]
    assert subjects(srv.pop3_port, "q@example.com") == ["first"]
    log = srv.log()
    assert "result=over-quota" in log
    assert "result=over-quota" in log


def test_never_fits_without_declared_size(srv):
    code, text = smtp_send(srv.smtp_port, ["q@example.com"],
                           message("huge", QUOTA * 2))
    assert code == 552 and "5.2.2" in text, text
    assert "result=too-big-for-quota" in srv.log()
    assert subjects(srv.pop3_port, "q@example.com") == []


def test_alias_over_quota_refused_whole(srv):
    srv.cli("alias", "add", "both@example.com", "q@example.com",
            "bob@example.com")
    assert smtp_send(srv.smtp_port, "q@example.com",
                     message("fill", 8000))[0] == 250
    with smtp_session(srv.smtp_port) as c:
        replies = transaction(c, ["both@example.com"], size=5000)
        assert replies[0][0] == 452 and "4.2.2" in replies[0][1], replies
    # bob, reached through the same alias, got nothing.
    assert subjects(srv.pop3_port, "bob@example.com") == []


def test_deleting_makes_room(srv):
    assert smtp_send(srv.smtp_port, "q@example.com",
                     message("one", 8000))[0] == 250
    with smtp_session(srv.smtp_port) as c:
        assert transaction(c, ["q@example.com"], size=5000)[0][0] == 452
    assert subjects(srv.pop3_port, "q@example.com", delete=True) == ["one"]
    code, text = smtp_send(srv.smtp_port, "q@example.com",
                           message("two", 5000))
    assert code == 250, text
    got = pop3_fetch_wait(srv.pop3_port, "q@example.com")
    assert len(got) == 1 and b"Subject: two\r\n" in body_of(got[0])


def test_quota_from_import(srv, tmp_path):
    csv = tmp_path / "users.csv"
    csv.write_text("small@example.com,%s,2K\n" % PASSWORD)
    srv.cli("user", "import", str(csv))
    with smtp_session(srv.smtp_port) as c:
        replies = transaction(c, ["small@example.com"], size=3000)
        assert replies[0][0] == 552, replies
        code, _ = c.cmd("RSET")
        assert code == 250
        replies = transaction(c, ["small@example.com"], size=1000)
        assert replies[0][0] == 250, replies
