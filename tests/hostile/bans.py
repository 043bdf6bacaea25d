"""Ways around the engine fixture's from-scratch ``matmul`` part (bans numpy.linalg, numpy.dot, @).

Every cheat computes the right product, so only the ban (runtime shield or static-check hold) can
take the part's 2 points away: each must earn exactly 4 (add 2 + counter 2), while the honest
reference in the same batch keeps 6. Replayed by tests/test_hostile.py through corpus.cases().
"""

from __future__ import annotations

CHEATS: dict[str, tuple[str, str]] = {
    "ban_scipy_blas": ("SciPy's BLAS dgemm, a library product outside numpy",
                       "import numpy as np\nfrom scipy.linalg import blas\n"
                       "def matmul(A, B):\n    return blas.dgemm(1.0, np.asarray(A, float), np.asarray(B, float))\n"),
    "ban_captured_at_import": ("np.matmul captured before the ban",
                               "import numpy as np\n_mm = np.matmul\ndef matmul(A, B):\n    return _mm(A, B)\n"),
    "ban_default_argument": ("np.dot captured in a default argument",
                             "import numpy as np\ndef matmul(A, B, dot=np.dot):\n    return dot(A, B)\n"),
    "ban_getattr_string": ("the banned name built from strings",
                           "import numpy as np\ndef matmul(A, B):\n    return getattr(np, 'mat' + 'mul')(A, B)\n"),
    "ban_helper_thread": ("the product computed in a helper thread",
                          "import threading\nimport numpy as np\ndef matmul(A, B):\n    out = []\n"
                          "    t = threading.Thread(target=lambda: out.append(np.matmul(A, B)))\n"
                          "    t.start()\n    t.join()\n    return out[0]\n"),
    "ban_profile_off": ("switches the profile and trace hooks off, then uses @",
                        "import sys\ndef matmul(A, B):\n    sys.setprofile(None)\n    sys.settrace(None)\n"
                        "    return A @ B\n"),
    "ban_reduce_operator": ("operator.matmul called from C (functools.reduce)",
                            "import functools, operator\ndef matmul(A, B):\n"
                            "    return functools.reduce(operator.matmul, [A, B])\n"),
    "ban_multi_dot": ("numpy.linalg.multi_dot (same family)",
                      "import numpy as np\ndef matmul(A, B):\n    return np.linalg.multi_dot([A, B])\n"),
    "ban_gc_digging": ("digs the original ufunc out with gc",
                       "import gc\nimport numpy as np\ndef matmul(A, B):\n"
                       "    for o in gc.get_objects():\n"
                       "        if type(o) is np.ufunc and o.__name__ == 'matmul':\n            return o(A, B)\n"
                       "    return np.matmul(A, B)\n"),
    "ban_ctypes": ("loads a shared library with ctypes",
                   "import ctypes\nimport numpy as np\ndef matmul(A, B):\n    ctypes.CDLL(None)\n"
                   "    return np.matmul(A, B)\n"),
}


def cases(case_type: type, add: str, counter: str) -> list:
    """Cases of ``case_type`` (corpus.Case) around the honest ``add`` and ``counter``: each earns exactly 4 of 6."""
    return [case_type(name, why, 4, [add, source, counter]) for name, (why, source) in CHEATS.items()]
