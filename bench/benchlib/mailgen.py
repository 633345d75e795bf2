"""Realistic mail for the IMAP rows, the same bytes for every server.

message(i) is message number i of a fixed corpus (the same i always gives
the same bytes): a personal mailbox's mix of plain-text mail, replies,
multipart/alternative with HTML, attachments (base64), newsletters and
forwarded messages (message/rfc822), from a few hundred senders of whom a
few write often, with 8-bit and RFC 2047 encoded headers now and then.
Sizes run from under 1 KB to a few hundred KB; the median is about 4 KB
and the mean about 13 KB.

Written into a Maildir directly for Dovecot (fast, flags and dates as a
Maildir keeps them), sent over SMTP or imported for posthorn.  Two words
make the SEARCH rows' needles: SEARCH_BODY appears in the text of about 1%
of the messages, SEARCH_FROM in the From of about 5%."""

import base64
import os
import random
import time

SEED = 20261201
SEARCH_BODY = "Kilimanjaro"
SEARCH_FROM = "Martin"
# Names the load generator's SEARCH FROM picks from (some hit, some not).
LOAD_FROM_NAMES = ["Martin", "Alice", "Newsletter", "Nobody-at-all"]

FIRST = ["Alice", "Bruno", "Chloe", "David", "Emma", "Farid", "Greta", "Hugo",
         "Ines", "Jonas", "Karin", "Liam", "Maya", "Nils", "Olga", "Pablo",
         "Quinn", "Rosa", "Sven", "Tara", "Ulrich", "Vera", "Wim", "Yara",
         "Zoe", "Ahmed", "Beatriz", "Chen", "Dmitri", "Eleni"]
LAST = ["Meyer", "Dubois", "Rossi", "Novak", "Silva", "Jensen", "Kowalski",
        "Smith", "Garcia", "Nakamura", "Okafor", "Larsen", "Costa", "Weber",
        "Fischer", "Moreau", "Bianchi", "Horvat", "Svensson", "Brown"]
DOMAINS = ["example.org", "example.com", "example.net", "mail.example.org",
           "corp.example.com", "uni.example.edu"]
WORDS = ("the a to of and in for on with is that this we you it be as are "
         "at will have from our please can meeting project budget report "
         "review attached thanks schedule update team customer invoice "
         "quarter release weekend draft agenda travel lunch numbers server "
         "deadline contract proposal feedback question answer tomorrow "
         "today next week call notes slides plan office holiday price "
         "offer order shipping delivery account password support ticket "
         "issue fixed version change request approval summary minutes "
         "decision budget figures forecast sales marketing design test "
         "results data analysis draft final copy note reminder").split()
ACCENTED = ["réunion", "Grüße", "año", "naïve", "smörgåsbord", "façade"]


def _people():
    rng = random.Random(SEED)
    out = []
    for k in range(300):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        out.append((first, last, "%s.%s@%s" % (first.lower(), last.lower(),
                                                rng.choice(DOMAINS))))
    # SEARCH_FROM is the last name of a few senders; the first 40 senders
    # write most of the mail (Zipf-like weights).
    out[3] = ("Paul", SEARCH_FROM, "paul.martin@example.com")
    out[57] = ("Claire", SEARCH_FROM, "c.martin@corp.example.com")
    return out


PEOPLE = _people()
WEIGHTS = [1.0 / (k + 1) ** 1.1 for k in range(len(PEOPLE))]
LISTS = [("Weekly Newsletter", "news@lists.example.net", "weekly.lists.example.net"),
         ("Release announcements", "announce@example.org", "announce.example.org")]


