"""The submitted notebook as TAs see it: a kept copy in DIR/<student>/, rendered safely for the review page.

Grading keeps ``DIR/<student>/submission.ipynb``: the notebook the grader read (from the .ipynb,
the zip or the folder, never through a link), re-serialised as plain JSON. TAs read the code, the
outputs and the plots there, and grade the cells tagged ``written:<question>``.

The notebook is the student's, so it is hostile content in a staff page that carries a form token:
it is rendered by nbconvert with its SanitizeHTML preprocessor (scripts, event handlers and
iframes removed from HTML outputs and from raw HTML in Markdown) and served with a ``Content-Security-Policy: sandbox`` header
inside a sandboxed iframe, so even markup that slipped through runs no script and cannot reach
the review page or its token.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

SAFE_TAGS = ["a", "abbr", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
             "i", "img", "li", "ol", "p", "pre", "span", "strong", "sub", "sup", "table", "tbody", "td", "th",
             "thead", "tr", "ul"]
SAFE_ATTRIBUTES = {"a": ["href", "title"], "img": ["alt", "src"], "td": ["align"], "th": ["align"]}
COPY_NAME = "submission.ipynb"
HTML_NAME = "submission.html"
# What the notebook frame may do: show images (data: URIs) and inline styles, nothing else.
CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def keep_copy(notebook: Path, target_dir: Path) -> Path | None:
    """Write DIR/<student>/submission.ipynb for the TAs; None when the submission is not a notebook."""
    from coursekit.grading.notebook import SubmissionError, parse_notebook, read_notebook_bytes

    try:
        data = parse_notebook(read_notebook_bytes(notebook))
    except (SubmissionError, OSError):
        return None  # an invalid submission has nothing to show; its results say why
    Path(target_dir).mkdir(parents=True, exist_ok=True)
    target = Path(target_dir) / COPY_NAME
    target.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    (Path(target_dir) / HTML_NAME).unlink(missing_ok=True)  # a re-grade invalidates the rendering
    return target


def _notebook(student_dir: Path) -> dict[str, Any] | None:
    path = student_dir / COPY_NAME
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None


def written_cells(student_dir: Path) -> dict[str, list[str]]:
    """question -> the sources of the cells tagged ``written:<question>`` (for the grading panel)."""
    found: dict[str, list[str]] = {}
    for cell in (_notebook(student_dir) or {}).get("cells", []):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        for tag in (cell.get("metadata") or {}).get("tags") or []:
            if isinstance(tag, str) and tag.startswith("written:"):
                found.setdefault(tag.removeprefix("written:"), []).append(source)
    return found


def rendered(student_dir: Path) -> str:
    """Sanitised HTML of the kept notebook (cached next to it); a one-line page when there is none."""
    cache = student_dir / HTML_NAME
    if cache.is_file() and (student_dir / COPY_NAME).is_file() and \
            cache.stat().st_mtime_ns >= (student_dir / COPY_NAME).stat().st_mtime_ns:
        return cache.read_text(encoding="utf-8")
    notebook = _notebook(student_dir)
    if notebook is None:
        return "<!DOCTYPE html><p>No notebook was kept for this submission (it could not be read as one).</p>"
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors.sanitize import SanitizeHTML

    exporter = HTMLExporter(template_name="lab")
    # nbconvert's SanitizeHTML (bleach) cleans raw HTML in Markdown cells and HTML outputs and drops
    # script-like output types; its default tag list lacks paragraphs and tables, so it is widened.
    exporter.register_preprocessor(SanitizeHTML(tags=SAFE_TAGS, attributes=SAFE_ATTRIBUTES), enabled=True)
    try:
        body, _ = exporter.from_notebook_node(nbformat.reads(json.dumps(notebook), as_version=4))
    except Exception as exc:  # noqa: BLE001 - a malformed notebook still gets a page saying why
        from html import escape

        body = f"<!DOCTYPE html><p>The notebook could not be rendered: {escape(type(exc).__name__)}: {escape(str(exc))}</p>"
    # The template's own scripts (require.js, MathJax from a CDN) could not run in the sandbox anyway;
    # dropping them keeps the frame quiet. Student markup cannot hold a raw <script>: it was sanitised.
    body = re.sub(r"<script\b[^>]*>.*?</script>", "", body, flags=re.S | re.I)
    cache.write_text(body, encoding="utf-8")
    return body
