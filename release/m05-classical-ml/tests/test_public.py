"""Public tests of m05-classical-ml: shapes and small worked examples (the grader adds hidden tests)."""

import numpy as np

from coursekit_student.testing import forbid, hint, part, points

# The grader switches scikit-learn and SciPy off inside your functions: write them with NumPy.
LIBRARIES = ("sklearn", "scipy")


@part("linear_regression")
@points(3)
@hint("On points exactly on y = 2x + 1 every method must recover w = [2], b = 1 (ridge/lasso with tiny penalties).")
@forbid(*LIBRARIES)
def test_linear_regression_on_a_line(submission):
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = 2.0 * X[:, 0] + 1.0
    w, b = submission.fit_linear(X, y)
    # an exact fit: only rounding of a 2x2 solve (1e-10 is generous)
    np.testing.assert_allclose(w, [2.0], atol=1e-10)
    np.testing.assert_allclose(b, 1.0, atol=1e-10)
    w, b, losses = submission.fit_linear_gd(X, y, lr=0.1, epochs=2000)
    assert len(losses) == 2000 and losses[-1] < losses[0]
    np.testing.assert_allclose(w, [2.0], atol=1e-6)  # GD converges geometrically here
    np.testing.assert_allclose(b, 1.0, atol=1e-6)
    w, b = submission.fit_ridge(X, y, 1e-12)
    np.testing.assert_allclose(w, [2.0], atol=1e-8)
    np.testing.assert_allclose(b, 1.0, atol=1e-8)
    w, b = submission.fit_lasso(X, y, 1e-12)
    np.testing.assert_allclose(w, [2.0], atol=1e-6)
    np.testing.assert_allclose(b, 1.0, atol=1e-6)


@part("logistic_regression")
@points(2)
@hint("sigmoid(0) = 0.5 and sigmoid(-1000) = 0 without warnings; a separable 1-D problem needs w > 0.")
@forbid(*LIBRARIES)
def test_logistic_worked_example(submission):
    np.testing.assert_allclose(submission.sigmoid(np.array([0.0, -1000.0, 1000.0])), [0.5, 0.0, 1.0], atol=1e-15)
    X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array([0, 0, 1, 1])
    w, b = submission.fit_logistic(X, y, lr=0.5, epochs=500, l2=0.01)
    p = submission.predict_proba(X, w, b)
    assert np.shape(p) == (4,)
    assert w[0] > 0 and np.all(p[:2] < 0.5) and np.all(p[2:] > 0.5)


@part("knn")
@points(2)
@hint("Each test point takes the majority label of its k closest training points.")
@forbid(*LIBRARIES)
def test_knn_worked_example(submission):
    X_train = np.array([[0.0, 0.0], [0.0, 1.0], [5.0, 5.0], [5.0, 6.0], [6.0, 5.0]])
    y_train = np.array([0, 0, 1, 1, 1])
    X_test = np.array([[0.2, 0.3], [5.5, 5.5]])
    np.testing.assert_array_equal(submission.knn_predict(X_train, y_train, X_test, k=1), [0, 1])
    np.testing.assert_array_equal(submission.knn_predict(X_train, y_train, X_test, k=3), [0, 1])


@part("kmeans")
@points(2)
@hint("Assign each point to its nearest centroid, move each centroid to the mean of its points, repeat.")
@forbid(*LIBRARIES)
def test_kmeans_two_blobs(submission):
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [10.0, 10.0], [10.0, 11.0], [11.0, 10.0]])
    centroids, labels, inertia = submission.kmeans(X, X[[0, 1]])
    np.testing.assert_allclose(np.sort(np.asarray(centroids)[:, 0]), [1 / 3, 31 / 3], atol=1e-12)
    assert len(set(np.asarray(labels)[:3])) == 1 and len(set(np.asarray(labels)[3:])) == 1
    np.testing.assert_allclose(inertia, 2 * (4 / 3), atol=1e-12)  # each blob: 2/9+5/9+5/9


@part("decision_tree")
@points(3)
@hint("gini([0,0,1,1]) = 0.5; splitting x = [1,2,3,4], y = [0,0,1,1] at 2.5 gains 0.5.")
@forbid(*LIBRARIES)
def test_tree_worked_example(submission):
    np.testing.assert_allclose(submission.impurity(np.array([0, 0, 1, 1]), "gini"), 0.5)
    np.testing.assert_allclose(submission.impurity(np.array([0, 0, 1, 1]), "entropy"), 1.0)
    X = np.array([[1.0], [2.0], [3.0], [4.0]])
    y = np.array([0, 0, 1, 1])
    feature, threshold, gain = submission.best_split(X, y)
    assert (feature, threshold) == (0, 2.5)
    np.testing.assert_allclose(gain, 0.5)
    tree = submission.fit_tree(X, y, max_depth=2)
    np.testing.assert_array_equal(submission.predict_tree(tree, np.array([[0.0], [2.4], [2.6], [9.0]])), [0, 0, 1, 1])


@part("cross_validation")
@points(2)
@hint("kfold_indices(10, 3): validation folds [0..3], [4..6], [7..9]; each train set is the rest.")
@forbid(*LIBRARIES)
def test_kfold_worked_example(submission):
    folds = submission.kfold_indices(10, 3)
    assert len(folds) == 3
    sizes = [len(val) for _, val in folds]
    assert sizes == [4, 3, 3], f"fold sizes {sizes}"
    np.testing.assert_array_equal(folds[0][1], [0, 1, 2, 3])
    np.testing.assert_array_equal(folds[1][0], [0, 1, 2, 3, 7, 8, 9])


@part("metrics")
@points(3)
@hint("Rows of the confusion matrix are true labels, columns predictions; AUC counts tied scores as 1/2.")
@forbid(*LIBRARIES)
def test_metrics_worked_example(submission):
    y_true = np.array([0, 0, 1, 1, 1])
    y_pred = np.array([1, 1, 1, 1, 0])
    np.testing.assert_array_equal(submission.confusion_matrix(y_true, y_pred, 2), [[0, 2], [1, 2]])
    p, r, f = submission.precision_recall_f1(y_true, y_pred)
    np.testing.assert_allclose([p, r, f], [2 / 4, 2 / 3, 4 / 7])  # F1 = 2 * (1/2) * (2/3) / (1/2 + 2/3)
    # positives score 0.8, 0.4, 0.35 against negatives 0.1, 0.4: 0.8 wins 2, 0.4 wins 1 and ties 1 (1/2),
    # 0.35 wins 1: 4.5 of the 3 x 2 pairs
    auc = submission.roc_auc(y_true, np.array([0.1, 0.4, 0.8, 0.4, 0.35]))
    np.testing.assert_allclose(auc, 4.5 / 6)