class _Blobs:
    """Attachment bodies: a few random blobs, base64 in 76-column lines,
    sliced to the size each message wants."""

    def __init__(self):
        rng = random.Random(SEED + 1)
        self.lines = []
        for _ in range(8):
            raw = rng.randbytes(300 * 1024)
            b64 = base64.b64encode(raw)
            self.lines.append([b64[i:i + 76] for i in range(0, len(b64), 76)])

    def take(self, rng, nbytes):
        lines = rng.choice(self.lines)
        n = max(1, min(len(lines), nbytes // 78))
        start = rng.randrange(0, len(lines) - n + 1)
        return b"\r\n".join(lines[start:start + n]) + b"\r\n"


_BLOBS = None


def _blobs():
    global _BLOBS
    if _BLOBS is None:
        _BLOBS = _Blobs()
    return _BLOBS


def _sentence(rng, needle):
    n = rng.randint(5, 16)
    w = rng.choices(WORDS, k=n)
    if needle and rng.random() < 0.3:
        w[rng.randrange(n)] = SEARCH_BODY
    if rng.random() < 0.03:
        w[rng.randrange(n)] = rng.choice(ACCENTED)
    w[0] = w[0].capitalize()
    return " ".join(w) + rng.choice([".", ".", ".", "?", "!"])


def _paragraphs(rng, nbytes, needle):
    """Plain text of about nbytes, in lines under 78 characters."""
    out, size = [], 0
    placed = not needle
    while size < nbytes or not placed:
        para, line = [], ""
        for _ in range(rng.randint(2, 6)):
            s = _sentence(rng, needle and not placed)
            if SEARCH_BODY in s:
                placed = True
            for word in s.split(" "):
                if len(line) + len(word) + 1 > 72:
                    para.append(line)
                    line = word
                else:
                    line = (line + " " + word) if line else word
        para.append(line)
        text = "\r\n".join(para)
        out.append(text)
        size += len(text) + 4
    return "\r\n\r\n".join(out) + "\r\n"


def _qp(text):
    """Quoted-printable of UTF-8 text (soft line breaks under 76)."""
    out = []
    for line in text.split("\r\n"):
        enc, cur = [], ""
        for ch in line.encode("utf-8"):
            c = chr(ch)
            piece = c if (33 <= ch <= 126 and c != "=") or c == " " else "=%02X" % ch
            if len(cur) + len(piece) > 74:
                enc.append(cur + "=")
                cur = ""
            cur += piece
        if cur.endswith(" "):
            cur = cur[:-1] + "=20"
        enc.append(cur)
        out.append("\r\n".join(enc))
    return "\r\n".join(out)


def _html(text):
    paras = text.strip().split("\r\n\r\n")
    body = "\r\n".join("<p>%s</p>" % p.replace("\r\n", " ") for p in paras)
    return ("<!DOCTYPE html>\r\n<html><head><meta charset=\"utf-8\">"
            "<style>p { font-family: sans-serif; }</style></head>\r\n"
            "<body>\r\n%s\r\n</body></html>\r\n" % body)


def _subject(rng, reply):
    w = rng.choices(WORDS[20:], k=rng.randint(2, 7))
    s = " ".join(w).capitalize()
    if rng.random() < 0.05:
        # RFC 2047, as mail with accented subjects arrives
        raw = (rng.choice(ACCENTED) + " " + s).encode("utf-8")
        s = "=?UTF-8?B?%s?=" % base64.b64encode(raw).decode()
    return ("Re: " if reply else "") + s


def _date(i, rng):
    # about one message every 20 minutes over the years, a little out of
    # order (clients send with their own clocks)
    t = 1577836800 + i * 1200 + rng.randint(-3600, 3600)
    return t, time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t))


def _boundary(rng):
    return "----=_Part_%d_%d" % (rng.randrange(10 ** 8), rng.randrange(10 ** 8))


