"""Public tests (shipped to students): shapes and worked examples with hints. The hidden suite checks much
more (random MDPs against a linear solve, ties, stopping rules, errors raised, the DQN and REINFORCE steps
against the same steps run by the grader, and trained agents on episodes the grader seeds)."""

import numpy as np
import torch

from coursekit_student.testing import hint, part, points


def two_state_chain():
    """State 0: action 0 stays (reward 0), action 1 moves to terminal state 1 (reward 1)."""
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = P[1, :, 1] = 1.0
    R = np.array([[0.0, 1.0], [0.0, 0.0]])
    return P, R


@part("dynamic_programming")
@points(1)
@hint("greedy_policy takes the LOWEST action among those within tol of the best.")
def test_greedy_policy_example(submission):
    Q = [[1.0, 3.0, 3.0], [2.0, 1.0, 2.0 - 1e-12], [0.0, -1.0, 5.0]]
    np.testing.assert_array_equal(submission.greedy_policy(Q), [1, 0, 2])


@part("dynamic_programming")
@points(1)
@hint("Staying forever in state 0 with reward 0 is worth 0; moving is worth 1. Value iteration finds the move.")
def test_two_state_chain(submission):
    P, R = two_state_chain()
    stay = np.array([[1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(submission.policy_evaluation(P, R, 0.9, stay), [0.0, 0.0], atol=1e-8)
    V, policy = submission.value_iteration(P, R, 0.9)
    np.testing.assert_allclose(V, [1.0, 0.0], atol=1e-8)
    np.testing.assert_array_equal(policy, [1, 0])


@part("q_learning")
@points(1)
@hint("Q[s, a] += alpha * (r + gamma * max Q[s_next] - Q[s, a]); on a terminal transition the target is r.")
def test_q_update_example(submission):
    Q = np.array([[0.0, 1.0], [2.0, 4.0]])
    np.testing.assert_allclose(submission.q_update(Q, 0, 0, 1.0, 1, False, 0.5, 0.5), [[1.5, 1.0], [2.0, 4.0]])
    np.testing.assert_allclose(submission.q_update(Q, 0, 0, 1.0, 1, True, 0.5, 0.5), [[0.5, 1.0], [2.0, 4.0]])


@part("q_learning")
@points(1)
@hint("train_q_learning returns an (S, 4) table for the map it is given.")
def test_train_q_learning_shape(submission):
    Q = np.asarray(submission.train_q_learning(["SFFF", "FHFH", "FFFH", "HFFG"], n_episodes=50, seed=0))
    assert Q.shape == (16, 4)


@part("dqn")
@points(1)
@hint("A buffer of capacity 3 holds at most 3 transitions; sample returns a dict of tensors of batch size B.")
def test_replay_buffer_shapes(submission):
    buffer = submission.ReplayBuffer(3, 4, seed=0)
    for i in range(5):
        buffer.push(np.full(4, i), i % 2, 1.0, np.full(4, i + 1), False)
    assert len(buffer) == 3
    batch = buffer.sample(3)
    assert batch["obs"].shape == (3, 4) and batch["actions"].shape == (3,)
    assert set(batch["obs"][:, 0].tolist()) <= {2.0, 3.0, 4.0}      # 0 and 1 were overwritten


@part("dqn")
@points(1)
@hint("y = r + gamma * (1 - terminated) * max_a next_q[:, a].")
def test_dqn_targets_example(submission):
    got = submission.dqn_targets(torch.tensor([1.0, 1.0]), torch.tensor([[0.0, 2.0], [3.0, 1.0]]),
                                 torch.tensor([0.0, 1.0]), 0.5)
    torch.testing.assert_close(got, torch.tensor([2.0, 1.0]))


@part("reinforce")
@points(1)
@hint("G_t = r_t + gamma * G_{t+1}, from the end.")
def test_returns_to_go_example(submission):
    np.testing.assert_allclose(submission.returns_to_go([1.0, 0.0, 2.0], 0.5), [1.5, 1.0, 2.0])


@part("reinforce")
@points(1)
@hint("policy_actions returns the index of the largest logit for each observation.")
def test_policy_actions_example(submission):
    policy = submission.torch.nn.Linear(2, 2, bias=False)
    policy.load_state_dict({"weight": torch.tensor([[1.0, 0.0], [0.0, 1.0]])})
    np.testing.assert_array_equal(submission.policy_actions(policy, np.array([[2.0, 1.0], [0.0, 3.0]])), [0, 1])
