"""Measuring the hidden suites: ``course mutate``.

- ``operators``: libcst mutation operators (one node -> its plausible mistakes);
- ``generate``: mutants of every solution region of a source notebook, with stable ids;
- ``equivalents``: ``reference/<id>/equivalent-mutants.yaml``, mutants no correct test can kill;
- ``runner``: each mutant graded on its part by the sandboxed grader, in parallel, with progress;
- ``report``: kill rate per part, survivors as diffs (report.json, report.md).
"""
