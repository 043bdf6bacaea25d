"""Public tests of milestone 10 (run them with check("<part>") in the notebook): a worked example per part."""

import numpy as np
import torch

from coursekit_student.testing import hint, part, points


@part("vocab")
@points(1)
@hint("Specials first; then by decreasing count, ties alphabetical; unknown words map to <unk>.")
def test_vocab_example(submission):
    assert submission.tokenize("Don't STOP! 2 more") == ["don't", "stop", "2", "more"]
    itos, stoi = submission.build_vocab([["b", "a", "c", "a"], ["b", "d"]], min_freq=1)
    assert itos == ["<pad>", "<unk>", "a", "b", "c", "d"]
    assert stoi == {t: i for i, t in enumerate(itos)}
    assert submission.encode(["a", "zebra", "d"], stoi) == [2, 1, 5]


@part("word2vec")
@points(1)
@hint("Centers left to right; for each, contexts j in [i - m, i + m], j != i, left to right.")
def test_word2vec_example(submission):
    assert [tuple(p) for p in submission.skipgram_pairs([5, 6, 7], 1)] == [(5, 6), (6, 5), (6, 7), (7, 6)]
    probs = submission.negative_distribution([1, 16, 0])
    np.testing.assert_allclose(probs, [1 / 9, 8 / 9, 0.0])
    v, u = np.zeros((1, 2)), np.zeros((1, 2))
    loss, dv, du_pos, du_neg = submission.sgns_loss(v, u, np.zeros((1, 3, 2)))
    np.testing.assert_allclose(loss, 4 * np.log(2))  # sigmoid(0) = 1/2 for the pair and its 3 negatives
    assert np.shape(dv) == (1, 2) and np.shape(du_pos) == (1, 2) and np.shape(du_neg) == (1, 3, 2)


@part("cells")
@points(1)
@hint("h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh), as torch.nn.RNNCell.")
def test_rnn_cell_example(submission):
    torch.manual_seed(0)
    ref = torch.nn.RNNCell(3, 4)
    x, h = torch.randn(2, 3), torch.randn(2, 4)
    out = submission.rnn_cell(x, h, ref.weight_ih.detach(), ref.weight_hh.detach(), ref.bias_ih.detach(),
                              ref.bias_hh.detach())
    torch.testing.assert_close(out, ref(x, h).detach())


@part("clipping")
@points(1)
@hint("N = sqrt(sum of squared gradient entries); scale every grad by max_norm / (N + 1e-6) when that is < 1.")
def test_clipping_example(submission):
    layer = submission.torch.nn.Linear(2, 1)
    layer.load_state_dict({"weight": torch.tensor([[3.0, 0.0]]), "bias": torch.tensor([4.0])})
    # loss (3*1 + 4 - 6)^2 = 1: grads 2*(1)*x = weight [[2, 0]], bias [2]; N = sqrt(8)
    submission.squared_error_backward(layer, torch.tensor([[1.0, 0.0]]), torch.tensor([[6.0]]))
    norm = submission.clip_grad_norm(layer.parameters(), 0.5)
    assert abs(norm - 8 ** 0.5) < 1e-6
    torch.testing.assert_close(submission.gradients(layer)[0], torch.tensor([[2 * 0.5 / (8 ** 0.5 + 1e-6), 0.0]]))


@part("char_model")
@points(1)
@hint("x = [0, ids] padded with 0; y = [ids, 0] padded with -100; T = longest name + 1.")
def test_names_to_batch_example(submission):
    x, y = submission.names_to_batch(["ab", "c"])
    assert x.tolist() == [[0, 1, 2], [0, 3, 0]]
    assert y.tolist() == [[1, 2, 0], [3, 0, -100]]


@part("classifier")
@points(1)
@hint("Count each token's id per message; unknown tokens count in the <unk> column.")
def test_bag_of_words_example(submission):
    stoi = {"<pad>": 0, "<unk>": 1, "free": 2, "call": 3}
    X = submission.bag_of_words(["FREE free call now", ""], stoi)
    np.testing.assert_array_equal(X, [[0, 1, 2, 1], [0, 0, 0, 0]])
    assert X.dtype == np.float32


@part("evaluation")
@points(1)
@hint("precision = TP/(TP+FP), recall = TP/(TP+FN), F1 their harmonic mean; rows of the confusion matrix are true labels.")
def test_evaluation_example(submission):
    y_true, y_pred = [1, 1, 0, 0, 1], [1, 0, 0, 1, 1]
    p, r, f1 = submission.precision_recall_f1(y_true, y_pred)
    np.testing.assert_allclose([p, r, f1], [2 / 3, 2 / 3, 2 / 3])
    np.testing.assert_array_equal(submission.confusion_matrix(y_true, y_pred, [0, 1]), [[1, 1], [1, 2]])
