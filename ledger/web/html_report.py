"""Printable reports: one self-contained HTML file (inline CSS and SVG, no external request)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from ledger.rules.rulesets import SEVERITIES, RuleBook
from ledger.web.charts import bar_chart
from ledger.web.shaping import months

HERE = Path(__file__).parent
REPORT_NAMES = {
    "late-registrations": "Late registrations",
    "maladministration": "Maladministration findings",
    "audit": "Audit of events",
}
FINDING_HTML_COLUMNS = ("severity", "learner", "enrolment", "awarding_body", "rule_version",
                        "clause", "rule", "dates", "evidence", "message")
_env = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                   autoescape=select_autoescape(["html"]))


def cell(value: Any) -> str:
    """A table cell: dates in ISO, recorded times to the second, lists and dicts as text."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')}: {cell(v)}" for k, v in value.items()
                         if v not in (None, "", [], {}))
    if isinstance(value, list | tuple):
        return "; ".join(cell(item) for item in value)
    return str(value)


def late_severity(rows: Sequence[dict[str, Any]], book: RuleBook) -> Counter[str]:
    """Late and overdue registrations counted by the severity their rule gives them."""
    counts: Counter[str] = Counter()
    for row in rows:
        if row["status"] not in ("late", "overdue"):
            continue
        severity = "major"
        for version in book.versions.get(row["awarding_body"], []):
            rule = version.rules.get("late-registration")
            if version.version == row.get("rule_version") and rule is not None:
                severity = rule.severity
        counts[severity] += 1
    return counts


def render_report(kind: str, rows: Sequence[dict[str, Any]], columns: Sequence[str], *,
                  header: dict[str, Any], severities: Counter[str] | None = None,
                  summary: Counter[str] | None = None, chart: Markup | None = None) -> str:
    """The report as one HTML document: header (centre, judged-on date, digest, severity
    summary), an optional chart, the rows; print CSS for A4."""
    template = _env.get_template("report.html")
    if not header.get("centre"):
        centres = sorted({str(row["centre"]) for row in rows if row.get("centre")})
        header = {**header, "centre": ", ".join(centres) if centres else None}
    return template.render(
        title=REPORT_NAMES[kind], kind=kind, rows=rows, columns=columns, header=header,
        severities=severities or Counter(), severity_names=list(reversed(SEVERITIES)),
        summary=summary or Counter(), chart=chart, cell=cell,
        css=Markup((HERE / "static" / "report.css").read_text(encoding="utf-8")),
        generated=datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"))


def late_chart(rows: Sequence[dict[str, Any]]) -> Markup:
    """Late and overdue registrations by month of deadline."""
    late = Counter(cell(r["deadline"])[:7] for r in rows if r["status"] == "late")
    overdue = Counter(cell(r["deadline"])[:7] for r in rows if r["status"] == "overdue")
    return bar_chart("Late and overdue registrations by month of deadline",
                     months(late, overdue), [("late", "late", late),
                                             ("overdue", "overdue", overdue)])


def findings_chart(rows: Sequence[dict[str, Any]]) -> Markup:
    """Findings by the month of their latest date."""
    counts: Counter[str] = Counter()
    for row in rows:
        days = [cell(d)[:7] for d in (row.get("dates") or {}).values() if d]
        if days:
            counts[max(days)] += 1
    return bar_chart("Findings by month", months(counts), [("findings", "finding", counts)])


def write_report(path: Path | None, html: str) -> None:
    """Write the finished document (nothing is written if rendering failed)."""
    if path is None:
        print(html)
        return
    path.write_text(html, encoding="utf-8")


def late_registrations_html(rows: Sequence[dict[str, Any]], columns: Sequence[str],
                            header: dict[str, Any], book: RuleBook) -> str:
    """The late-registration report as a printable page."""
    return render_report("late-registrations", rows, columns, header=header,
                         severities=late_severity(rows, book),
                         summary=Counter(row["status"] for row in rows),
                         chart=late_chart(rows))


def maladministration_html(rows: Sequence[dict[str, Any]], header: dict[str, Any]) -> str:
    """The maladministration findings as a printable page."""
    return render_report("maladministration", rows, FINDING_HTML_COLUMNS, header=header,
                         severities=Counter(row["severity"] for row in rows),
                         chart=findings_chart(rows))


def audit_html(rows: Sequence[dict[str, Any]], columns: Sequence[str],
               header: dict[str, Any]) -> str:
    """A centre's audit listing as a printable page (no rule is judged: no severities)."""
    return render_report("audit", rows, columns, header=header,
                         summary=Counter(row["event"] for row in rows))
