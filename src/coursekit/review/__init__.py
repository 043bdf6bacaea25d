"""TA review: feedback pages, the class dashboard, the gradebook store and LMS exports.

- ``feedback``: per-submission feedback (HTML, Markdown) from results.json only.
- ``store``: DIR/gradebook.sqlite — autograde, overrides, comments, extensions, late penalties
  (``schema``, ``reader``, ``grade``, ``decisions``, ``gradebook_csv``; ``ingest`` records a batch).
- ``dashboard``: the static class site built by ``course report``.
- ``export``: gradebook CSV and Canvas grade-import CSV.
"""
