"""IMAP details a compliance run found wrong, each checked against its RFC:
LIST patterns that are not modified UTF-7 (RFC 3501 6.3.8), LSUB's
\\Noselect parents (RFC 3501 6.3.9), RECURSIVEMATCH's CHILDINFO (RFC 5258
3.1 and 3.5), the HIGHESTMODSEQ a CONDSTORE enabling command reports and
the MODSEQ of ESEARCH MIN/MAX (RFC 7162 3.1, 3.1.5), SEARCH FROM on the
address as ENVELOPE has it, and SENTON & co. on the day the Date: field
names (RFC 9051 6.4.4).  Python's imaplib against the real server."""

import imaplib
import re

import pytest

from conftest import PASSWORD

ALICE = "alice@example.com"


def client(srv):
    c = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=30)
    c.login(ALICE, PASSWORD)
    return c


def ok(resp):
    typ, data = resp
    assert typ == "OK", resp
    return data


def run(c, name, *args, kind=None):
    """A command through imaplib; its untagged responses of kind `kind`
    (default: the command's name), as bytes."""
    kind = kind or name
    c.untagged_responses.pop(kind, None)
    ok(c._simple_command(name, *args))
    return [x for x in c.untagged_responses.pop(kind, []) if x is not None]


def listing(lines):
    """{name: attributes} of LIST/LSUB lines, with ' CHILDINFO' after the
    attributes of a line that has that extended item."""
    out = {}
    for line in lines:
        m = re.match(rb'\(([^)]*)\) "/" ("(?:[^"\\]|\\.)*"|\S+)(.*)$', line)
        assert m, line
        name = m.group(2).strip(b'"').decode()
        attrs = m.group(1).decode()
        if b"CHILDINFO" in m.group(3):
            attrs += " CHILDINFO"
        out[name] = attrs
    return out


def make_tree(c, names, subscribed):
    for n in names:
        ok(c.create(n))
    for n in subscribed:
        ok(c.subscribe(n))


# ---- LIST and LSUB ----

def test_list_pattern_that_is_not_modified_utf7(server):
    """RFC 3501 6.3.8 asks only that the names returned match the
    pattern: a pattern that does not decode as modified UTF-7 is no error
    (it was "NO not valid modified UTF-7"); it is matched as sent against
    the names as they go on the wire."""
    c = client(server)
    ok(c.create("Entw&APw-rfe"))        # "Entwürfe"
    typ, data = c.list('""', "!#$&'+,-.0123456789:;<=>?@^_`|[}%*")
    assert typ == "OK", data
    assert data == [None]
    # An unterminated "&...": matched against "Entw&APw-rfe" as written.
    typ, data = c.list('""', "Entw&APw*")
    assert typ == "OK", data
    assert [listing([d]) for d in data] == [{"Entw&APw-rfe": "\\HasNoChildren"}]
    typ, data = c.list('"&"', "*")
    assert typ == "OK" and data == [None], data
    typ, data = c.lsub('""', "a&b")
    assert typ == "OK" and data == [None], data
    # A name is still refused when it is not modified UTF-7.
    assert c.create("a&b")[0] == "NO"
    c.logout()


def test_lsub_percent_answers_unsubscribed_parent_as_noselect(server):
    """RFC 3501 6.3.9: with "foo/bar" subscribed and not "foo", LSUB "%"
    must answer "foo" flagged \\Noselect, whether "foo" exists or not;
    a subscribed child that no depth of the pattern could match brings
    no parent with it."""
    c = client(server)
    make_tree(c, ["top/a", "top/b/c", "top/d/d2"],
              ["top/a", "top/b/c", "top/d/d2"])
    got = listing(run(c, "LSUB", '""', "top/%"))
    assert got == {"top/a": "", "top/b": "\\Noselect", "top/d": "\\Noselect"}
    got = listing(run(c, "LSUB", '""', "%"))
    assert got == {"INBOX": "", "Drafts": "", "Sent": "", "Trash": "",
                   "Junk": "", "Archive": "", "top": "\\Noselect"}
    # "*c" matches top/b/c itself; top/d/d2 could never match it.
    got = listing(run(c, "LSUB", '""', "*c"))
    assert got == {"top/b/c": ""}
    ok(c.subscribe("top/b"))
    got = listing(run(c, "LSUB", '""', "top/%"))
    assert got == {"top/a": "", "top/b": "", "top/d": "\\Noselect"}
    c.logout()


