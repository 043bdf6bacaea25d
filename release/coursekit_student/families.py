"""What a ban on one name really bans: the same computation under every other name it has.

A test author writes ``@forbid("numpy.linalg")``; a student who may not call ``np.linalg.inv``
must not get the same inverse from SciPy, PyTorch, or the compiled gufunc behind NumPy's own
function. ``expand`` turns the names a test declares into the whole family. The table is the
one place that says which names are the same shortcut; each entry says why.

Deliberately *not* in the matrix-product family: ``numpy.einsum`` and ``numpy.tensordot``.
m04 teaches ``einsum`` in a part that bans ``@`` and ``numpy.matmul``; a course that wants them
banned names them (m01's SCRATCH does).
"""

from __future__ import annotations

MATMUL = "@"

# The matrix product under every name NumPy, the operator module and PyTorch give it.
MATMUL_FAMILY: tuple[str, ...] = (
    "numpy.matmul",            # a ufunc: np.matmul(...), np.matmul.reduce(...), captured copies
    "numpy.dot",               # C implementation behind an array-function dispatcher
    "numpy.vdot", "numpy.inner",
    "numpy.vecdot", "numpy.matvec", "numpy.vecmat",  # NumPy 2 matrix/vector-product ufuncs
    "numpy.ndarray.dot",       # A.dot(B)
    "numpy.linalg.multi_dot", "numpy.linalg.matmul", "numpy.linalg.vecdot",
    "operator.matmul",         # operator.matmul(A, B), functools.reduce(operator.matmul, ...)
    "torch.matmul", "torch.mm", "torch.bmm", "torch.mv", "torch.chain_matmul", "torch.linalg.matmul",
)

# numpy.linalg's Python functions only wrap compiled code that can be reached directly.
NUMPY_LINALG_FAMILY: tuple[str, ...] = (
    "numpy.linalg._umath_linalg",  # the gufuncs behind inv/solve/det/eig/svd/qr/cholesky/lstsq
    "numpy.linalg.linalg", "numpy.linalg._linalg",  # the implementation modules, old and new name
    "scipy.linalg",                # the same decompositions (and LAPACK/BLAS wrappers) in SciPy
    "scipy.sparse.linalg",         # iterative solvers and eigensolvers: spsolve, eigs, svds, lsqr
    "torch.linalg",                # the same again in PyTorch ...
    "torch.inverse", "torch.det", "torch.logdet", "torch.slogdet", "torch.svd", "torch.svd_lowrank",
    "torch.pca_lowrank", "torch.pinverse", "torch.cholesky", "torch.cholesky_solve", "torch.cholesky_inverse",
    "torch.lu", "torch.lu_solve", "torch.lu_unpack", "torch.qr", "torch.geqrf", "torch.ormqr",
    "torch.triangular_solve", "torch.matrix_exp", "torch.matrix_power", "torch.lobpcg", "torch.norm",
    "torch.Tensor.inverse", "torch.Tensor.det", "torch.Tensor.svd", "torch.Tensor.pinverse",
    "torch.Tensor.cholesky", "torch.Tensor.qr", "torch.Tensor.lu", "torch.Tensor.slogdet", "torch.Tensor.logdet",
)

