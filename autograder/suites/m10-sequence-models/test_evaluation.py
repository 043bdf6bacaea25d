"""Hidden tests, part `evaluation`: precision, recall, F1, confusion matrix and macro-F1 against scikit-learn."""

import numpy as np
from sklearn import metrics

from coursekit_student.testing import forbid, hint, part, points


@part("evaluation")
@points(3)
@hint("TP, FP and FN of the positive label; precision TP/(TP+FP), recall TP/(TP+FN), F1 = 2PR/(P+R).")
@forbid("sklearn")
def test_precision_recall_f1_random(submission, rng):
    for n, k in ((50, 2), (200, 3), (7, 4)):
        y_true, y_pred = rng.integers(0, k, size=n), rng.integers(0, k, size=n)
        for positive in range(k):
            got = submission.precision_recall_f1(y_true.tolist(), y_pred.tolist(), positive=positive)
            expected = metrics.precision_recall_fscore_support(y_true, y_pred, labels=[positive], zero_division=0)[:3]
            # exact ratios of small integers: 1e-12 is rounding only
            np.testing.assert_allclose(np.asarray(got, dtype=float), [e[0] for e in expected], atol=1e-12)
    words_true, words_pred = ["spam", "ham", "ham", "spam", "ham"], ["spam", "spam", "ham", "ham", "ham"]
    got = submission.precision_recall_f1(words_true, words_pred, positive="spam")
    np.testing.assert_allclose(np.asarray(got, dtype=float), [0.5, 0.5, 0.5], atol=1e-12)


@part("evaluation")
@points(1)
@hint("A ratio whose denominator is 0 is 0.0 (no positive predictions: precision 0; no positive examples: recall 0).")
@forbid("sklearn")
def test_precision_recall_f1_zero_division(submission):
    assert tuple(float(v) for v in submission.precision_recall_f1([1, 1, 0], [0, 0, 0])) == (0.0, 0.0, 0.0)
    assert tuple(float(v) for v in submission.precision_recall_f1([0, 0, 0], [1, 0, 0])) == (0.0, 0.0, 0.0)
    assert tuple(float(v) for v in submission.precision_recall_f1([0, 0], [0, 0])) == (0.0, 0.0, 0.0)


@part("evaluation")
@points(3)
@hint("Rows are true labels, columns predicted labels, both in the order of `labels`; labels outside it are not counted.")
@forbid("sklearn")
def test_confusion_matrix_random(submission, rng):
    y_true, y_pred = rng.integers(0, 4, size=300), rng.integers(0, 4, size=300)
    for labels in ([0, 1, 2, 3], [3, 1, 0, 2], [2, 0]):
        got = np.asarray(submission.confusion_matrix(y_true.tolist(), y_pred.tolist(), labels))
        np.testing.assert_array_equal(got, metrics.confusion_matrix(y_true, y_pred, labels=labels))
    names = ["ham", "spam"]
    got = submission.confusion_matrix(["ham", "spam", "spam"], ["spam", "spam", "ham"], names)
    np.testing.assert_array_equal(np.asarray(got), [[0, 1], [1, 1]])


@part("evaluation")
@points(2)
@hint("Macro-F1: the plain mean of the F1 of every label in `labels` (a label never predicted contributes 0).")
@forbid("sklearn")
def test_macro_f1(submission, rng):
    y_true = rng.integers(0, 3, size=120)
    y_pred = np.where(rng.random(120) < 0.6, y_true, rng.integers(0, 3, size=120))
    y_pred[y_pred == 2] = 1                       # label 2 is never predicted
    got = submission.macro_f1(y_true.tolist(), y_pred.tolist(), [0, 1, 2])
    expected = metrics.f1_score(y_true, y_pred, labels=[0, 1, 2], average="macro", zero_division=0)
    np.testing.assert_allclose(float(got), expected, atol=1e-12)
    got = submission.macro_f1(y_true.tolist(), y_pred.tolist(), [1, 0])
    np.testing.assert_allclose(float(got), metrics.f1_score(y_true, y_pred, labels=[1, 0], average="macro"), atol=1e-12)
