"""The grading engine.

Two sides, two processes:

- the *trusted* side (``run_one``/``plugin``/``bridge``): pytest with the hidden suite; it never
  imports or executes student code and computes every verdict from data;
- the *worker* (``worker``, started by ``sandbox``): executes the student's notebook as a
  module under an unprivileged uid, without network, with resource limits, and answers calls.

They talk through ``protocol``: length-prefixed JSON headers plus .npy blobs; never pickle.
"""
