"""Hidden tests, part `autoencoder`: to_float, the architecture, Adam steps against an oracle, and the
reconstruction error on held-out MNIST test images that the test keeps and scores itself."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from coursekit_student.testing import hint, kit, part, points, timeout

from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path

_spec = spec_from_file_location("_m12_trusted", Path(__file__).resolve().parent / "trusted.py")
trusted = module_from_spec(_spec)
_spec.loader.exec_module(trusted)
settings = trusted.load_sibling("settings")
as_float = trusted.as_float


@part("autoencoder")
@points(2)
@hint("to_float: uint8 (N, 28, 28) -> float32 tensor (N, 784) equal to pixel / 255.")
def test_to_float(submission, rng):
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    images[0, 0, :2] = (0, 255)
    for given in (images, torch.from_numpy(images)):
        x = submission.to_float(given)
        assert tuple(x.shape) == (7, 784) and str(x.dtype) == "torch.float32"
        # float32 division of integers by 255: exact to one rounding, 1e-7 relative
        np.testing.assert_allclose(x.numpy(), images.reshape(7, 784) / 255.0, rtol=1e-6, atol=1e-7)


def n_params(sizes):
    return sum(i * o + o for i, o in sizes)


@part("autoencoder")
@points(3)
@hint("Autoencoder(latent_dim, hidden): encode (B, 784) -> (B, latent_dim), decode -> (B, 784) through a "
      "final Sigmoid, forward = decode(encode(x)); exactly the four documented Linear layers, a ReLU after the "
      "first Linear of each half and nothing on the code.")
def test_autoencoder_shapes_range_and_size(submission, rng):
    for latent, hidden in ((16, 256), (5, 32)):
        model = submission.Autoencoder(latent_dim=latent, hidden=hidden)
        x = torch.tensor(rng.random((6, 784)), dtype=torch.float32)
        z = model.encode(x).detach()
        assert tuple(z.shape) == (6, latent)
        out = model.decode(torch.tensor(rng.normal(0, 50, size=(6, latent)), dtype=torch.float32)).detach()
        assert tuple(out.shape) == (6, 784) and str(out.dtype) == "torch.float32"
        assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0      # a sigmoid, even for huge codes
        # forward is the composition (same numbers, same ops: exact up to float32 rounding)
        np.testing.assert_allclose(model(x).detach().numpy(), model.decode(model.encode(x)).detach().numpy(),
                                   rtol=1e-6, atol=1e-6)
        state = model.state_dict()
        assert sum(int(v.numel()) for v in state.values()) == n_params(
            [(784, hidden), (hidden, latent), (latent, hidden), (hidden, 784)])
        # the documented layers in the documented order (a ReLU after each hidden Linear only): the student's
        # model and this oracle get the same weights, chosen by each entry's shape, whatever the layers' names
        model.load_state_dict(trusted.shape_keyed_state(state))
        encoder, decoder = ref_autoencoder(latent, hidden)
        for net in (encoder, decoder):
            net.load_state_dict(trusted.shape_keyed_state(net.state_dict()))
        code = torch.tensor(rng.normal(0, 2, size=(6, latent)), dtype=torch.float32)
        with torch.no_grad():
            expected = (encoder(x), decoder(code), decoder(encoder(x)))
        # float32, the same layers: ~1e-6; a missing, moved or extra activation changes outputs by > 1e-2
        for got, want in zip((model.encode(x), model.decode(code), model(x)), expected):
            np.testing.assert_allclose(got.detach().numpy(), want.numpy(), rtol=1e-4, atol=1e-5)


def ref_autoencoder(latent, hidden):
    """The documented encoder and decoder, built here."""
    return (nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, latent)),
            nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, 784), nn.Sigmoid()))


def oracle_adam_mse(state, build, images, epochs, batch_size, lr, seed):
    """The documented recipe run here: seeded randperm per epoch, Adam, mean squared error."""
    model = build()
    model.load_state_dict({k: v.clone() for k, v in state.items()})
    model.train()
    torch.manual_seed(seed)
    x = as_float(images)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch_size):
            xb = x[order[start:start + batch_size]]
            loss = F.mse_loss(model(xb), xb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.state_dict()


@part("autoencoder")
@points(4)
@hint("train_autoencoder must follow the documented recipe exactly: model.train(); torch.manual_seed(seed); one "
      "torch.Generator().manual_seed(seed) and torch.randperm(N, generator=g) every epoch; Adam(lr=lr); "
      "F.mse_loss(model(xb), xb); zero_grad, backward, step for every batch (the last one may be smaller); return "
      "the model in eval mode.")
def test_train_autoencoder_matches_oracle(submission, mnist):
    images = mnist["train"][0][:50]
    # "any nn.Module": this one has dropout, so its masks (torch's global generator after torch.manual_seed(seed))
    # and the mode it trains in are part of the recipe; it arrives in eval mode and must train in train mode
    build = lambda: nn.Sequential(nn.Linear(784, 6), nn.Tanh(), nn.Dropout(0.25), nn.Linear(6, 784), nn.Sigmoid())
    torch.manual_seed(7)
    state = build().state_dict()
    snn = submission.torch.nn
    model = snn.Sequential(snn.Linear(784, 6), snn.Tanh(), snn.Dropout(0.25), snn.Linear(6, 784), snn.Sigmoid())
    model.load_state_dict(state)
    model.eval()
    returned = submission.train_autoencoder(model, images, epochs=3, batch_size=16, lr=0.01, seed=5)
    assert returned.training is False                 # the docstring: returned in eval mode
    trained = returned.state_dict()
    expected = oracle_adam_mse(state, build, images, 3, 16, 0.01, 5)
    # the same float32 operations in the same order: < 1e-6; the plausible mistakes (no zero_grad, a
    # summed loss, an unseeded or once-only shuffle, a missing last batch) move weights by > 1e-3
    for k in expected:
        np.testing.assert_allclose(trained[k].numpy(), expected[k].numpy(), rtol=0, atol=2e-5)


@part("autoencoder")
@points(6)
@hint("Trained by the grader on 10,000 images for 3 epochs, your autoencoder must reconstruct held-out test "
      "images with a mean squared error far below the mean image's (~0.064).")
@timeout(300)
def test_heldout_reconstruction(submission, mnist, record_metric):
    # Calibration (reference/m12-generative/calibration.json): the reference scores 0.030-0.031 over seeds 0-2; the
    # best input-free answer, the mean training image, scores 0.064. The bar (0.045) sits between, with a wide
    # margin on both sides (see settings.py).
    with kit(submission).deadline(240):
        model = submission.train_autoencoder(submission.Autoencoder(), mnist["train"][0][:settings.AE_TRAIN],
                                             epochs=settings.AE_EPOCHS, seed=0)
    x = as_float(mnist["test"][0][:settings.N_HELD_OUT])
    with kit(submission).deadline(60):
        recon = model(x).detach()
    mse = float(((recon.double() - x.double()) ** 2).mean())
    record_metric("ae_heldout_mse", mse, threshold=settings.AE_MSE_BAR, higher_is_better=False)
    assert np.isfinite(mse) and mse < settings.AE_MSE_BAR
