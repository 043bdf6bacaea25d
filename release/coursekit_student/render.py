"""How a CheckResult looks: self-contained HTML for notebook front ends, plain text elsewhere.

The HTML uses inline styles only (JupyterLab, classic Notebook and VS Code all render it, in
light and dark themes) and escapes everything that came from the student's code.
"""

from __future__ import annotations

import html
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from coursekit_student.checker import CheckResult, TestOutcome

LABELS = {
    "passed": ("✔", "passed", "#1a7f37"),
    "failed": ("✘", "failed", "#cf222e"),
    "error": ("✘", "error in your code", "#cf222e"),
    "timeout": ("⏱", "took too long", "#cf222e"),
    "forbidden": ("⛔", "used something this part forbids", "#cf222e"),
    "not_implemented": ("…", "not implemented yet", "#9a6700"),
    "skipped": ("–", "skipped", "#6e7781"),
}


def in_kernel() -> bool:
    """True inside a Jupyter kernel (any front end), False in plain Python or a terminal IPython."""
    shell = sys.modules.get("IPython") and __import__("IPython").get_ipython()
    return bool(shell) and hasattr(shell, "kernel")


def pretty(name: str) -> str:
    """``test_solve_random`` -> ``solve random``."""
    return name.removeprefix("test_").replace("_", " ")


def _headline(result: "CheckResult") -> str:
    what = f"check({result.parts[0]!r})" if len(result.parts) == 1 else "check_all()"
    if result.error:
        return f"{what}: could not run: {result.error}"
    total = result.passed + result.failed
    if total == 0:
        return f"{what}: no public tests ran here"
    verdict = "all passed" if result.failed == 0 else f"{result.passed}/{total} passed"
    return f"{what} {verdict} · {result.points:g}/{result.max_points:g} public points if graded now{_worth(result)}"


def _worth(result: "CheckResult") -> str:
    """'; the part is worth 10 (hidden tests: 7)': public points alone would mislead about the grade."""
    worth = sum(result.part_points.get(p, 0.0) for p in result.parts)
    if not worth:
        return ""
    hidden = max(0.0, worth - result.max_points)
    what = "the part is" if len(result.parts) == 1 else "these parts are"
    return f"; {what} worth {worth:g} in all (hidden tests: {hidden:g})"


def _note() -> str:
    from coursekit_student.checker import HIDDEN_NOTE

    return HIDDEN_NOTE


def as_text(result: "CheckResult", table: bool = False) -> str:
    lines = [_headline(result)]
    if result.error:
        return lines[0]
    for test in result.tests:
        icon, label, _ = LABELS.get(test.outcome, ("?", test.outcome, ""))
        where = f"[{test.part}] " if len(result.parts) > 1 else ""
        lines.append(f"  {icon} {where}{pretty(test.name)}: {label} ({test.earned:g}/{test.points:g})")
        if not test.passed and test.outcome != "skipped":
            if test.hint:
                lines.append(f"      hint: {test.hint}")
            for line in test.message.splitlines():
                lines.append(f"      {line}")
    if table:
        lines.append("")
        lines.append(f"  {'part':<24} {'tests passed':>12} {'public points':>14} {'part worth':>10}")
        rows = [(name, f"{row['passed']:g}/{row['total']:g}", f"{row['points']:g}/{row['max_points']:g}",
                 f"{result.part_points.get(name, 0):g}" if result.part_points else "?")
                for name, row in result.by_part().items()]
        rows.append(("total", f"{result.passed}/{result.passed + result.failed}",
                     f"{result.points:g}/{result.max_points:g}",
                     f"{sum(result.part_points.get(n, 0) for n in result.parts):g}" if result.part_points else "?"))
        lines.extend(f"  {name:<24} {tests:>12} {pts:>14} {worth:>10}" for name, tests, pts, worth in rows)
    lines.append(_note())
    return "\n".join(lines)


def _row(test: "TestOutcome", show_part: bool) -> str:
    icon, label, colour = LABELS.get(test.outcome, ("?", test.outcome, "#6e7781"))
    detail = ""
    if not test.passed and test.outcome != "skipped":
        if test.hint:
            detail += f'<div class="ck-hint" style="margin:2px 0 0 1.6em"><b>Hint:</b> {html.escape(test.hint)}</div>'
        if test.message:
            detail += ('<pre class="ck-message" style="margin:4px 0 0 1.6em;padding:4px 6px;white-space:pre-wrap;'
                       f'border-left:3px solid {colour};font-size:90%">{html.escape(test.message)}</pre>')
    return (f'<li class="ck-test ck-{test.outcome}" style="list-style:none;margin:3px 0">'
            f'<span style="color:{colour};font-weight:bold;display:inline-block;width:1.4em">{icon}</span>'
            + (f'<code>{html.escape(test.part)}</code> ' if show_part else '')
            + f'{html.escape(pretty(test.name))}: '
            f'<span style="color:{colour}">{label}</span> '
            f'<span style="opacity:.7">({test.earned:g}/{test.points:g})</span>{detail}</li>')


def _table(result: "CheckResult") -> str:
    rows = "".join(
        f'<tr><td style="text-align:left"><code>{html.escape(name)}</code></td>'
        f'<td>{row["passed"]:g}/{row["total"]:g}</td><td>{row["points"]:g}/{row["max_points"]:g}</td>'
        f'<td>{result.part_points.get(name, 0):g}</td></tr>'
        for name, row in result.by_part().items())
    total = sum(result.part_points.get(n, 0) for n in result.parts)
    return ('<table class="ck-table" style="margin:6px 0;border-collapse:collapse">'
            '<thead><tr><th style="text-align:left">part</th><th>tests passed</th><th>public points</th>'
            '<th>part worth (with hidden tests)</th></tr></thead>'
            f'<tbody>{rows}<tr style="font-weight:bold"><td style="text-align:left">total</td>'
            f'<td>{result.passed}/{result.passed + result.failed}</td>'
            f'<td>{result.points:g}/{result.max_points:g}</td><td>{total:g}</td></tr></tbody></table>')


def as_html(result: "CheckResult", table: bool = False) -> str:
    ok = result.error is None and result.failed == 0 and result.passed > 0
    colour = "#1a7f37" if ok else "#cf222e" if result.error or result.failed else "#6e7781"
    body = "" if result.error else "<ul style=\"padding-left:0;margin:4px 0\">" + "".join(
        _row(t, len(result.parts) > 1) for t in result.tests) + "</ul>"
    if table and not result.error:
        body += _table(result)
    return (f'<div class="coursekit-check" style="border-left:4px solid {colour};padding:4px 10px;margin:4px 0">'
            f'<div class="ck-headline" style="font-weight:bold">{html.escape(_headline(result))}</div>{body}'
            f'<div class="ck-note" style="opacity:.7;font-size:90%">{html.escape(_note())}</div></div>')
