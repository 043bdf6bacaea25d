"""Public tests for milestone 3 (run them with check("<part>") in the notebook)."""

import numpy as np
import pytest

from coursekit_student.testing import forbid, hint, part, points

# The library samplers the grader switches off inside your sampling functions (see the notebook).
SAMPLER_FORBID = (
    "numpy.random.Generator.exponential", "numpy.random.Generator.standard_exponential",
    "numpy.random.Generator.normal", "numpy.random.Generator.standard_normal", "numpy.random.Generator.gamma",
    "numpy.random.Generator.choice", "numpy.random.Generator.multinomial",
    "numpy.random.exponential", "numpy.random.normal", "numpy.random.randn", "numpy.random.standard_normal",
    "numpy.random.choice", "scipy.stats", "torch",
)


@part("samplers")
@points(3)
@hint("Same seed, same samples; shapes (size,); exponential samples are positive with mean about 1/lam.")
@forbid(*SAMPLER_FORBID)
def test_samplers_shapes_and_seeds(submission):
    e = np.asarray(submission.sample_exponential(2.0, 1000, seed=0))
    assert e.shape == (1000,) and np.all(e >= 0)
    np.testing.assert_array_equal(e, submission.sample_exponential(2.0, 1000, seed=0))
    # mean of 1000 Exp(2) samples: 0.5 +- 5 standard errors (0.5 / sqrt(1000) = 0.016).
    assert abs(e.mean() - 0.5) < 0.08
    z = np.asarray(submission.sample_normal(0.0, 1.0, 1001, seed=1))
    assert z.shape == (1001,)
    assert abs(z.mean()) < 5 / np.sqrt(1001)
    c = np.asarray(submission.sample_categorical([0.0, 1.0, 0.0], 50, seed=2))
    np.testing.assert_array_equal(c, np.ones(50))


@part("mle")
@points(2)
@hint("Bernoulli and Poisson MLEs are sample means; the Gaussian MLE variance divides by n, not n - 1.")
def test_mle_worked_example(submission):
    assert submission.mle_bernoulli([1, 0, 1, 1]) == pytest.approx(0.75)
    mu, s2 = submission.mle_gaussian([1.0, 2.0, 3.0, 6.0])
    assert (mu, s2) == (pytest.approx(3.0), pytest.approx(3.5))
    assert submission.mle_poisson([0, 2, 4]) == pytest.approx(2.0)
    assert submission.poisson_log_likelihood([0, 1], 1.0) == pytest.approx(-2.0)


@part("posterior")
@points(2)
@hint("Beta(a, b) prior + k successes in n trials -> Beta(a + k, b + n - k); its mean is a / (a + b).")
def test_posterior_worked_example(submission):
    assert tuple(submission.beta_binomial_update(1, 1, 7, 10)) == (8.0, 4.0)
    mean, var = submission.beta_mean_var(8.0, 4.0)
    assert mean == pytest.approx(2 / 3) and var == pytest.approx(32 / (144 * 13))
    assert submission.posterior_predictive(1, 1, 0, 3) == pytest.approx(0.2)


@part("bootstrap")
@points(2)
@hint("Resample with replacement; the interval is made of quantiles of the replicates.")
def test_bootstrap_shapes(submission):
    x = np.arange(10.0)
    reps = np.asarray(submission.bootstrap_replicates(x, "mean", 500, seed=0))
    assert reps.shape == (500,)
    assert reps.std() > 0                      # resamples differ: with replacement
    low, high = submission.bootstrap_ci(x, "mean", 500, level=0.9, seed=0)
    assert low < 4.5 < high
    np.testing.assert_allclose(submission.bootstrap_replicates(np.full(5, 3.0), "median", 10, seed=0), 3.0)


@part("information")
@points(2)
@hint("A fair coin has 1 bit of entropy; KL(p || p) = 0; the loss is -log softmax(logits)[label].")
def test_information_worked_example(submission):
    assert submission.entropy([0.5, 0.5], base=2) == pytest.approx(1.0)
    assert submission.entropy([1.0, 0.0]) == pytest.approx(0.0)
    assert submission.kl_divergence([0.2, 0.8], [0.2, 0.8]) == pytest.approx(0.0)
    assert submission.cross_entropy([1.0, 0.0], [0.5, 0.5]) == pytest.approx(np.log(2))
    assert submission.cross_entropy_loss(np.array([[0.0, 0.0]]), np.array([1])) == pytest.approx(np.log(2))


@part("naive_bayes")
@points(3)
@hint("Per class: prior = frequency, mean and biased variance of each feature; predict the class with the largest log prior + log likelihood.")
def test_naive_bayes_toy(submission):
    X = np.array([[0.0, 0.0], [0.2, 0.1], [-0.2, -0.1], [5.0, 5.0], [5.2, 5.1], [4.8, 4.9]])
    y = np.array([0, 0, 0, 1, 1, 1])
    model = submission.gnb_fit(X, y)
    np.testing.assert_allclose(model["priors"], [0.5, 0.5])
    np.testing.assert_allclose(model["means"], [[0.0, 0.0], [5.0, 5.0]], atol=1e-12)
    np.testing.assert_array_equal(submission.gnb_predict(np.array([[0.1, 0.0], [4.9, 5.2]]), model), [0, 1])
    proba = np.asarray(submission.gnb_predict_proba(X, model))
    assert proba.shape == (6, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