def _headers(i, rng, kind, to):
    if kind == "newsletter":
        name, addr, list_id = LISTS[i % len(LISTS)]
        sender = (name, "", addr)
    else:
        sender = rng.choices(PEOPLE, weights=WEIGHTS)[0]
    reply = kind in ("plain", "alternative") and rng.random() < 0.3
    t, date = _date(i, rng)
    first, last, addr = sender
    display = ("%s %s" % (first, last)).strip()
    if rng.random() < 0.02:
        display = "%s %s" % (rng.choice(ACCENTED).capitalize(), last)   # 8-bit
    h = ["Return-Path: <%s>" % addr,
         "Received: from mx.%s (mx.%s [192.0.2.%d])\r\n\tby mx.bench.test "
         "with ESMTPS id %08x\r\n\tfor <%s>; %s"
         % (addr.split("@")[1], addr.split("@")[1], rng.randint(1, 254),
            rng.randrange(1 << 32), to, date),
         "Date: %s" % date,
         "From: \"%s\" <%s>" % (display, addr),
         "To: <%s>" % to]
    if rng.random() < 0.2:
        cc = rng.choice(PEOPLE)
        h.append("Cc: %s %s <%s>" % cc)
    h.append("Subject: %s" % _subject(rng, reply))
    h.append("Message-ID: <%d.%08x@%s>" % (i, rng.randrange(1 << 32),
                                            addr.split("@")[1]))
    if reply:
        ref = "<%d.%08x@example.com>" % (max(0, i - rng.randint(1, 50)),
                                         rng.randrange(1 << 32))
        h.append("In-Reply-To: %s" % ref)
        h.append("References: %s" % ref)
    if kind == "newsletter":
        h.append("List-Id: <%s>" % list_id)
        h.append("List-Unsubscribe: <mailto:unsubscribe@%s>" % list_id)
    if rng.random() < 0.3:
        h.append("X-Mailer: %s" % rng.choice(["Thunderbird 115.6", "Apple Mail (2.3731)",
                                              "Microsoft Outlook 16.0", "K-9 Mail 6.7"]))
    h.append("MIME-Version: 1.0")
    return t, h


