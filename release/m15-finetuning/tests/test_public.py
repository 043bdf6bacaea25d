"""Public tests of milestone 15 (run them with check("<part>") in the notebook): shapes and worked examples.

They use small random GPTs, not the pretrained base, so they run in seconds; the grader's hidden tests also
fine-tune the base model on names and measure the loss on names your code never sees.
"""

import math

import torch

from coursekit_student.testing import hint, part, points


def _worked_lora(submission):
    """d_in = 2, d_out = 2, r = 1, alpha = 2 (scaling 2): W = I, b = 0, A = [[1, 1]], B = [[1], [0]]."""
    lin = submission.torch.nn.Linear(2, 2)
    layer = submission.LoRALinear(lin, 1, 2.0)
    layer.load_state_dict({"base.weight": torch.eye(2), "base.bias": torch.zeros(2),
                           "A": torch.tensor([[1.0, 1.0]]), "B": torch.tensor([[1.0], [0.0]])})
    return layer


def _tiny_gpt(submission, **kw):
    submission.torch.manual_seed(0)
    sizes = dict(vocab_size=11, block_size=12, n_layer=2, n_head=2, n_embd=8)
    sizes.update(kw)
    return submission.GPT(submission.GPTConfig(**sizes))


# ------------------------------------------------------------------ lora
@part("lora")
@points(2)
@hint("A is (r, d_in), B is (d_out, r) and zeros, only A and B get gradients; at init LoRALinear(x) == base(x).")
def test_lora_shapes_and_init(submission):
    lin = submission.torch.nn.Linear(6, 4)
    layer = submission.LoRALinear(lin, 3, 6.0)
    params = dict(layer.named_parameters())
    assert tuple(params["A"].shape) == (3, 6) and tuple(params["B"].shape) == (4, 3)
    x = torch.randn(5, 6)
    grads = submission.gradients(layer, x, torch.ones(5, 4))  # trainable = receives a gradient
    assert {k for k, g in grads.items() if g is not None} == {"A", "B"}
    assert float(layer.scaling) == 2.0
    torch.testing.assert_close(torch.as_tensor(layer(x)), torch.as_tensor(lin(x)))


@part("lora")
@points(2)
@hint("Worked example: W = I, A = [[1, 1]], B = [[1], [0]], alpha / r = 2: x = [1, 2] gives [1 + 2 * 3, 2] = [7, 2].")
def test_lora_worked_example(submission):
    layer = _worked_lora(submission)
    out = torch.as_tensor(layer(torch.tensor([[1.0, 2.0]])))
    torch.testing.assert_close(out, torch.tensor([[7.0, 2.0]]))


# ------------------------------------------------------------------ merge
@part("merge")
@points(2)
@hint("merge_lora: W + (alpha / r) B A = I + 2 [[1, 1], [0, 0]] = [[3, 2], [0, 1]] in the worked example.")
def test_merge_worked_example(submission):
    layer = _worked_lora(submission)
    merged = submission.merge_lora(layer)
    torch.testing.assert_close(torch.as_tensor(merged.weight), torch.tensor([[3.0, 2.0], [0.0, 1.0]]))
    back = submission.unmerge_lora(merged, layer)
    torch.testing.assert_close(torch.as_tensor(back.weight), torch.eye(2))


# ------------------------------------------------------------------ apply_lora
@part("apply_lora")
@points(2)
@hint("apply_lora on a 2-layer, width-8 GPT with r = 2: 6 * 2 * 2 * 8 = 192 trainable parameters.")
def test_apply_lora_count(submission):
    model = _tiny_gpt(submission)
    total = sum(p.numel() for _, p in model.named_parameters())
    assert tuple(int(v) for v in submission.count_parameters(model)) == (total, total)
    submission.apply_lora(model, 2, 4.0)
    assert tuple(int(v) for v in submission.count_parameters(model)) == (192, total + 192)


# ------------------------------------------------------------------ finetune
@part("finetune")
@points(2)
@hint('encode_names(["ab", "c"], tok) is the ids of "\\nab\\nc\\n"; finetune returns one loss per step.')
def test_encode_and_finetune_shapes(submission):
    tok = submission.CharTokenizer("\nabc")
    assert torch.as_tensor(submission.encode_names(["ab", "c"], tok)).tolist() == [0, 1, 2, 0, 3, 0]
    model = _tiny_gpt(submission, vocab_size=4)
    ids = torch.tensor([0, 1, 2, 0, 3, 0] * 10)
    losses = submission.finetune(model, ids, dict(steps=3, batch_size=2, block_size=6, lr=1e-2, weight_decay=0.0, seed=0))
    assert len(losses) == 3 and all(math.isfinite(float(v)) for v in losses)


# ------------------------------------------------------------------ prompt
@part("prompt")
@points(2)
@hint("SoftPromptGPT(base, P): only `prompt` (P, n_embd) is trainable; forward returns (B, T, vocab) for T <= "
      "base.block_size - P.")
def test_soft_prompt_shapes(submission):
    model = _tiny_gpt(submission)
    wrapped = submission.SoftPromptGPT(model, 4, [1, 2, 3, 4])
    params = dict(wrapped.named_parameters())
    grads = submission.gradients(wrapped, torch.zeros(1, 8, dtype=torch.long), torch.ones(1, 8, 11))
    assert {k for k, g in grads.items() if g is not None} == {"prompt"}
    assert tuple(params["prompt"].shape) == (4, 8) and int(wrapped.block_size) == 8
    assert tuple(torch.as_tensor(wrapped(torch.zeros(2, 8, dtype=torch.long))).shape) == (2, 8, 11)