# Extra same-computation names for one numpy.linalg function (beyond scipy.linalg.X / torch.linalg.X).
LINALG_ALIASES: dict[str, tuple[str, ...]] = {
    "inv": ("torch.inverse", "torch.Tensor.inverse", "scipy.sparse.linalg.inv"),
    "pinv": ("torch.pinverse", "torch.Tensor.pinverse", "scipy.linalg.pinvh"),
    "det": ("torch.det", "torch.Tensor.det", "torch.logdet", "torch.slogdet"),
    "slogdet": ("torch.slogdet", "torch.logdet"),
    "solve": ("scipy.linalg.lu_solve", "scipy.linalg.cho_solve", "scipy.linalg.solve_triangular",
              "scipy.sparse.linalg.spsolve", "torch.linalg.solve_ex", "torch.cholesky_solve", "torch.lu_solve"),
    "svd": ("scipy.linalg.svdvals", "scipy.sparse.linalg.svds", "torch.svd", "torch.Tensor.svd",
            "torch.svd_lowrank", "torch.pca_lowrank", "torch.linalg.svdvals"),
    "eig": ("scipy.linalg.eigvals", "scipy.sparse.linalg.eigs", "torch.linalg.eigvals"),
    "eigh": ("scipy.linalg.eigvalsh", "scipy.sparse.linalg.eigsh", "torch.linalg.eigvalsh", "torch.lobpcg"),
    "eigvals": ("scipy.linalg.eig", "scipy.sparse.linalg.eigs", "torch.linalg.eig"),
    "eigvalsh": ("scipy.linalg.eigh", "scipy.sparse.linalg.eigsh", "torch.linalg.eigh"),
    "qr": ("torch.qr", "torch.Tensor.qr", "torch.geqrf"),
    "cholesky": ("torch.cholesky", "torch.Tensor.cholesky"),
    "lstsq": ("scipy.sparse.linalg.lsqr", "scipy.sparse.linalg.lsmr", "scipy.linalg.pinv"),
    "norm": ("scipy.sparse.linalg.norm", "torch.norm"),
    "matrix_power": ("torch.matrix_power",),
}

# gufuncs of numpy.linalg._umath_linalg, by the numpy.linalg function they implement.
GUFUNCS: dict[str, tuple[str, ...]] = {
    "inv": ("inv",), "det": ("det",), "slogdet": ("slogdet",), "solve": ("solve", "solve1"),
    "eig": ("eig",), "eigvals": ("eigvals",), "eigh": ("eigh_lo", "eigh_up"),
    "eigvalsh": ("eigvalsh_lo", "eigvalsh_up"), "svd": ("svd", "svd_f", "svd_s"),
    "qr": ("qr_complete", "qr_r_raw", "qr_reduced"), "cholesky": ("cholesky_lo", "cholesky_up"),
    "lstsq": ("lstsq",), "pinv": ("svd", "svd_f", "svd_s"), "matrix_rank": ("svd", "svd_f", "svd_s"),
    "cond": ("svd", "svd_f", "svd_s", "inv"), "tensorinv": ("inv",), "tensorsolve": ("solve",),
}

FAMILIES: dict[str, tuple[str, ...]] = {
    "numpy.linalg": NUMPY_LINALG_FAMILY,
    "numpy.matmul": MATMUL_FAMILY,   # banning the product bans all of its names ...
    "numpy.dot": MATMUL_FAMILY,      # ... whichever of them the test author happened to write
    MATMUL: MATMUL_FAMILY,
    "scipy.linalg": ("numpy.linalg", *NUMPY_LINALG_FAMILY),  # the converse: SciPy banned, NumPy's too
    "torch.linalg": ("numpy.linalg", *NUMPY_LINALG_FAMILY),
}


def family(name: str) -> tuple[str, ...]:
    """``name`` and every other name of the same shortcut (``name`` first)."""
    members = [name, *FAMILIES.get(name, ())]
    prefix = "numpy.linalg."
    if name.startswith(prefix) and name.count(".") == 2:
        function = name[len(prefix):]
        members += [f"scipy.linalg.{function}", f"torch.linalg.{function}", *LINALG_ALIASES.get(function, ())]
        members += [f"numpy.linalg._umath_linalg.{g}" for g in GUFUNCS.get(function, ())]
    return tuple(dict.fromkeys(members))


def expand(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Every name a ban on ``names`` covers, the declared names first, without duplicates."""
    out: list[str] = list(names)
    for name in names:
        out += family(name)
    return tuple(dict.fromkeys(out))


def covers(banned: tuple[str, ...], dotted: str) -> str | None:
    """The banned name that covers ``dotted`` (itself, or a module/class above it), else None."""
    for name in banned:
        if dotted == name or dotted.startswith(name + "."):
            return name
    return None