def _text_part(rng, nbytes, needle, charset_qp):
    text = _paragraphs(rng, nbytes, needle)
    if charset_qp:
        return ("Content-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + _qp(text) + "\r\n"), text
    return ("Content-Type: text/plain; charset=utf-8; format=flowed\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n" + text), text


def _body(i, rng, kind, to):
    """(header lines for the top level, body text) of the given kind."""
    needle = rng.random() < 0.01
    size = int(rng.lognormvariate(7.6, 0.9))          # text: median ~2 KB
    qp = rng.random() < 0.2
    if kind == "plain":
        part, _ = _text_part(rng, size, needle, qp)
        head, body = part.split("\r\n\r\n", 1)
        return head.split("\r\n"), body
    if kind in ("alternative", "newsletter"):
        if kind == "newsletter":
            size *= 4
        b = _boundary(rng)
        part, text = _text_part(rng, size, needle, qp)
        html = _html(text)
        body = ("This is a multi-part message in MIME format.\r\n\r\n"
                "--%s\r\n%s\r\n--%s\r\nContent-Type: text/html; charset=utf-8\r\n"
                "Content-Transfer-Encoding: quoted-printable\r\n\r\n%s\r\n--%s--\r\n"
                % (b, part, b, _qp(html), b))
        return ["Content-Type: multipart/alternative; boundary=\"%s\"" % b], body
    if kind == "attachment":
        b = _boundary(rng)
        part, _ = _text_part(rng, size // 2, needle, qp)
        att = int(rng.lognormvariate(10.3, 0.8))        # median ~30 KB
        att = max(2000, min(att, 400 * 1024))
        name, ctype = rng.choice([("report.pdf", "application/pdf"),
                                  ("photo.jpg", "image/jpeg"),
                                  ("slides.pptx", "application/vnd.openxmlformats-"
                                   "officedocument.presentationml.presentation"),
                                  ("data.xlsx", "application/vnd.openxmlformats-"
                                   "officedocument.spreadsheetml.sheet")])
        blob = _blobs().take(rng, att).decode()
        body = ("This is a multi-part message in MIME format.\r\n\r\n"
                "--%s\r\n%s\r\n--%s\r\nContent-Type: %s; name=\"%s\"\r\n"
                "Content-Disposition: attachment; filename=\"%s\"\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n%s--%s--\r\n"
                % (b, part, b, ctype, name, name, blob, b))
        return ["Content-Type: multipart/mixed; boundary=\"%s\"" % b], body
    # forwarded: a note, then the original as message/rfc822
    b = _boundary(rng)
    part, _ = _text_part(rng, 300, needle, False)
    _, inner_h = _headers(i + 7, random.Random(SEED * 7 + i), "plain", to)
    inner_part, _ = _text_part(rng, size, False, False)
    ih, ib = inner_part.split("\r\n\r\n", 1)
    inner = "\r\n".join(inner_h + ih.split("\r\n")) + "\r\n\r\n" + ib
    body = ("--%s\r\n%s\r\n--%s\r\nContent-Type: message/rfc822\r\n"
            "Content-Disposition: inline\r\n\r\n%s\r\n--%s--\r\n"
            % (b, part, b, inner, b))
    return ["Content-Type: multipart/mixed; boundary=\"%s\"" % b], body


def message(i, to="user@bench.test"):
    """(unix time of its Date, message i as bytes with CRLF line ends)."""
    rng = random.Random(SEED * 1000003 + i)
    kind = rng.choices(["plain", "alternative", "attachment", "newsletter",
                        "forwarded"], weights=[55, 25, 9, 8, 3])[0]
    t, h = _headers(i, rng, kind, to)
    ctype, body = _body(i, rng, kind, to)
    data = "\r\n".join(h + ctype) + "\r\n\r\n" + body
    if not data.endswith("\r\n"):
        data += "\r\n"
    return t, data.encode("utf-8")


# ---------------------------------------------------------------------------
# Maildir (for Dovecot, written directly)

def maildir_name(i, t, data_lf, hostname="bench"):
    """A Maildir file name with the sizes Dovecot reads from it (S= the
    file's size, W= the size with CRLF line ends), no flags."""
    return "%d.M%dP%d.%s,S=%d,W=%d:2," % (t, i, os.getpid(), hostname,
                                          len(data_lf), len(data_lf) + data_lf.count(b"\n"))


def make_maildir(path, uid, gid):
    for sub in ("", "cur", "new", "tmp"):
        d = os.path.join(path, sub)
        os.makedirs(d, exist_ok=True)
        os.chown(d, uid, gid)
        os.chmod(d, 0o700)


def write_maildir(path, first, count, uid, gid, to):
    """Messages first .. first+count-1 into the Maildir at path (cur/, as
    a client that has seen the folder leaves them), owned by uid:gid, each
    with its Date as the file's time (Dovecot's INTERNALDATE).  Returns the
    total bytes written."""
    make_maildir(path, uid, gid)
    cur = os.path.join(path, "cur")
    total = 0
    for i in range(first, first + count):
        t, data = message(i, to)
        data = data.replace(b"\r\n", b"\n")      # Maildir files use LF
        f = os.path.join(cur, maildir_name(i, t, data))
        fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.chown(f, uid, gid)
        os.utime(f, (t, t))
        total += len(data)
    return total


def link_maildir(src, dst, uid, gid):
    """A Maildir holding hard links to the files of src (same file
    system): 1,000 users' INBOXes of the same 100 messages in seconds."""
    make_maildir(dst, uid, gid)
    for name in os.listdir(os.path.join(src, "cur")):
        os.link(os.path.join(src, "cur", name), os.path.join(dst, "cur", name))


def write_mbox(path, count, to):
    """An mbox of the first count messages (for imaptest's APPENDs)."""
    with open(path, "wb") as f:
        for i in range(count):
            _, data = message(i, to)
            data = data.replace(b"\r\n", b"\n")
            lines = [(b">" + l) if l.startswith(b"From ") else l
                     for l in data.split(b"\n")]
            f.write(b"From sender@example.org Thu Jan  1 00:00:00 2026\n")
            f.write(b"\n".join(lines).rstrip(b"\n") + b"\n\n")
