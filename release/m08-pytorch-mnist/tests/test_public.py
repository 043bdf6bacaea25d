"""Public tests for Milestone 8 (run by check("<part>") in your notebook and by the grader)."""
import numpy as np
import pytest

from coursekit_student.testing import hint, part, points


def tiny_images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)


@part("data_pipeline")
@points(3)
@hint("Item i is ((pixel/255 - 0.1307)/0.3081 as float32 of shape (1, 28, 28), int64 label); the loader "
      "batches them into (B, 1, 28, 28) and (B,).")
def test_dataset_and_loader_shapes(submission):
    images, labels = tiny_images(10), np.arange(10) % 10
    ds = submission.MNISTDataset(images, labels)
    assert len(ds) == 10
    x, y = ds[3]
    assert tuple(x.shape) == (1, 28, 28) and str(x.dtype) == "torch.float32" and int(y) == 3
    np.testing.assert_allclose(x.numpy()[0], (images[3] / 255 - 0.1307) / 0.3081, rtol=1e-5, atol=1e-6)
    loader = submission.make_loader(images, labels, batch_size=4)
    assert len(loader) == 3
    batches = list(loader)
    assert tuple(batches[0][0].shape) == (4, 1, 28, 28) and tuple(batches[-1][1].shape) == (2,)


@part("model")
@points(2)
@hint("build_model() maps (B, 1, 28, 28) float32 images to (B, 10) logits.")
def test_model_output_shape(submission):
    import torch

    model = submission.build_model()
    model.eval()
    out = model(torch.zeros(3, 1, 28, 28))
    assert tuple(out.shape) == (3, 10)


@part("training")
@points(3)
@hint("train_model returns the trained model; predict returns an (N,) int array of labels 0..9.")
def test_train_and_predict_small(submission):
    images, labels = tiny_images(64, seed=1), np.arange(64) % 10
    model = submission.train_model(submission.build_model(), images, labels, epochs=1, batch_size=32,
                                   device="cpu", seed=0)
    pred = np.asarray(submission.predict(model, images[:10], device="cpu"))
    assert pred.shape == (10,) and pred.dtype.kind == "i"
    assert pred.min() >= 0 and pred.max() <= 9


@part("metrics")
@points(2)
@hint("Rows are true classes, columns predicted; precision divides the diagonal by column sums, recall by row sums.")
def test_confusion_matrix_worked_example(submission):
    cm = np.asarray(submission.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], num_classes=3))
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    precision, recall = submission.precision_recall(cm)
    np.testing.assert_allclose(precision, [0.5, 0.5, 1.0])
    np.testing.assert_allclose(recall, [0.5, 1.0, 2 / 3])


@part("reproducibility")
@points(2)
@hint("set_seed(s) must seed torch (torch.manual_seed), NumPy (np.random.seed) and random (random.seed).")
def test_set_seed_makes_torch_repeat(submission):
    submission.set_seed(123)
    a = submission.torch.rand(4)
    submission.set_seed(123)
    b = submission.torch.rand(4)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
