"""Hidden tests, part `evaluation`: sample_vae against the draws the test makes itself through the student's
own decoder, the confidence/coverage scores and the nearest-neighbour distances against oracles."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from coursekit_student.testing import forbid, hint, part, points


@part("evaluation")
@points(4)
@hint("sample_vae: z = torch.randn(n, model.latent_dim, generator=torch.Generator().manual_seed(seed)), then "
      "sigmoid(model.decode(z)) reshaped to (n, 28, 28), without gradients.")
def test_sample_vae_against_decoder(submission):
    submission.torch.manual_seed(0)
    model = submission.VAE(latent_dim=4, hidden=16)
    imgs = submission.sample_vae(model, 7, seed=3)
    assert tuple(imgs.shape) == (7, 28, 28) and str(imgs.dtype) == "torch.float32"
    z = torch.randn(7, 4, generator=torch.Generator().manual_seed(3))
    expected = torch.sigmoid(model.decode(z).detach()).reshape(7, 28, 28)
    # the same decoder and the same z: float32 rounding only
    np.testing.assert_allclose(imgs.numpy(), expected.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(submission.sample_vae(model, 7, seed=3).numpy(), imgs.numpy())
    assert not np.allclose(submission.sample_vae(model, 7, seed=4).numpy(), imgs.numpy())


@part("evaluation")
@points(3)
@hint("confidence = mean over samples of the largest probability; coverage = (number of distinct argmax "
      "classes) / K, ties to the lowest index (np.argmax).")
def test_confidence_and_coverage_against_oracle(submission, rng):
    for n, k in ((200, 10), (3, 10), (1, 4)):
        probs = rng.dirichlet(np.full(k, 0.3), size=n)
        confidence, coverage = submission.confidence_and_coverage(probs)
        np.testing.assert_allclose(confidence, probs.max(1).mean(), rtol=1e-12)
        assert coverage == pytest.approx(len(set(probs.argmax(1).tolist())) / k, abs=1e-12)
    # mode collapse, the text's own example: every sample's argmax is class 3, with varied probabilities
    # (so the argmax down each *column* points at many different samples), coverage 1/K
    collapsed = rng.dirichlet(np.full(10, 0.3), size=50)
    collapsed[:, 3] = collapsed.max(axis=1) + 1.0
    collapsed /= collapsed.sum(axis=1, keepdims=True)
    confidence, coverage = submission.confidence_and_coverage(collapsed)
    np.testing.assert_allclose(confidence, collapsed.max(1).mean(), rtol=1e-12)
    assert coverage == pytest.approx(0.1, abs=1e-12)
    ties = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.5, 0.5]])    # argmax 0, 0, 1
    confidence, coverage = submission.confidence_and_coverage(ties)
    assert confidence == pytest.approx(0.5) and coverage == pytest.approx(2 / 3)
    # the docstring's "array-like (a NumPy array or nested lists)": the same scores from lists
    confidence, coverage = submission.confidence_and_coverage([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1]])
    assert confidence == pytest.approx(0.65, abs=1e-12) and coverage == pytest.approx(2 / 3, abs=1e-12)


@part("evaluation")
@points(2)
@hint("confidence_and_coverage raises ValueError for an array that is not 2-D or has no rows.")
def test_confidence_and_coverage_errors(submission):
    with pytest.raises(ValueError):
        submission.confidence_and_coverage(np.array([0.2, 0.8]))
    with pytest.raises(ValueError):
        submission.confidence_and_coverage(np.zeros((0, 10)))


@part("evaluation")
@points(6)
@hint("nearest_neighbour_distances: for every sample the smallest Euclidean distance to any reference image "
      "(flattened), via |s|^2 + |r|^2 - 2 s.r clipped at 0, in blocks of batch_size samples.")
@forbid("sklearn", "scipy")
def test_nearest_neighbour_distances_against_cdist(submission, rng):
    reference = rng.random((300, 28, 28))
    # first, a sample count this worker has not seen, in blocks that do not divide it: every block must be
    # processed (a course mutate survivor, range(0, batch_size, n), processed the first block only and read the
    # rest from np.empty memory that a previous same-sized call had left holding the right answers)
    fresh = rng.random((37, 28, 28))
    got = np.asarray(submission.nearest_neighbour_distances(fresh, reference, batch_size=5))
    np.testing.assert_allclose(got, cdist(fresh.reshape(37, -1), reference.reshape(300, -1)).min(1), rtol=1e-9, atol=1e-5)
    samples = rng.random((25, 28, 28))
    samples[3] = reference[17]                         # an exact copy: distance 0 (clipped, never NaN)
    samples[8] = reference[5] + 1e-3
    expected = cdist(samples.reshape(25, -1), reference.reshape(300, -1)).min(1)
    for batch_size in (1024, 4, 1):
        got = np.asarray(submission.nearest_neighbour_distances(samples, reference, batch_size=batch_size))
        assert got.shape == (25,) and np.all(np.isfinite(got))
        # float64 expansion |s|^2+|r|^2-2s.r on norms ~16 loses ~1e-14 relative of 260: sqrt(~1e-12) ~ 1e-6
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-5)
    flat = np.asarray(submission.nearest_neighbour_distances(samples.reshape(25, -1), reference.reshape(300, -1)))
    np.testing.assert_allclose(flat, expected, rtol=1e-9, atol=1e-5)