def test_recursivematch_childinfo_only_for_children_not_answered(server):
    """RFC 5258 3.5: a parent that is not subscribed comes with CHILDINFO
    only if a subscribed child is not answered itself; 3.1 note 2: the
    child need not match the pattern.  A subscribed parent gets CHILDINFO
    the same way (RFC 5258's example with "eps2")."""
    c = client(server)
    make_tree(c, ["p/q/r", "p/s/s", "p/t/t", "p/t/u", "p/v/w"],
              ["p/q/r", "p/s/s", "p/t/t", "p/t/u", "p/v", "p/v/w"])
    sel = "(SUBSCRIBED RECURSIVEMATCH)"
    got = listing(run(c, "LIST", sel, '""', "(p/q p/q/r)"))
    assert got == {"p/q/r": "\\HasNoChildren \\Subscribed"}
    got = listing(run(c, "LIST", sel, '""', "(p/q)"))
    assert got == {"p/q": "\\HasChildren CHILDINFO"}
    got = listing(run(c, "LIST", sel, '""', "p*s"))
    assert got == {"p/s/s": "\\HasNoChildren \\Subscribed"}
    got = listing(run(c, "LIST", sel, '""', "p*t"))
    assert got == {"p/t": "\\HasChildren CHILDINFO",
                   "p/t/t": "\\HasNoChildren \\Subscribed"}
    got = listing(run(c, "LIST", sel, '""', "p/%"))
    assert got == {"p/q": "\\HasChildren CHILDINFO",
                   "p/s": "\\HasChildren CHILDINFO",
                   "p/t": "\\HasChildren CHILDINFO",
                   "p/v": "\\HasChildren \\Subscribed CHILDINFO"}
    c.logout()


# ---- CONDSTORE ----

def fill(c, n):
    for i in range(n):
        ok(c.append("INBOX", None, None,
                    b"Subject: m%d\r\n\r\nbody %d\r\n" % (i, i)))


def test_first_condstore_enabling_command_reports_highestmodseq(server):
    """RFC 7162 3.1: a SELECT without CONDSTORE, then FETCH MODSEQ: the
    first CONDSTORE enabling command answers the mailbox's HIGHESTMODSEQ
    in an untagged OK, the later ones do not."""
    c = client(server)
    fill(c, 2)
    ok(c.select("INBOX"))
    at_select = c.untagged_responses.pop("HIGHESTMODSEQ")
    run(c, "FETCH", "1", "(MODSEQ)")
    assert c.untagged_responses.pop("HIGHESTMODSEQ", None) == at_select
    run(c, "FETCH", "2", "(MODSEQ)")
    assert "HIGHESTMODSEQ" not in c.untagged_responses
    run(c, "SEARCH", "MODSEQ", "1")
    assert "HIGHESTMODSEQ" not in c.untagged_responses
    c.logout()
    # STATUS (HIGHESTMODSEQ) enables it too, and tells the selected one.
    c = client(server)
    ok(c.select("INBOX"))
    at_select = c.untagged_responses.pop("HIGHESTMODSEQ")
    run(c, "STATUS", "Drafts", "(HIGHESTMODSEQ)")
    assert c.untagged_responses.pop("HIGHESTMODSEQ", None) == at_select
    c.logout()


def modseq_of(lines):
    (line,) = lines
    return int(re.search(rb"MODSEQ \((\d+)\)", line).group(1))


def test_esearch_modseq_is_that_of_the_messages_returned(server):
    """RFC 7162 3.1.5 with RFC 4731: MIN alone or MAX alone returns the
    MODSEQ of that message, MIN and MAX the higher of the two, ALL and
    COUNT the highest of all found."""
    c = client(server)
    fill(c, 4)
    ok(c.select("INBOX"))
    run(c, "FETCH", "1", "(MODSEQ)")
    m = {}
    for i in (1, 3, 2, 4):
        m[i] = modseq_of(ok(c.store(str(i), "+FLAGS", "(\\Seen)")))
    assert m[1] < m[3] < m[2] < m[4]

    def esearch(ret, seqs):
        (line,) = run(c, "SEARCH", "RETURN", ret, seqs, "MODSEQ",
                      '"/flags/\\\\seen"', "all", "1", kind="ESEARCH")
        return re.sub(rb'^\(TAG "[^"]*"\) ', b"", line).decode()

    assert esearch("(MIN)", "1:3") == "MIN 1 MODSEQ %d" % m[1]
    assert esearch("(MAX)", "1:3") == "MAX 3 MODSEQ %d" % m[3]
    assert esearch("(MIN MAX)", "2:3") == "MIN 2 MAX 3 MODSEQ %d" % m[2]
    assert esearch("(MIN MAX)", "1,3") == "MIN 1 MAX 3 MODSEQ %d" % m[3]
    assert esearch("()", "1:3") == "ALL 1:3 MODSEQ %d" % m[2]
    assert esearch("(COUNT)", "1:3") == "COUNT 3 MODSEQ %d" % m[2]
    assert esearch("(MIN COUNT)", "1,3") == "MIN 1 COUNT 2 MODSEQ %d" % m[3]
    c.logout()


