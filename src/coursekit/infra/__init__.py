"""Deployment of the autograder: container images, Gradescope packages, Kubernetes grading.

Nothing here grades: every path ends in the same engine (``coursekit.grading``) that
``course grade`` runs on a laptop, so a score is the same wherever it is computed.
"""
