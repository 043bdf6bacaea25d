"""Public tests for Milestone 9 (run by check("<part>") in your notebook and by the grader)."""
import numpy as np
import torch
import torch.nn.functional as F

from coursekit_student.testing import hint, part, points


@part("conv")
@points(2)
@hint("conv2d_naive and conv2d_im2col must both equal F.conv2d(x, w, b, stride, padding); "
      "OH = (H + 2*padding - KH)//stride + 1.")
def test_conv_worked_example(submission):
    x = torch.arange(2 * 5 * 5, dtype=torch.float64).reshape(1, 2, 5, 5) / 10
    w = torch.ones(3, 2, 3, 3, dtype=torch.float64)
    b = torch.tensor([0.0, 1.0, -1.0], dtype=torch.float64)
    expected = F.conv2d(x, w, b, stride=2, padding=1)
    for fn in (submission.conv2d_naive, submission.conv2d_im2col):
        out = fn(x, w, b, stride=2, padding=1)
        assert tuple(out.shape) == (1, 3, 3, 3)
        np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)


@part("pool")
@points(2)
@hint("2x2 max-pooling of the worked example gives [[3, 3], [2, 5]]; ties send the gradient to the first "
      "maximum in row-major order; receptive_field([(3,1),(2,2),(3,1),(2,2)]) is (10, 4).")
def test_pool_worked_example(submission):
    x = torch.tensor([[[[1., 3, 3, 0], [2, 0, 1, 1], [0, 0, 5, 5], [1, 2, 5, 4]]]])
    np.testing.assert_array_equal(submission.maxpool2d_forward(x).numpy()[0, 0], [[3, 3], [2, 5]])
    dx = submission.maxpool2d_backward(torch.ones(1, 1, 2, 2), x).numpy()[0, 0]
    np.testing.assert_array_equal(dx, [[0, 1, 1, 0], [0, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0]])
    assert tuple(submission.receptive_field([(3, 1), (2, 2), (3, 1), (2, 2)])) == (10, 4)


@part("residual")
@points(2)
@hint("ResidualBlock(8, 16, stride=2) maps (2, 8, 14, 14) to (2, 16, 7, 7); ResidualBlock(8, 8) keeps the shape.")
def test_residual_shapes(submission):
    assert tuple(submission.ResidualBlock(8, 16, stride=2)(torch.randn(2, 8, 14, 14)).shape) == (2, 16, 7, 7)
    assert tuple(submission.ResidualBlock(8, 8)(torch.randn(2, 8, 6, 6)).shape) == (2, 8, 6, 6)


@part("transfer")
@points(3)
@hint("few_labels picks the first per_class indices of each class, class 0 first; the classifier maps "
      "(B, 1, 28, 28) to (B, 10) logits.")
def test_transfer_interface(submission):
    labels = np.array([1, 0, 1, 2, 0, 2, 1, 0, 2])
    np.testing.assert_array_equal(submission.few_labels(labels, 2, num_classes=3), [1, 4, 0, 2, 3, 5])
    model = submission.make_classifier(submission.build_backbone())
    out = model(torch.zeros(3, 1, 28, 28))
    assert tuple(out.shape) == (3, 10)


@part("augment")
@points(2)
@hint("random_crop and random_hflip return new tensors of the input's shape; padding 0 or p = 0 changes nothing.")
def test_augment_shapes(submission):
    x = torch.randn(4, 1, 6, 6)
    assert tuple(submission.random_crop(x, 2, seed=0).shape) == (4, 1, 6, 6)
    np.testing.assert_array_equal(submission.random_crop(x, 0, seed=0).numpy(), x.numpy())
    np.testing.assert_array_equal(submission.random_hflip(x, 0.0, seed=0).numpy(), x.numpy())
    np.testing.assert_array_equal(submission.random_hflip(x, 1.0, seed=0).numpy(), x.flip(-1).numpy())


@part("detection")
@points(2)
@hint("IoU of (0,0,10,10) and (1,1,11,11) is 81/119; nms keeps [0, 2] in the worked example.")
def test_detection_worked_example(submission):
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10]], dtype=float)
    np.testing.assert_allclose(submission.box_iou(boxes[:2], boxes[:2]), [[1, 81 / 119], [81 / 119, 1]])
    np.testing.assert_array_equal(submission.nms(boxes, np.array([0.9, 0.8, 0.7, 0.9]), 0.5), [0, 2])


@part("predict")
@points(2)
@hint("predict returns an (N,) int array of labels 0..9.")
def test_predict_shape(submission):
    model = submission.make_classifier(submission.build_backbone())
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    pred = np.asarray(submission.predict(model, images))
    assert pred.shape == (5,) and pred.dtype.kind == "i" and pred.min() >= 0 and pred.max() <= 9
