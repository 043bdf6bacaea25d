"""Public tests for Milestone 12 (run by check("<part>") in your notebook and by the grader)."""
import numpy as np
import torch

from coursekit_student.testing import hint, part, points


@part("autoencoder")
@points(2)
@hint("to_float gives (N, 784) float32 in [0, 1]; encode gives (B, latent_dim), forward (B, 784) in (0, 1).")
def test_autoencoder_shapes(submission):
    images = np.array([[[0, 255] * 14] * 28], dtype=np.uint8)                 # one striped image
    x = submission.to_float(images)
    assert tuple(x.shape) == (1, 784) and str(x.dtype) == "torch.float32"
    assert float(x[0, 0]) == 0.0 and float(x[0, 1]) == 1.0
    model = submission.Autoencoder(latent_dim=16)
    assert tuple(model.encode(x).shape) == (1, 16)
    out = model(x).detach()
    assert tuple(out.shape) == (1, 784) and 0.0 <= float(out.min()) and float(out.max()) <= 1.0


@part("vae")
@points(2)
@hint("With mu = 0 and logvar = 0, KL = 0 and z = eps; the worked example below is computed by hand.")
def test_vae_worked_example(submission):
    mu, logvar = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0 * np.log(2.0)]])   # sigma = (1, 2)
    z = submission.reparameterize(mu, logvar, torch.tensor([[0.5, 0.5]]))
    np.testing.assert_allclose(z.numpy(), [[1.5, 1.0]], rtol=1e-6)
    # KL = -1/2 [(1 + 0 - 1 - 1) + (1 + ln 4 - 0 - 4)] = 2 - ln 2
    np.testing.assert_allclose(submission.gaussian_kl(mu, logvar).numpy(), [2 - np.log(2.0)], rtol=1e-6)
    x, logits = torch.full((1, 784), 0.5), torch.zeros(1, 784)         # BCE(0.5, sigmoid(0)) = ln 2 per pixel
    loss, recon, kl = submission.vae_loss(x, logits, mu, logvar)
    np.testing.assert_allclose([float(recon), float(kl), float(loss)],
                               [784 * np.log(2.0), 2 - np.log(2.0), 783 * np.log(2.0) + 2], rtol=1e-5)


@part("dcgan")
@points(2)
@hint("Generator: (B, latent_dim) -> (B, 1, 28, 28) in [-1, 1]; Discriminator: (B, 1, 28, 28) -> (B,) logits; "
      "with logits 0 both losses are ln 2 per term.")
def test_dcgan_shapes_and_losses(submission):
    g, d = submission.Generator(latent_dim=32), submission.Discriminator()
    fake = g(torch.randn(4, 32)).detach()
    assert tuple(fake.shape) == (4, 1, 28, 28) and float(fake.abs().max()) <= 1.0
    assert tuple(d(fake).shape) == (4,)
    zeros = torch.zeros(3)
    np.testing.assert_allclose(float(submission.discriminator_loss(zeros, zeros)), 2 * np.log(2.0), rtol=1e-6)
    np.testing.assert_allclose(float(submission.generator_loss(zeros)), np.log(2.0), rtol=1e-6)


@part("interpolation")
@points(2)
@hint("lerp([0, 0], [2, 4], 3) is [[0, 0], [1, 2], [2, 4]]; slerp of two unit vectors 90 degrees apart passes "
      "through (sqrt(1/2), sqrt(1/2)).")
def test_interpolation_worked_example(submission):
    np.testing.assert_allclose(np.asarray(submission.lerp([0.0, 0.0], [2.0, 4.0], 3)), [[0, 0], [1, 2], [2, 4]])
    path = np.asarray(submission.slerp([1.0, 0.0], [0.0, 1.0], 3))
    np.testing.assert_allclose(path, [[1, 0], [0.5 ** 0.5, 0.5 ** 0.5], [0, 1]], atol=1e-12)


@part("evaluation")
@points(2)
@hint("Two samples predicted 0 and 2 with top probabilities 0.9 and 0.7: confidence 0.8, coverage 2/3. The "
      "nearest neighbour of (3, 4) among (0, 0) and (3, 5) is at distance 1.")
def test_evaluation_worked_example(submission):
    confidence, coverage = submission.confidence_and_coverage(np.array([[0.9, 0.05, 0.05], [0.1, 0.2, 0.7]]))
    np.testing.assert_allclose([confidence, coverage], [0.8, 2 / 3])
    dist = submission.nearest_neighbour_distances(np.array([[3.0, 4.0]]), np.array([[0.0, 0.0], [3.0, 5.0]]))
    np.testing.assert_allclose(np.asarray(dist), [1.0], atol=1e-7)
