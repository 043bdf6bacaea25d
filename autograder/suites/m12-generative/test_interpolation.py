"""Hidden tests, part `interpolation`: lerp and slerp against NumPy formulas, endpoints, norms, the
parallel fallback and the documented errors."""

import numpy as np
import pytest

from coursekit_student.testing import hint, part, points


def oracle_slerp(z0, z1, steps):
    t = np.linspace(0, 1, steps)[:, None]
    omega = np.arccos(np.clip(z0 @ z1 / np.linalg.norm(z0) / np.linalg.norm(z1), -1, 1))
    return (np.sin((1 - t) * omega) * z0 + np.sin(t * omega) * z1) / np.sin(omega)


@part("interpolation")
@points(3)
@hint("lerp: row i = (1 - t_i) z0 + t_i z1, t = linspace(0, 1, steps), a (steps, d) array whose first row is "
      "exactly z0 and last row exactly z1.")
def test_lerp_random_and_endpoints(submission, rng):
    for d, steps in ((16, 7), (3, 2), (1, 5)):
        z0, z1 = rng.normal(size=d), rng.normal(size=d) * 10
        path = np.asarray(submission.lerp(z0, z1, steps))
        assert path.shape == (steps, d)
        t = np.linspace(0, 1, steps)[:, None]
        np.testing.assert_allclose(path, (1 - t) * z0 + t * z1, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(path[0], z0)          # exact, as the docstring promises
        np.testing.assert_array_equal(path[-1], z1)
    # fixed endpoints where z0 + 1 * (z1 - z0) rounds away from z1 (random draws alone let that form pass
    # about one grading in eight)
    z0, z1 = np.array([0.2, 0.1, 0.3]), np.array([-0.9, 0.7, 0.7])
    np.testing.assert_array_equal(np.asarray(submission.lerp(z0, z1, 4))[-1], z1)
    path = np.asarray(submission.lerp([0, 0], [1, 2], 3))    # lists of ints work too: floats out
    np.testing.assert_allclose(path, [[0, 0], [0.5, 1.0], [1, 2]])


@part("interpolation")
@points(3)
@hint("slerp: sin((1-t)Ω)/sin Ω · z0 + sin(tΩ)/sin Ω · z1 with Ω the angle between z0 and z1 (cosine clipped "
      "to [-1, 1]); equal-norm endpoints keep their norm all along.")
def test_slerp_random_endpoints_and_norm(submission, rng):
    for d, steps in ((16, 9), (2, 3), (50, 2)):
        z0, z1 = rng.normal(size=d), rng.normal(size=d) * 3
        path = np.asarray(submission.slerp(z0, z1, steps))
        assert path.shape == (steps, d)
        # float64 trigonometry, angles away from 0 and pi: 1e-10
        np.testing.assert_allclose(path, oracle_slerp(z0, z1, steps), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(path[0], z0, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(path[-1], z1, rtol=1e-12, atol=1e-12)
    z0 = rng.normal(size=8)
    z1 = rng.normal(size=8)
    z1 *= np.linalg.norm(z0) / np.linalg.norm(z1)
    norms = np.linalg.norm(np.asarray(submission.slerp(z0, z1, 11)), axis=1)
    np.testing.assert_allclose(norms, np.linalg.norm(z0), rtol=1e-10)
    # a quarter circle in the plane: the midpoint is at 45 degrees
    np.testing.assert_allclose(np.asarray(submission.slerp([1.0, 0.0], [0.0, 1.0], 3))[1], [0.5 ** 0.5] * 2,
                               rtol=1e-12)


@part("interpolation")
@points(2)
@hint("When sin Ω < 1e-6 (parallel or opposite vectors) slerp must return lerp's path, with no NaN.")
def test_slerp_parallel_and_opposite_fall_back_to_lerp(submission, rng):
    z0 = rng.normal(size=6)
    for z1 in (2.5 * z0, -z0, z0.copy(), z0 * (1 + 1e-15)):
        path = np.asarray(submission.slerp(z0, z1, 5))
        t = np.linspace(0, 1, 5)[:, None]
        assert np.all(np.isfinite(path))
        np.testing.assert_allclose(path, (1 - t) * z0 + t * z1, rtol=1e-12, atol=1e-12)
    # a vector whose unit vector's dot product with itself rounds to 1 + 2.2e-16 (and with its opposite to
    # -1 - 2.2e-16): without the clip the docstring asks for, arccos gives NaN
    z0 = np.array([-0.7, -1.27, -0.62, 0.04, -2.33])
    t = np.linspace(0, 1, 4)[:, None]
    for z1 in (z0.copy(), -z0, 2 * z0):
        path = np.asarray(submission.slerp(z0, z1, 4))
        assert np.all(np.isfinite(path))
        np.testing.assert_allclose(path, (1 - t) * z0 + t * z1, rtol=1e-12, atol=1e-12)


@part("interpolation")
@points(2)
@hint("lerp and slerp raise ValueError for steps < 2, endpoints of different shapes or not 1-D; slerp also for "
      "a zero vector.")
def test_interpolation_errors(submission):
    for fn in (submission.lerp, submission.slerp):
        with pytest.raises(ValueError):
            fn([1.0, 2.0], [3.0, 4.0], 1)
        with pytest.raises(ValueError):
            fn([1.0, 2.0], [3.0, 4.0, 5.0], 4)
        with pytest.raises(ValueError):
            fn([[1.0, 2.0]], [[3.0, 4.0]], 4)
    for z0, z1 in (([0.0, 0.0], [1.0, 2.0]), ([1.0, 2.0], [0.0, 0.0])):   # either endpoint zero
        with pytest.raises(ValueError):
            submission.slerp(z0, z1, 3)
    np.testing.assert_allclose(np.asarray(submission.lerp([0.0, 0.0], [1.0, 2.0], 2)), [[0, 0], [1, 2]])