# ---- SEARCH on addresses and dates ----

def message(*headers):
    return "".join(h + "\r\n" for h in headers).encode() + b"\r\nbody\r\n"


def search(c, *criteria):
    return [int(x) for x in ok(c.search(None, *criteria))[0].split()]


def test_search_from_on_the_address_as_envelope_has_it(server):
    """RFC 9051 6.4.4: FROM, TO, CC and BCC look in the envelope's
    address, in which comments and white space inside an address are not
    part of it."""
    c = client(server)
    for m in [
        message("From: Anna Berg <anna@example.org>", "To: bob@example.net"),
        message("From: <anna (at work)@ (the main one) example.org>",
                "To: bob @ example.net,", "  carol@example.net"),
        message("From: anna@example.org (Anna Berg)",
                "Cc: x (y) @example.net"),
        message("From: someone@example.org", "To: team: bob@example.net;"),
    ]:
        ok(c.append("INBOX", None, None, m))
    ok(c.select("INBOX"))
    assert search(c, "FROM", "anna@example.org") == [1, 2, 3]
    assert search(c, "FROM", '"Anna Berg"') == [1, 3]
    assert search(c, "FROM", '"at work"') == [2]
    assert search(c, "TO", "bob@example.net") == [1, 2, 4]
    assert search(c, "TO", "carol@example.net") == [2]
    assert search(c, "CC", "x@example.net") == [3]
    # HEADER looks in the field as written.
    assert search(c, "HEADER", "CC", '"x (y)"') == [3]
    c.logout()


def test_search_sent_dates_are_the_day_written_in_date(server):
    """RFC 9051 6.4.4: SENTBEFORE, SENTON and SENTSINCE compare the
    Date: field's date "disregarding time and timezone", the day written
    in it, not its day in UTC.  Without a Date: that parses, the internal
    date counts (the RFC leaves the case open; SORT does so)."""
    c = client(server)
    dates = [
        "Sat, 24 Mar 2007 23:00:00 +0200",  # UTC: the 24th
        "Sun, 25 Mar 2007 00:30:00 +0200",  # UTC: the 24th
        "Sun, 25 Mar 2007 23:30:00 -0500",  # UTC: the 26th
        "26 Mar 07 01:00 EST",              # UTC: the 26th
    ]
    for d in dates:
        ok(c.append("INBOX", None, '"10-Jan-2010 12:00:00 +0000"',
                    message("Date: " + d, "Subject: s")))
    for extra in (["Subject: no date"], ["Date: not a date"]):
        ok(c.append("INBOX", None, '"25-Mar-2007 12:00:00 +0000"',
                    message(*extra)))
    ok(c.select("INBOX"))
    assert search(c, "SENTON", "24-Mar-2007") == [1]
    assert search(c, "SENTON", "25-Mar-2007") == [2, 3, 5, 6]
    assert search(c, "SENTON", "26-Mar-2007") == [4]
    assert search(c, "SENTBEFORE", "25-Mar-2007") == [1]
    assert search(c, "SENTBEFORE", "26-Mar-2007") == [1, 2, 3, 5, 6]
    assert search(c, "SENTSINCE", "25-Mar-2007") == [2, 3, 4, 5, 6]
    assert search(c, "SENTSINCE", "26-Mar-2007") == [4]
    assert search(c, "NOT", "SENTON", "25-Mar-2007") == [1, 4]
    # SORT (DATE) orders by the instant, in UTC (RFC 5256 2.2): 1 and 2
    # (the 24th in UTC), 5 and 6 (internal date, the 25th), 3 and 4 (the
    # 26th in UTC).
    assert ok(c.sort("(DATE)", "UTF-8", "ALL")) == [b"1 2 5 6 3 4"]
    c.logout()
