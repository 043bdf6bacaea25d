"""Student text made inert where it is shown: terminals and logs, Markdown, spreadsheet cells.

Student code controls its tracebacks, printed output and exception messages, and students choose
their file names, so any of that can carry ANSI escapes (recolour or erase a TA's terminal, OSC 8
links that point somewhere else than they say), carriage returns that overwrite a line, Markdown
that turns a feedback page into a link or an image, or a spreadsheet formula (``=HYPERLINK(...)``).
HTML pages need none of this: jinja2 autoescapes them (see feedback.environment).
"""

from __future__ import annotations

import re
from typing import Any

# ESC-introduced sequences (CSI, OSC incl. OSC 8 links, DCS/SOS/PM/APC strings, two-byte escapes) and
# their 8-bit C1 forms. They are dropped, text between an OSC 8 pair stays.
_SEQUENCES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"              # CSI: colours, cursor moves, erase
    r"|\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"   # OSC: titles, hyperlinks
    r"|\x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?"        # DCS, SOS, PM, APC strings
    r"|\x1b[ -/]*[0-~]?"                    # other escapes (ESC c resets the terminal)
    r"|\x9b[0-?]*[ -/]*[@-~]"               # 8-bit CSI
    r"|[\x90\x98\x9d-\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?")  # 8-bit OSC/DCS/...
# Left-over control characters and the invisible bidi/format controls of "Trojan source" attacks:
# shown as visible escapes rather than dropped, so a TA can see that something was there.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069"
                       r"\ufeff\ufff9-\ufffb]")


def terminal_safe(text: Any) -> str:
    """``text`` with terminal escape sequences removed, CR turned into newlines, other controls shown as ``\\xNN``."""
    text = str(text if text is not None else "")
    text = _SEQUENCES.sub("", text.replace("\r\n", "\n"))
    text = text.replace("\r", "\n")
    return _CONTROLS.sub(lambda m: ascii(m.group())[1:-1], text)


# Inline Markdown that could build links, images, emphasis, HTML, tables or maths anywhere in a line.
_MD_INLINE = re.compile(r"([\\`*_\[\]<>|~&#$!{}])")
# Block syntax that only counts at the start of a line: lists, quotes, headings' underlines, "1." lists.
_MD_LINE_START = re.compile(r"^(\s*)([-+=>])", re.MULTILINE)
_MD_ORDERED = re.compile(r"^(\s*\d+)([.)])", re.MULTILINE)


def md_text(text: Any) -> str:
    """Plain text that Markdown renders as exactly these characters (terminal-safe too)."""
    text = _MD_INLINE.sub(r"\\\1", terminal_safe(text))
    text = _MD_LINE_START.sub(r"\1\\\2", text)
    return _MD_ORDERED.sub(r"\1\\\2", text)


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def md_code(text: Any) -> str:
    """An inline code span holding ``text`` verbatim (CommonMark: a longer backtick string than any inside)."""
    body = " ".join(terminal_safe(text).splitlines())  # a line break could start a heading or a list
    ticks = "`" * (_longest_backtick_run(body) + 1)
    pad = " " if body.startswith("`") or body.endswith("`") or not body.strip() else ""
    return f"{ticks}{pad}{body}{pad}{ticks}"


def md_fence(text: Any) -> str:
    """The fence for a code block holding ``text``: backticks longer than any run inside (at least 3)."""
    return "`" * max(3, _longest_backtick_run(str(text or "")) + 1)


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\0", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text, never runs as a formula (OWASP CSV injection; ASVS 1.2.10).

    Cells starting with ``= + - @``, tab, CR, LF or NUL (and their full-width forms) get a leading
    ``'``, which spreadsheets take as "this is text". Numbers, and strings that are plain numbers
    such as ``-0.5``, stay numbers.
    """
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    if _NUMBER.fullmatch(text):
        return text
    return "'" + text if text.lstrip(" ").startswith(_FORMULA_START) else text


def csv_row(row: list[Any]) -> list[Any]:
    return [csv_cell(value) for value in row]
