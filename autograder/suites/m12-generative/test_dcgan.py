"""Hidden tests, part `dcgan`: the documented generator and discriminator (shapes, ranges, exact sizes), the
two losses against oracles (including logits far from 0), the optimisers' settings, and two seeded
gan_train_step calls on small networks the test builds, every parameter and buffer and both losses
against the same steps run here."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from coursekit_student.testing import hint, part, points

from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path

_spec = spec_from_file_location("_m12_trusted", Path(__file__).resolve().parent / "trusted.py")
trusted = module_from_spec(_spec)
_spec.loader.exec_module(trusted)


def ref_generator(d):
    """The documented generator, built here."""
    return nn.Sequential(nn.Linear(d, 6272), nn.BatchNorm1d(6272), nn.ReLU(), nn.Unflatten(1, (128, 7, 7)),
                         nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
                         nn.ConvTranspose2d(64, 1, 4, stride=2, padding=1), nn.Tanh())


def ref_discriminator():
    """The documented discriminator, built here."""
    return nn.Sequential(nn.Conv2d(1, 64, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
                         nn.Conv2d(64, 128, 4, stride=2, padding=1), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
                         nn.Flatten(), nn.Linear(6272, 1), nn.Flatten(0))


def assert_same_forward(student_net, oracle, inputs):
    """The student's network and the oracle, given the same shape-keyed weights (trusted.shape_keyed_state), in
    train mode (batch statistics) and in eval mode (running statistics): the same outputs."""
    oracle_state = trusted.shape_keyed_state(oracle.state_dict())
    student_state = trusted.shape_keyed_state(student_net.state_dict())
    for mode in ("train", "eval"):
        oracle.load_state_dict(oracle_state)
        student_net.load_state_dict(student_state)
        getattr(oracle, mode)()
        getattr(student_net, mode)()
        with torch.no_grad():
            expected = oracle(inputs)
        got = student_net(inputs).detach()
        # float32, the same layers (conv sums may be ordered differently): ~1e-6; a missing, moved or extra
        # layer or activation, or another LeakyReLU slope, changes outputs by > 1e-2
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-4, atol=1e-4, err_msg=mode)


@part("dcgan")
@points(3)
@hint("Generator(latent_dim): (B, latent_dim) -> (B, 1, 28, 28) in [-1, 1] (Tanh), with exactly the documented "
      "layers in the documented order: Linear(latent_dim, 128*7*7), BatchNorm1d, ReLU, view (B, 128, 7, 7), "
      "ConvTranspose2d(128, 64, 4, 2, 1), BatchNorm2d(64), ReLU, ConvTranspose2d(64, 1, 4, 2, 1), Tanh.")
def test_generator_shapes_range_and_size(submission, rng):
    for d in (32, 5):
        g = submission.Generator(latent_dim=d)
        assert g.latent_dim == d
        out = g(torch.tensor(rng.normal(0, 3, size=(4, d)), dtype=torch.float32)).detach()
        assert tuple(out.shape) == (4, 1, 28, 28) and str(out.dtype) == "torch.float32"
        assert float(out.abs().max()) <= 1.0
        state = g.state_dict()
        learnable = sum(int(v.numel()) for k, v in state.items()
                        if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
        n = 6272
        assert learnable == (d * n + n) + 2 * n + (128 * 64 * 16 + 64) + 2 * 64 + (64 * 16 + 1)
        # the documented layers in the documented order
        assert_same_forward(g, ref_generator(d), torch.tensor(rng.normal(0, 1, size=(6, d)), dtype=torch.float32))


@part("dcgan")
@points(3)
@hint("Discriminator(): (B, 1, 28, 28) -> (B,) logits with exactly Conv2d(1, 64, 4, 2, 1), LeakyReLU(0.2), "
      "Conv2d(64, 128, 4, 2, 1), BatchNorm2d(128), LeakyReLU(0.2), Flatten, Linear(128*7*7, 1), in this order.")
def test_discriminator_shapes_and_size(submission, rng):
    d = submission.Discriminator()
    out = d(torch.tensor(rng.uniform(-1, 1, size=(5, 1, 28, 28)), dtype=torch.float32)).detach()
    assert tuple(out.shape) == (5,) and str(out.dtype) == "torch.float32"
    state = d.state_dict()
    learnable = sum(int(v.numel()) for k, v in state.items()
                    if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
    assert learnable == (64 * 16 + 64) + (64 * 128 * 16 + 128) + 2 * 128 + (6272 + 1)
    # the documented layers in the documented order (no batch norm on the first layer, LeakyReLU(0.2))
    assert_same_forward(d, ref_discriminator(), torch.tensor(rng.uniform(-1, 1, size=(6, 1, 28, 28)),
                                                             dtype=torch.float32))


@part("dcgan")
@points(4)
@hint("discriminator_loss = mean BCE(real, 1) + mean BCE(fake, 0); generator_loss = mean BCE(fake, 1) "
      "(non-saturating), both from logits with binary_cross_entropy_with_logits (stable for large logits).")
def test_losses_against_oracle(submission, rng):
    real = torch.tensor(rng.normal(0, 3, size=13), dtype=torch.float32)
    fake = torch.tensor(rng.normal(0, 3, size=11), dtype=torch.float32)
    real[0], fake[0], fake[1] = -40.0, 40.0, -40.0     # sigmoid saturates in float32: only logits stay finite
    r, f = real.double(), fake.double()
    expected_d = float(F.softplus(-r).mean() + F.softplus(f).mean())     # -log sigmoid(r), -log(1 - sigmoid(f))
    expected_g = float(F.softplus(-f).mean())                           # -log sigmoid(f)
    # float32 means of ~12 terms: 1e-5 relative
    np.testing.assert_allclose(float(submission.discriminator_loss(real, fake)), expected_d, rtol=1e-5)
    np.testing.assert_allclose(float(submission.generator_loss(fake)), expected_g, rtol=1e-5)


@part("dcgan")
@points(2)
@hint("make_optimizers: two Adam optimisers with lr=lr and betas=(0.5, 0.999), the first on the generator's "
      "parameters, the second on the discriminator's.")
def test_make_optimizers_settings(submission):
    g, d = submission.Generator(latent_dim=4), submission.Discriminator()
    opt_g, opt_d = submission.make_optimizers(g, d, lr=3e-4)
    for opt in (opt_g, opt_d):
        defaults = opt.defaults                       # a dict of numbers: it crosses as data
        assert defaults["lr"] == 3e-4 and tuple(defaults["betas"]) == (0.5, 0.999)
        assert defaults["weight_decay"] == 0 and "momentum_decay" not in defaults    # Adam, not AdamW or NAdam
    for opt, net in ((opt_g, g), (opt_d, d)):          # each optimiser holds its own network's weights
        held = sum(int(p.numel()) for group in opt.param_groups for p in group["params"])
        assert held == sum(int(v.numel()) for k, v in net.state_dict().items()
                           if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))


def small_nets(torch_nn):
    """A tiny generator (with BatchNorm, so its running statistics count the forward passes) and discriminator.

    The generator's first Linear has no bias: a bias right before BatchNorm has a zero gradient in exact
    arithmetic, and Adam would turn its float rounding noise into full-size steps of either sign."""
    g = torch_nn.Sequential(torch_nn.Linear(3, 6, bias=False), torch_nn.BatchNorm1d(6), torch_nn.ReLU(), torch_nn.Linear(6, 4),
                            torch_nn.Tanh())
    d = torch_nn.Sequential(torch_nn.Linear(4, 5), torch_nn.LeakyReLU(0.2), torch_nn.Linear(5, 1),
                            torch_nn.Flatten(0))
    return g, d


@part("dcgan")
@points(8)
@hint("gan_train_step: D step first on D(real) and D(G(z).detach()) (zero_grad, backward, step), then the G step "
      "with the non-saturating loss through the UPDATED D and a second G(z) forward; return the two losses as "
      "floats. Adam from make_optimizers. The D step must not put gradients into the generator (detach the fakes).")
def test_gan_train_step_against_oracle(submission, rng):
    torch.manual_seed(11)
    g_ref, d_ref = small_nets(nn)
    g, d = small_nets(submission.torch.nn)
    g.load_state_dict({k: v.clone() for k, v in g_ref.state_dict().items()})
    d.load_state_dict({k: v.clone() for k, v in d_ref.state_dict().items()})
    opt_g, opt_d = submission.make_optimizers(g, d, lr=0.05)
    ref_g = torch.optim.Adam(g_ref.parameters(), lr=0.05, betas=(0.5, 0.999))
    ref_d = torch.optim.Adam(d_ref.parameters(), lr=0.05, betas=(0.5, 0.999))
    for step in range(3):           # several steps: stale gradients and Adam's state show from step 2
        real = torch.tensor(rng.uniform(-1, 1, size=(8, 4)), dtype=torch.float32)
        z = torch.tensor(rng.normal(size=(8, 3)), dtype=torch.float32)
        d_loss, g_loss = submission.gan_train_step(g, d, opt_g, opt_d, real, z)

        fake = g_ref(z)
        exp_d = F.softplus(-d_ref(real)).mean() + F.softplus(d_ref(fake.detach())).mean()
        ref_d.zero_grad()
        exp_d.backward()
        ref_d.step()
        exp_g = F.softplus(-d_ref(g_ref(z))).mean()
        ref_g.zero_grad()
        exp_g.backward()
        ref_g.step()
        assert isinstance(d_loss, float) and isinstance(g_loss, float)
        # float32, the same operations: 1e-5; the plausible mistakes (no detach with one zero_grad, the saturating
        # loss, the old D in the G step, the fakes reused) change a loss or a weight by > 1e-3
        np.testing.assert_allclose([d_loss, g_loss], [float(exp_d), float(exp_g)], rtol=1e-5, atol=1e-6)
        for mine, ref in ((g.state_dict(), g_ref.state_dict()), (d.state_dict(), d_ref.state_dict())):
            for k in ref:
                np.testing.assert_allclose(mine[k].numpy().astype(float), ref[k].numpy().astype(float), rtol=0,
                                           atol=2e-5, err_msg=f"step {step}: {k}")
    # The D step must not compute generator gradients (the fakes detached). Invisible in the weights when opt_g
    # holds every generator parameter (its zero_grad clears them before the G step), so here opt_g holds all but
    # the first layer, whose gradient is then read out with an SGD(lr=1) step: it must be the G step's alone.
    torch.manual_seed(12)
    first_ref = nn.Linear(3, 6, bias=False)
    rest_ref = nn.Sequential(nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 4), nn.Tanh())
    d_ref = small_nets(nn)[1]
    snn = submission.torch.nn
    first = snn.Linear(3, 6, bias=False)
    rest = snn.Sequential(snn.BatchNorm1d(6), snn.ReLU(), snn.Linear(6, 4), snn.Tanh())
    d = small_nets(snn)[1]
    for mine, ref in ((first, first_ref), (rest, rest_ref), (d, d_ref)):
        mine.load_state_dict({k: v.clone() for k, v in ref.state_dict().items()})
    w0 = first_ref.weight.detach().clone()
    g = snn.Sequential(first, rest)
    opt_g = submission.torch.optim.Adam(rest.parameters(), lr=0.05, betas=(0.5, 0.999))
    opt_d = submission.torch.optim.Adam(d.parameters(), lr=0.05, betas=(0.5, 0.999))
    real = torch.tensor(rng.uniform(-1, 1, size=(8, 4)), dtype=torch.float32)
    z = torch.tensor(rng.normal(size=(8, 3)), dtype=torch.float32)
    submission.gan_train_step(g, d, opt_g, opt_d, real, z)
    submission.torch.optim.SGD(first.parameters(), lr=1.0).step()       # weight -= its accumulated gradient

    g_ref = nn.Sequential(first_ref, rest_ref)
    ref_d = torch.optim.Adam(d_ref.parameters(), lr=0.05, betas=(0.5, 0.999))
    exp_d = F.softplus(-d_ref(real)).mean() + F.softplus(d_ref(g_ref(z).detach())).mean()
    ref_d.zero_grad()
    exp_d.backward()
    ref_d.step()
    F.softplus(-d_ref(g_ref(z))).mean().backward()
    # one float32 backward pass: 1e-5; the D step's generator gradient, if accumulated, is of the same size
    np.testing.assert_allclose(first.state_dict()["weight"].numpy(), (w0 - first_ref.weight.grad).numpy(),
                               rtol=0, atol=1e-5)
