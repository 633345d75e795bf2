"""The results table: one row per measurement, posthorn and the reference
side by side, and their ratio."""


class LowerBound(float):
    """A figure the run had to stop short of (the memory guard of the
    large-message row): the true value is at least this.  Shown as ">N"."""


class Row:
    def __init__(self, key, label, unit, better):
        self.key, self.label, self.unit, self.better = key, label, unit, better
        self.values = {}    # side name -> number, or a string saying why not
        self.details = {}   # side name -> one line of raw figures


def fmt(v, unit):
    if isinstance(v, str):
        return v
    if v is None:
        return "-"
    mark = ">" if isinstance(v, LowerBound) else ""
    if unit == "s":
        return mark + "%.3f" % v
    if abs(v) >= 100:
        return mark + "%.0f" % v
    return mark + "%.1f" % v


def ratio(row):
    """posthorn / reference, when both are numbers.

    The ratio is always posthorn divided by the reference, whatever the unit;
    the "better" column says which direction is good for that row."""
    p, r = row.values.get("posthorn"), row.values.get("reference")
    if not isinstance(p, (int, float)) or not isinstance(r, (int, float)):
        return "-"
    if r <= 0:
        return "-"
    # A lower bound over an exact figure gives a lower bound, an exact
    # figure over a lower bound an upper bound; two bounds give nothing.
    lp, lr = isinstance(p, LowerBound), isinstance(r, LowerBound)
    if lp and lr:
        return "-"
    mark = ">" if lp else "<" if lr else ""
    q = p / r
    # Two decimals normally; significant digits when the ratio is tiny.
    return mark + ("%.2f" % q if q >= 0.1 else "%.2g" % q)


def short(v):
    """Failed cells carry their reason; the table shows only its start."""
    if isinstance(v, str) and len(v) > 28:
        return v[:25] + "..."
    return v


def text_table(rows):
    head = ["measurement", "unit", "posthorn", "reference", "posthorn/ref", "better"]
    body = [[r.label, r.unit, fmt(short(r.values.get("posthorn")), r.unit),
             fmt(short(r.values.get("reference")), r.unit), ratio(r), r.better]
            for r in rows]
    widths = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    lines = []
    for i, cells in enumerate([head] + body):
        lines.append("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                               for j, (c, w) in enumerate(zip(cells, widths))))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def failures(rows):
    """One line per distinct failure; a failure that blanked many cells
    (e.g. a server that did not start) is listed once."""
    out, seen = [], set()
    for r in rows:
        for side in ("posthorn", "reference"):
            v = r.values.get(side)
            # "skipped..." says why a cell was not measured (time budget
            # used up, no imaptest, a server without IMAP): not a failure.
            if isinstance(v, str) and v != "-" and not v.startswith("skipped"):
                if (side, v) in seen:
                    continue
                seen.add((side, v))
                out.append("%s, %s: %s" % (side, r.label, " ".join(v.split())))
    return out


def markdown(rows, header_lines, notes, details_order=("posthorn", "reference")):
    md = ["# posthorn benchmark: posthorn vs Postfix + Dovecot", ""]
    md += header_lines + [""]
    md.append("| measurement | unit | posthorn | reference | posthorn/reference | better |")
    md.append("|---|---|--:|--:|--:|---|")
    for r in rows:
        md.append("| %s | %s | %s | %s | %s | %s |" % (
            r.label, r.unit,
            fmt(short(r.values.get("posthorn")), r.unit).replace("|", "/"),
            fmt(short(r.values.get("reference")), r.unit).replace("|", "/"),
            ratio(r), r.better))
    md += ["", "Ratio = posthorn / reference. For msg/s, above 1 means posthorn "
           "is faster; for seconds, ms, KiB and MiB, below 1 means posthorn "
           "is faster / smaller. \">N\": the memory guard stopped the run, "
           "the figure is at least N.", ""]
    fails = failures(rows)
    if fails:
        md += ["## Failures", ""] + ["- " + f.replace("\n", " ") for f in fails] + [""]
    md += ["## Raw figures", ""]
    seen = set()
    for r in rows:
        for side in details_order:
            d = r.details.get(side)
            # Rows measured together (msg/s and s, RSS and PSS) share one
            # line of raw figures: list it once.
            if d and (side, d) not in seen:
                seen.add((side, d))
                md.append("- %s, %s: %s" % (side, r.label, d))
    md += ["", "## Configuration", ""] + ["- " + n for n in notes] + [""]
    return "\n".join(md)
