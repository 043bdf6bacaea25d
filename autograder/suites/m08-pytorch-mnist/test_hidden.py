"""Hidden tests for Milestone 8.

The grader trains the student's model with the student's train_model, sends the held-out MNIST test
IMAGES (never the labels) to predict(), and computes the accuracy here. On a GPU (device fixture
"cuda") the full 3-epoch run is graded (@gpu); without CUDA its @cpu_smoke twin runs one epoch of all
60,000 images on one core instead, with the same > 98 % bar. The training mechanics (Adam, the one-cycle
schedule stepped per batch, zero_grad, the seed) are checked against an oracle run here.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from sklearn.metrics import precision_score, recall_score

from coursekit_student.testing import cpu_smoke, forbid, gpu, hint, kit, part, points, timeout

MEAN, STD = 0.1307, 0.3081


def random_images(rng, n):
    return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)


# ================================================================ data_pipeline (7 hidden)
@part("data_pipeline")
@points(3)
@hint("Every item must be standardised with MNIST_MEAN/MNIST_STD after dividing by 255, as float32 of "
      "shape (1, 28, 28), with an int64 label (whatever the labels' integer dtype); with labels=None an item is the "
      "image tensor alone.")
def test_dataset_items(submission, rng):
    images, labels = random_images(rng, 20), rng.integers(10, size=20)
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    ds = submission.MNISTDataset(images, labels)
    for i in (0, 7, 19):
        x, y = ds[i]
        assert str(x.dtype) == "torch.float32" and tuple(x.shape) == (1, 28, 28)
        assert str(y.dtype) == "torch.int64" and int(y) == labels[i]
        # float32 arithmetic on values of order 1: 1e-6
        np.testing.assert_allclose(x.numpy()[0], (images[i] / 255.0 - MEAN) / STD, rtol=1e-6, atol=1e-6)
    x = submission.MNISTDataset(images)[5]
    assert tuple(x.shape) == (1, 28, 28)
    # labels of another integer dtype (MNIST's own are uint8) still give int64 labels
    y = submission.MNISTDataset(images, labels.astype(np.uint8))[3][1]
    assert str(y.dtype) == "torch.int64" and int(y) == labels[3]
    np.testing.assert_allclose(x.numpy()[0], (images[5] / 255.0 - MEAN) / STD, rtol=1e-6, atol=1e-6)


@part("data_pipeline")
@points(1)
@hint("MNISTDataset must raise ValueError when images and labels differ in length.")
def test_dataset_length_mismatch(submission, rng):
    with pytest.raises(ValueError):
        submission.MNISTDataset(random_images(rng, 5), np.zeros(4, dtype=int))


@part("data_pipeline")
@points(3)
@hint("make_loader: every example exactly once per epoch, batches of batch_size (the last may be smaller), "
      "shuffled with a torch.Generator seeded by `seed` (same seed, same order), in order when shuffle=False.")
def test_loader_batches_and_shuffling(submission, rng):
    n = 50
    images, ids = random_images(rng, n), np.arange(n)     # labels = example ids, to follow each example

    def order(**kwargs):
        batches = list(submission.make_loader(images, ids, batch_size=8, **kwargs))
        assert [len(b[1]) for b in batches] == [8] * 6 + [2]
        return np.concatenate([b[1].numpy() for b in batches])

    np.testing.assert_array_equal(order(shuffle=False), ids)
    shuffled = order(shuffle=True, seed=3)
    assert sorted(shuffled.tolist()) == ids.tolist() and not np.array_equal(shuffled, ids)
    np.testing.assert_array_equal(order(shuffle=True, seed=3), shuffled)
    assert not np.array_equal(order(shuffle=True, seed=4), shuffled)


# ================================================================ model (8 hidden)
@part("model")
@points(2)
@hint("The model must accept any batch size and return float32 logits of shape (B, 10).")
def test_model_shapes(submission, rng):
    model = submission.build_model()
    model.eval()
    for b in (1, 5):
        out = model(torch.tensor(rng.normal(size=(b, 1, 28, 28)), dtype=torch.float32))
        assert tuple(out.shape) == (b, 10) and str(out.dtype) == "torch.float32"


@part("model")
@points(2)
@hint("Use batch normalisation: in eval mode a prediction must not depend on the other images of the batch.")
def test_eval_mode_is_batch_independent(submission, rng):
    model = submission.build_model()
    model.train()
    warm = torch.tensor(rng.normal(size=(16, 1, 28, 28)), dtype=torch.float32)
    model(warm)                       # one train-mode pass updates the running statistics
    model.eval()
    x = torch.tensor(rng.normal(size=(6, 1, 28, 28)), dtype=torch.float32)
    together = model(x).detach().numpy()
    alone = model(x[:1]).detach().numpy()
    # float32 convolutions, same numbers, different batch shapes: 1e-4
    np.testing.assert_allclose(alone, together[:1], rtol=1e-4, atol=1e-4)


@part("model")
@points(2)
@hint("Put Dropout(0.25) in the classifier head, between the two Linear layers: in train mode two passes over the "
      "same batch must differ, and the logits themselves (the output of the last Linear) are never dropped.")
def test_dropout_active_in_train_mode(submission, rng):
    model = submission.build_model()
    model.train()
    x = torch.tensor(rng.normal(size=(8, 1, 28, 28)), dtype=torch.float32)
    a, b = model(x).detach().numpy(), model(x).detach().numpy()
    assert not np.allclose(a, b)
    # the last layer is Linear(128, 10) with a bias: a logit is exactly 0 with probability 0, while dropout
    # applied to the logits zeroes a quarter of them (20 of these 80 on average)
    assert np.mean(a == 0) < 0.05 and np.mean(b == 0) < 0.05
    model.eval()
    np.testing.assert_allclose(model(x).detach().numpy(), model(x).detach().numpy())
    # the rate is the text's 0.25: with Linear(1568, 128) set to weight 0, bias 1 every hidden unit is exactly 1
    # before the dropout, and Linear(128, 10) set to [I | 0] passes the first 10 units out, so in train mode every
    # logit is 0 (dropped) or 1 / (1 - 0.25) = 4/3 (kept, rescaled). Layers found by shape, any names.
    state = {k: torch.as_tensor(v) for k, v in model.state_dict().items()}
    fc1 = [k for k, v in state.items() if k.endswith("weight") and tuple(v.shape) == (128, 32 * 7 * 7)]
    fc2 = [k for k, v in state.items() if k.endswith("weight") and tuple(v.shape) == (10, 128)]
    if len(fc1) == 1 and len(fc2) == 1 and fc1[0][:-6] + "bias" in state:   # (else part 2's test charges it)
        new = {fc1[0]: torch.zeros(128, 32 * 7 * 7), fc1[0][:-6] + "bias": torch.ones(128),
               fc2[0]: torch.cat([torch.eye(10), torch.zeros(10, 118)], dim=1)}
        if fc2[0][:-6] + "bias" in state:
            new[fc2[0][:-6] + "bias"] = torch.zeros(10)
        model.load_state_dict(new, strict=False)
        model.train()
        out = model(torch.tensor(rng.normal(size=(64, 1, 28, 28)), dtype=torch.float32)).detach().numpy()
        dropped = np.abs(out) < 1e-6
        assert bool(np.all(dropped | (np.abs(out - 4 / 3) < 1e-5))), "Dropout(0.25): kept units are scaled by 4/3"
        # 640 units, each dropped with probability 0.25 (std of the rate 0.017): outside [0.15, 0.35] ~1e-8
        assert 0.15 < float(dropped.mean()) < 0.35


def architecture_oracle(state, x):
    """The architecture of the text, run here in eval mode with the student's own parameters.

    Layers are found by their shapes (whatever the student named them): conv weights (16, 1, 3, 3) and
    (32, 16, 3, 3), BatchNorm statistics of 16 and 32 channels, Linear weights (128, 1568) and (10, 128).
    A missing bias counts as zero (Conv2d(..., bias=False) before a BatchNorm is a correct variant)."""
    by_shape = {}
    for key, value in state.items():
        if key.endswith("running_mean"):
            prefix = key[: -len("running_mean")]
            n = int(value.numel())
            by_shape[("bn", n)] = tuple(torch.as_tensor(state.get(prefix + name, default)).float() for name, default
                                        in (("running_mean", None), ("running_var", None),
                                            ("weight", torch.ones(n)), ("bias", torch.zeros(n))))
        elif key.endswith("weight") and value.dim() in (2, 4):
            bias = state.get(key[: -len("weight")] + "bias")
            bias = torch.zeros(value.shape[0]) if bias is None else torch.as_tensor(bias).float()
            by_shape[tuple(value.shape)] = (torch.as_tensor(value).float(), bias)
    need = [(16, 1, 3, 3), (32, 16, 3, 3), ("bn", 16), ("bn", 32), (128, 32 * 7 * 7), (10, 128)]
    assert all(k in by_shape for k in need), "layers of the text not found"
    h = x
    for conv, bn in (((16, 1, 3, 3), ("bn", 16)), ((32, 16, 3, 3), ("bn", 32))):
        mean, var, gamma, beta = by_shape[bn]
        h = F.conv2d(h, *by_shape[conv], padding=1)
        h = F.max_pool2d(F.relu(F.batch_norm(h, mean, var, gamma, beta, training=False, eps=1e-5)), 2)
    h = F.relu(F.linear(h.flatten(1), *by_shape[(128, 32 * 7 * 7)]))
    return F.linear(h, *by_shape[(10, 128)])


@part("model")
@points(2)
@hint("Follow the architecture exactly: Conv2d(1, 16, 3, padding=1) -> BatchNorm2d(16) -> ReLU -> MaxPool2d(2), "
      "Conv2d(16, 32, 3, padding=1) -> BatchNorm2d(32) -> ReLU -> MaxPool2d(2), Flatten -> Linear(32*7*7, 128) -> "
      "ReLU -> Dropout -> Linear(128, 10), in this order.")
def test_architecture_matches_the_text(submission, rng):
    """Random parameters and BatchNorm statistics are loaded into the student's model (found by shape, so any
    names work); its eval-mode logits must equal the text's architecture computed here with the same numbers."""
    model = submission.build_model()
    state = model.state_dict()
    n_params = sum(int(v.numel()) for k, v in state.items()
                   if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
    assert 200_000 <= n_params <= 210_000          # the text's network: 207,018 (206,970 without conv biases)
    new = {}
    for key, value in state.items():
        value = torch.as_tensor(value)
        if not value.is_floating_point():
            new[key] = value
        elif key.endswith("running_var"):
            new[key] = torch.tensor(rng.uniform(0.5, 2.0, size=tuple(value.shape)), dtype=torch.float32)
        else:       # order-1 activations through every layer: conv weights of fan-in 9/144, linear of 1568/128
            scale = 0.5 if key.endswith("running_mean") or value.dim() == 1 else 1.5 / np.sqrt(value[0].numel())
            new[key] = torch.tensor(rng.normal(0, scale, size=tuple(value.shape)), dtype=torch.float32)
    model.load_state_dict(new)
    model.eval()
    x = torch.tensor(rng.normal(0.3, 1.0, size=(6, 1, 28, 28)), dtype=torch.float32)
    got = model(x).detach().numpy()
    with torch.no_grad():
        expected = architecture_oracle(new, x).numpy()
    # float32 convolutions and sums of up to 1568 order-1 terms, the same operations in another module: 1e-4
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


# ================================================================ training (27 hidden on each device)
# (test_train_model_applies_its_seed, below with the reproducibility tests, is a training test too: it
# checks that train_model calls set_seed, which `course mutate` grades on the training part)
@part("training")
@points(2)
@hint("predict must return an int64 NumPy array (not a tensor), switch to eval mode (dropout off, BatchNorm "
      "running statistics) and give the same labels whatever its batch_size.")
def test_predict_is_deterministic_and_batch_independent(submission, rng):
    model = submission.build_model()
    images = random_images(rng, 37)
    raw = submission.predict(model, images, device="cpu", batch_size=10)
    assert isinstance(raw, np.ndarray) and raw.dtype == np.int64        # the docstring: an int64 NumPy array
    a = np.asarray(raw)
    b = np.asarray(submission.predict(model, images, device="cpu", batch_size=37))
    c = np.asarray(submission.predict(model, images, device="cpu"))
    assert a.shape == (37,)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


@part("training")
@points(1)
@hint("train_model must actually fit the data: zero_grad, forward, cross-entropy, backward, step, over shuffled batches.")
@timeout(120)
def test_training_fits_a_small_set(submission, mnist):
    x, y = mnist["train"][0][:256], mnist["train"][1][:256]
    model = submission.train_model(submission.build_model(), x, y, epochs=3, batch_size=32, device="cpu", seed=1)
    accuracy = float(np.mean(np.asarray(submission.predict(model, x, device="cpu")) == y))
    assert accuracy > 0.8     # the reference fits these 256 images to > 0.95 in 3 epochs (24 steps)


def oracle_training(weight, bias, images, labels, epochs, batch_size, lr):
    """The documented recipe, run here on a linear model: Adam(lr), OneCycleLR(max_lr=3*lr, epochs,
    steps_per_epoch=ceil(N/batch_size)) stepped after every optimizer.step(), mean cross-entropy."""
    w, b = torch.tensor(weight, requires_grad=True), torch.tensor(bias, requires_grad=True)
    x = ((torch.from_numpy(images).float() / 255.0 - MEAN) / STD).reshape(len(images), -1)
    y = torch.from_numpy(labels).long()
    optimizer = torch.optim.Adam([w, b], lr=lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3 * lr, epochs=epochs,
                                                    steps_per_epoch=-(-len(x) // batch_size))
    for _ in range(epochs):
        for start in range(0, len(x), batch_size):
            loss = F.cross_entropy(x[start:start + batch_size] @ w.T + b, y[start:start + batch_size])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
    return w.detach().numpy(), b.detach().numpy()


@part("training")
@points(2)
@hint("train_model must follow the documented recipe step by step: Adam(lr=lr), OneCycleLR(max_lr=3*lr, epochs, "
      "steps_per_epoch=ceil(N/batch_size)) stepped once after every optimizer.step(), zero_grad every step, "
      "mean cross-entropy of each batch.")
def test_training_steps_match_oracle(submission, mnist):
    """The student's train_model on a linear model built here, against the same steps run in this process.

    The batch order is the student's choice (any seeded shuffle), so the cases are order-free: one batch per
    epoch (case 1), and a set of identical examples whose every batch has the same gradient (case 2, 3
    batches per epoch, the last one of size 1 — the schedule's length and per-batch stepping show)."""
    images, labels = mnist["train"]
    cases = [(images[:64], labels[:64], 8, 64),
             (np.repeat(images[100:101], 9, axis=0), np.repeat(labels[100:101], 9), 4, 4)]
    rng = np.random.default_rng(0)
    for x, y, epochs, batch_size in cases:
        weight = rng.normal(0, 0.03, size=(10, 784)).astype(np.float32)
        bias = rng.normal(0, 0.03, size=10).astype(np.float32)
        nn = submission.torch.nn
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
        model.load_state_dict({"1.weight": torch.from_numpy(weight), "1.bias": torch.from_numpy(bias)})
        model = submission.train_model(model, x, y, epochs=epochs, batch_size=batch_size, lr=0.05, device="cpu",
                                       seed=3)
        state = model.state_dict()
        expected_w, expected_b = oracle_training(weight, bias, x, y, epochs, batch_size, 0.05)
        # float32 sums of the same batch in another order: the reference differs by < 1e-6; the plausible
        # mistakes (no zero_grad, schedule stepped per epoch or one step early, max_lr=lr) by > 9e-3
        np.testing.assert_allclose(state["1.weight"].numpy(), expected_w, rtol=0, atol=2e-5)
        np.testing.assert_allclose(state["1.bias"].numpy(), expected_b, rtol=0, atol=2e-5)


# ================================================================ metrics (8 hidden)
@part("metrics")
@points(3)
@hint("confusion_matrix[i, j] counts examples of true class i predicted as j (a (K, K) integer array).")
@forbid("sklearn")
def test_confusion_matrix_random(submission, rng):
    for k, n in [(10, 500), (4, 3), (7, 0)]:
        y_true, y_pred = rng.integers(k, size=n), rng.integers(k, size=n)
        cm = np.asarray(submission.confusion_matrix(y_true, y_pred, num_classes=k))
        expected = sk_confusion_matrix(y_true, y_pred, labels=np.arange(k)) if n else np.zeros((k, k))
        np.testing.assert_array_equal(cm, expected)
        assert cm.dtype.kind == "i"


@part("metrics")
@points(3)
@hint("precision_k = C[k,k] / column sum, recall_k = C[k,k] / row sum, and 0 where the sum is 0.")
@forbid("sklearn")
def test_precision_recall_random_with_missing_classes(submission, rng):
    y_true = rng.integers(5, size=200)
    y_pred = np.where(rng.random(200) < 0.7, y_true, rng.integers(5, size=200))
    y_pred[y_pred == 3] = 2           # class 3 is never predicted: its precision is 0/0 -> 0
    y_true[y_true == 4] = 0           # class 4 never occurs: its recall is 0/0 -> 0
    cm = sk_confusion_matrix(y_true, y_pred, labels=np.arange(5))
    precision, recall = submission.precision_recall(cm)
    labels = np.arange(5)
    np.testing.assert_allclose(precision, precision_score(y_true, y_pred, labels=labels, average=None,
                                                          zero_division=0), rtol=1e-12)
    np.testing.assert_allclose(recall, recall_score(y_true, y_pred, labels=labels, average=None,
                                                    zero_division=0), rtol=1e-12)
    # classes predicted exactly once and present exactly once: a denominator of 1 is not undefined
    y_true, y_pred = np.array([0, 1, 2, 2, 2, 3]), np.array([0, 2, 1, 2, 2, 2])
    cm = sk_confusion_matrix(y_true, y_pred, labels=np.arange(4))
    precision, recall = submission.precision_recall(cm)
    np.testing.assert_allclose(precision, precision_score(y_true, y_pred, labels=np.arange(4), average=None,
                                                          zero_division=0), rtol=1e-12)
    np.testing.assert_allclose(recall, recall_score(y_true, y_pred, labels=np.arange(4), average=None,
                                                    zero_division=0), rtol=1e-12)


@part("metrics")
@points(2)
@hint("confusion_matrix must raise ValueError for arrays of different lengths or labels outside 0..K-1.")
@forbid("sklearn")
def test_confusion_matrix_errors(submission):
    with pytest.raises(ValueError):
        submission.confusion_matrix([0, 1, 2], [0, 1], num_classes=3)
    with pytest.raises(ValueError):
        submission.confusion_matrix([0, 1, 3], [0, 1, 2], num_classes=3)
    with pytest.raises(ValueError):
        submission.confusion_matrix([0, 1, 2], [0, -1, 2], num_classes=3)
    # lengths 3 and 1 (and 1 and 3) broadcast in NumPy: the length check itself must reject them
    with pytest.raises(ValueError):
        submission.confusion_matrix([0, 1, 2], [1], num_classes=3)
    with pytest.raises(ValueError):
        submission.confusion_matrix([1], [0, 1, 2], num_classes=3)
    # a predicted label equal to num_classes is outside 0..K-1 even where y_true * K + y_pred stays < K * K
    with pytest.raises(ValueError):
        submission.confusion_matrix([0, 1], [3, 1], num_classes=3)
    with pytest.raises(ValueError):
        submission.confusion_matrix([3, 1], [0, 1], num_classes=3)


# ================================================================ reproducibility (8 hidden)
def state_arrays(model):
    return {k: v.numpy() for k, v in model.state_dict().items()}


@part("reproducibility")
@points(3)
@hint("After set_seed(s), build_model() must give the same initial weights every time (torch.manual_seed).")
def test_same_seed_same_initial_weights(submission):
    submission.set_seed(11)
    a = state_arrays(submission.build_model())
    submission.set_seed(11)
    b = state_arrays(submission.build_model())
    submission.set_seed(12)
    c = state_arrays(submission.build_model())
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not all(np.array_equal(a[k], c[k]) for k in a if a[k].dtype.kind == "f")


@part("reproducibility")
@points(2)
@hint("Two CPU trainings with the same seed (and the same initial model) must end with identical weights: "
      "seed the shuffling and every random draw from `seed`.")
@timeout(120)
def test_same_seed_same_trained_weights(submission, mnist):
    x, y = mnist["train"][0][:256], mnist["train"][1][:256]
    runs = []
    for _ in range(2):
        submission.set_seed(5)
        model = submission.train_model(submission.build_model(), x, y, epochs=1, batch_size=32, device="cpu", seed=7)
        runs.append(state_arrays(model))
    for k in runs[0]:
        np.testing.assert_array_equal(runs[0][k], runs[1][k])


@part("training")
@points(1)
@hint("train_model must call set_seed(seed) first and put the model in training mode (model.train()): its result may "
      "depend on `seed` only, not on the state the global generators were left in before the call, nor on whether "
      "the model was in eval mode.")
@timeout(120)
def test_train_model_applies_its_seed(submission, mnist):
    x, y = mnist["train"][0][:256], mnist["train"][1][:256]
    runs = []
    for seed, outside, eval_first in ((7, 100, False), (7, 200, True), (8, 100, False)):
        submission.set_seed(5)
        model = submission.build_model()               # the same initial weights for all three runs
        if eval_first:
            model.eval()                               # e.g. after a predict(): train_model must switch back
        submission.set_seed(outside)                   # whatever ran before train_model must not matter
        model = submission.train_model(model, x, y, epochs=1, batch_size=32, device="cpu", seed=seed)
        runs.append(state_arrays(model))
    for k in runs[0]:
        np.testing.assert_array_equal(runs[0][k], runs[1][k])
    assert not all(np.array_equal(runs[0][k], runs[2][k]) for k in runs[0] if runs[0][k].dtype.kind == "f")


@part("training")
@points(1)
@hint("Every epoch must visit each example exactly once, in a fresh shuffled order (drawn from `seed`), in batches "
      "of batch_size (the last may be smaller), with the model in training mode.")
def test_every_epoch_visits_each_example_once(submission, mnist):
    """A BatchNorm1d(784, momentum=None) in front of a linear model keeps the plain average of its batch means,
    whatever the order: with 8 examples in batches of 4, each epoch's two batch means average to the mean of the
    8 inputs exactly when the batches split the set in two. num_batches_tracked counts the steps (2 per epoch)."""
    images = mnist["train"][0][200:208]
    nn = submission.torch.nn
    model = nn.Sequential(nn.Flatten(), nn.BatchNorm1d(784, momentum=None), nn.Linear(784, 10))
    model.eval()                                       # train_model must switch to training mode itself
    model = submission.train_model(model, images, mnist["train"][1][200:208], epochs=2, batch_size=4, lr=0.01,
                                   device="cpu", seed=1)
    state = model.state_dict()
    expected = ((images.astype(np.float64) / 255.0 - MEAN) / STD).reshape(8, -1).mean(axis=0)
    assert int(state["1.num_batches_tracked"]) == 4
    # float32 means of 4 values of order 1, averaged over 4 batches: 1e-5
    np.testing.assert_allclose(state["1.running_mean"].numpy(), expected, rtol=0, atol=1e-5)
    # a fresh order every epoch (the docstring): a BatchNorm1d with momentum=1.0 keeps the mean of the LAST batch
    # it saw. Epoch 1 is the same in a 1-epoch and a 2-epoch run with the same seed; the last batch of epoch 2
    # (8 of 64 examples) is the last batch of epoch 1 again only if the order was not drawn afresh (a new draw
    # repeats that set with probability 1 / C(64, 8) ~ 2e-10)
    images = mnist["train"][0][300:364]
    last = []
    for epochs in (1, 2):
        model = nn.Sequential(nn.Flatten(), nn.BatchNorm1d(784, momentum=1.0), nn.Linear(784, 10))
        model = submission.train_model(model, images, mnist["train"][1][300:364], epochs=epochs, batch_size=8,
                                       lr=0.01, device="cpu", seed=2)
        last.append(model.state_dict()["1.running_mean"].numpy())
    assert not np.allclose(last[0], last[1], rtol=0, atol=1e-6), "every epoch draws a fresh order"


@part("reproducibility")
@points(3)
@hint("set_seed must also seed NumPy's global generator and Python's random module.")
def test_numpy_and_random_are_seeded(submission):
    draws = []
    for _ in range(2):
        submission.set_seed(99)
        draws.append((submission.np.random.rand(3), submission.random.random()))
    np.testing.assert_array_equal(draws[0][0], draws[1][0])
    assert draws[0][1] == draws[1][1]


# ================================================================ training: the graded accuracy (last: the
# slowest tests of the suite run after every cheap one)
def graded_training(submission, mnist, device, n_train, epochs, batch_size, budget, seed):
    (x_train, y_train), (x_test, y_test) = mnist["train"], mnist["test"]
    with kit(submission).deadline(budget):
        model = submission.train_model(submission.build_model(), x_train[:n_train], y_train[:n_train],
                                       epochs=epochs, batch_size=batch_size, device=device, seed=seed)
    with kit(submission).deadline(budget):
        pred = np.asarray(submission.predict(model, x_test, device=device))   # images only
    return float(np.mean(pred == y_test))


@part("training")
@points(20)
@gpu
@hint("On the GPU, train_model on all 60,000 images (3 epochs) must give > 98% test accuracy within 120 s "
      "per call: move the model and batches to `device`, call model.eval() in predict.")
@timeout(400)
def test_mnist_accuracy_gpu(submission, mnist, device, record_metric, credit):
    accuracy = graded_training(submission, mnist, device, 60_000, 3, 128, budget=120, seed=0)
    record_metric("mnist_test_accuracy", accuracy, threshold=0.98, higher_is_better=True)
    if accuracy > 0.95:
        credit.award(0.5, f"test accuracy {accuracy:.4f} is above 0.95 but not 0.98")
    assert accuracy > 0.98
    credit.award(1.0)


@part("training")
@points(20)
@cpu_smoke
@hint("On one CPU core, train_model on all 60,000 training images for one epoch (batch 128) must give > 98% "
      "on the 10,000 test images within 450 s per call: the default Adam + one-cycle recipe does it.")
@timeout(1000)
def test_mnist_accuracy_cpu(submission, mnist, device, record_metric, credit):
    # The roadmap's > 98 % on the CPU path too (issue 14). The reference: 0.9868-0.9870 over seeds 0-4 in
    # 20-27 CPU-s of training (one thread) — reference/m08-pytorch-mnist/cpu.json. The deadline is wall
    # time, so it is a safety net sized for a badly overloaded machine, not a speed requirement: sandboxed
    # runs of the reference hit a 150 s deadline (load average 15 on 2 cores) and a 300 s one twice (load
    # 10-35, other graders running); the worker's CPU-time limit stops a real runaway. 1 point of 2 %
    # error is half the error budget, so 0.98 is a real bar.
    accuracy = graded_training(submission, mnist, "cpu", 60_000, 1, 128, budget=450, seed=0)
    record_metric("mnist_cpu_test_accuracy", accuracy, threshold=0.98, higher_is_better=True)
    if accuracy > 0.95:
        credit.award(0.5, f"test accuracy {accuracy:.4f} is above 0.95 but not 0.98")
    assert accuracy > 0.98
    credit.award(1.0)
