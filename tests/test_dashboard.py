"""`course report`: the static class dashboard, checked as HTML and in a real headless browser."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from coursekit.cli import cli
from coursekit.review.ingest import record_batch
from coursekit.review.store import Gradebook
from coursekit.review.synthetic import DEFAULT_MILESTONE, synthetic_course, write_synthetic_class
from tests.browser import ARTIFACTS, chromium_page

N = 40
OVERRIDDEN = "student0000"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("graded") / "out"
    write_synthetic_class(out, N, seed=11)
    record_batch(out_dir=out, course=synthetic_course(), milestone=DEFAULT_MILESTONE)
    runner = CliRunner()
    # The overridden student: the first one with a failed test (student0000 with this seed).
    student, failed = next((s.parent.name, t) for s in sorted(out.glob("*/results.json"))
                           for t in json.loads(s.read_text())["tests"] if t["score"] == 0)
    assert student == OVERRIDDEN
    for args in (["override", str(out), student, "--test", failed["name"], "--score",
                  str(failed["max_score"]), "--reason", "regrade accepted", "--by", "ana"],
                 ["comment", str(out), student, "Well argued <b>PCA</b> section", "--by", "ana"]):
        assert runner.invoke(cli, args).exit_code == 0
    result = runner.invoke(cli, ["report", str(out), "--out", str(out / "site")])
    assert result.exit_code == 0, result.output
    assert f"{N} feedback pages" in result.output
    return out / "site"


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fetches: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        elif a.get("src") or (tag == "link" and a.get("href")):
            self.fetches.append(a.get("src") or a.get("href") or "")


def test_site_is_offline_and_links_every_student(site: Path) -> None:
    html = (site / "index.html").read_text()
    page = _Page()
    page.feed(html)
    assert page.fetches == [], "no CDN or external assets"
    student_links = [link for link in page.links if link.startswith("students/")]
    assert len(set(student_links)) == N
    assert all((site / link).is_file() for link in student_links)
    assert html.count("<svg") >= 1 + 6 + 2  # total + one per part + runtime + memory


def test_failure_table_is_sorted_worst_first_with_messages(site: Path) -> None:
    with Gradebook.open(site.parent) as book:
        rates = {}
        for row in book.conn.execute("SELECT name, AVG(score < max_score - 1e-9) AS rate FROM tests GROUP BY name"):
            rates[row["name"]] = row["rate"]
    html = (site / "index.html").read_text()
    table = html.split('id="failure-table"')[1].split("</table>")[0]
    names = [chunk.split("</code>")[0] for chunk in table.split("<code>")[1:]]
    assert sorted(names) == sorted(rates)
    shown = [rates[n] for n in names]
    assert shown == sorted(shown, reverse=True)
    assert "(×" in table  # most common message with its count


def test_errored_and_timed_out_submissions_listed(site: Path) -> None:
    with Gradebook.open(site.parent) as book:
        expected = {r["student"] for r in book.conn.execute(
            "SELECT student FROM tests WHERE outcome IN ('timeout', 'crashed') UNION "
            "SELECT student FROM submissions WHERE status = 'error'")}
    html = (site / "index.html").read_text()
    table = html.split('id="problem-table"')[1].split("</table>")[0] if expected else ""
    for student in expected:
        assert f">{student}</a>" in table


def test_student_page_carries_comment_and_override(site: Path) -> None:
    page = (site / "students" / f"{OVERRIDDEN}.html").read_text()
    assert "Well argued &lt;b&gt;PCA&lt;/b&gt; section" in page
    assert "adjusted by ana: regrade accepted" in page
    assert "class dashboard" not in page  # the student page is not the staff page


@pytest.mark.slow
@pytest.mark.browser
def test_dashboard_in_headless_chromium(site: Path) -> None:
    errors: list[str] = []
    with chromium_page(1400, 1000, errors) as page:
        page.on("request", lambda r: errors.append(f"fetched {r.url}") if not r.url.startswith("file:") else None)
        page.goto((site / "index.html").as_uri())
        rows = page.locator("#students tbody tr")
        assert rows.count() == N
        assert page.locator("#count").inner_text() == f"showing {N} of {N}"

        # Sort by final score, descending (two clicks), and check the order in the DOM.
        header = page.locator("#students thead th", has_text="Final")
        header.click()
        header.click()
        assert header.get_attribute("aria-sort") == "descending"
        finals = [float(v) for v in page.eval_on_selector_all(
            "#students tbody tr", "rows => rows.map(r => r.cells[r.cells.length - 4].dataset.v)")]
        assert finals == sorted(finals, reverse=True)

        # Filter by name, then by status.
        page.fill("#filter", "student001")
        assert page.locator("#students tbody tr:visible").count() == 10
        page.fill("#filter", "")
        page.select_option("#show", "overridden")
        visible = page.locator("#students tbody tr:visible")
        assert visible.count() == 1 and OVERRIDDEN in visible.inner_text()
        page.select_option("#show", "all")
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=False)

        # A student's link opens their feedback page.
        page.click(f"#students a:text-is('{OVERRIDDEN}')")
        page.wait_for_load_state()
        assert page.url.endswith(f"students/{OVERRIDDEN}.html")
        assert f"feedback for {OVERRIDDEN}" in page.locator("h1").inner_text()
        page.screenshot(path=str(ARTIFACTS / "feedback.png"), full_page=False)
    assert errors == []
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000


def test_report_on_missing_folder_is_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "no such results folder" in result.output



def test_flags_reach_staff_only_and_odd_names_link_correctly(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_synthetic_class(out, 3, seed=2)
    odd = "José Núñez (late)"
    (out / "student0002").rename(out / odd)
    data = json.loads((out / odd / "results.json").read_text())
    data["extra_data"]["student"] = odd
    data["extra_data"]["flags"] = ["cell [4] line 2: import coursekit.grading.worker"]
    data["extra_data"]["submission_error"] = "the notebook is not valid JSON; export it again from JupyterLab"
    (out / odd / "results.json").write_text(json.dumps(data))
    record_batch(out_dir=out, course=synthetic_course(), milestone=DEFAULT_MILESTONE)
    result = CliRunner().invoke(cli, ["report", str(out)])
    assert result.exit_code == 0, result.output
    index = (out / "site" / "index.html").read_text()
    assert "import coursekit.grading.worker" in index and 'id="flag-table"' in index
    assert "the notebook is not valid JSON" in index  # listed with the submissions that need a look
    page = _Page()
    page.feed(index)
    link = next(h for h in page.links if h.startswith("students/Jos"))
    from urllib.parse import unquote
    assert (out / "site" / unquote(link)).is_file()
    feedback = (out / "site" / "students" / f"{odd}.html").read_text()
    assert "import coursekit.grading" not in feedback  # flags are for staff, never shown to the student
    assert "could not be graded: the notebook is not valid JSON" in feedback
