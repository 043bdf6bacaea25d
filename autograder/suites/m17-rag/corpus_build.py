"""Trusted helpers for m17: build the "ask the course" corpus, and the grader's own copies of the
notebook's given code (tokenizer, section splitter, sentence splitter).

The corpus is the course's own text: the markdown cells of the released notebooks (release/*/*.ipynb)
and the authoring and student guides. It is built once and frozen into
source/m17-rag/course_corpus.json (shipped to students next to their notebook by `course release`),
because the gold questions of the hidden suite name passages by their index: a corpus rebuilt from
tomorrow's notebooks would move them. Regenerate only together with the gold set:

    .venv/bin/python autograder/suites/m17-rag/corpus_build.py
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[3]
CORPUS_FILE = ROOT / "source" / "m17-rag" / "course_corpus.json"
# m17 itself is left out: the corpus must not change while its own notebook is edited.
EXCLUDED = {"m17-rag"}
MIN_WORDS = 8  # a heading with a one-line body answers nothing; such passages only add ties

_HEADING = re.compile(r"^#{1,6} ")


def tokenize(text: str) -> list[str]:
    """The notebook's tokenizer (given code): lower-case runs of ASCII letters and digits."""
    return re.findall(r"[a-z0-9]+", text.lower())


def split_sentences(text: str) -> list[str]:
    """The notebook's sentence splitter (given code): split after . ! ? + white space and at blank lines."""
    return [" ".join(s.split()) for s in re.split(r"(?<=[.!?])\s+|\n\s*\n", text) if s.strip()]


def sections(markdown: str) -> list[dict]:
    """The reference section splitter (the notebook's chunk_sections contract)."""
    out: list[dict] = []
    title, body, in_fence, started = "", [], False, False
    for line in markdown.split("\n"):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if not in_fence and _HEADING.match(line):
            if started or "\n".join(body).strip():
                out.append({"title": title, "text": "\n".join(body).strip()})
            title, body, started = line.lstrip("#").strip(), [], True
        else:
            body.append(line)
    if started or "\n".join(body).strip():
        out.append({"title": title, "text": "\n".join(body).strip()})
    return out


def _sources(root: Path) -> list[tuple[str, str]]:
    found = []
    for path in sorted((root / "release").glob("*/*.ipynb")):
        if path.parent.name in EXCLUDED:
            continue
        nb = nbformat.read(path, as_version=4)
        text = "\n\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
        found.append((path.relative_to(root).as_posix(), text))
    for path in [root / "release" / "README.md", *sorted((root / "docs").glob("*.md"))]:
        found.append((path.relative_to(root).as_posix(), path.read_text(encoding="utf-8")))
    return found


def build_corpus(root: Path = ROOT) -> list[dict]:
    """Passages {id, source, title, text} of the course's markdown, in a deterministic order."""
    corpus: list[dict] = []
    for source, text in _sources(root):
        for section in sections(text):
            if len(tokenize(section["title"] + " " + section["text"])) >= MIN_WORDS:
                corpus.append({"id": len(corpus), "source": source, **section})
    return corpus


def load_corpus() -> list[dict]:
    """The frozen corpus that students and the grader share."""
    return json.loads(CORPUS_FILE.read_text(encoding="utf-8"))


if __name__ == "__main__":
    corpus = build_corpus()
    CORPUS_FILE.write_text(json.dumps(corpus, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {CORPUS_FILE.relative_to(ROOT)}: {len(corpus)} passages", file=sys.stderr)
