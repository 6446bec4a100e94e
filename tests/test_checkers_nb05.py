"""Notebook 05's checkers compare gradients where the notebook computes its loss through the learner's functions,
and the gradient exercise (w.r.t. the logits) names each slip of its two chain-rule steps."""

import torch
import torch.nn.functional as F

from rlhf_helpers.checkers import nb05_dpo as nb05
from rlhf_helpers.course.dpo import dpo_loss_value
from rlhf_helpers.course.dpo_math import sequence_logprobs
from rlhf_helpers.solutions import nb05_dpo as solutions


def test_sequence_logprobs_detached_or_rebuilt_fails(capsys):
    assert nb05.check_sequence_logprobs(lambda lg, lb, m: sequence_logprobs(lg.detach(), lb, m)) is False
    assert "carries no gradient" in capsys.readouterr().out
    assert nb05.check_sequence_logprobs(lambda lg, lb, m: torch.tensor(sequence_logprobs(lg, lb, m).tolist())) is False


def test_sequence_logprobs_in_place_fails(capsys):
    def in_place(logits, labels, loss_mask):
        labels[loss_mask == 0] = 0  # "clean" the -100s in the caller's labels
        return sequence_logprobs(logits, labels, loss_mask)
    assert nb05.check_sequence_logprobs(in_place) is False
    assert "must not modify its inputs" in capsys.readouterr().out


def test_dpo_loss_without_gradient_fails(capsys):
    assert nb05.check_dpo_loss(lambda *a: float(dpo_loss_value(*a))) is False
    assert "keep the result a tensor" in capsys.readouterr().out

    def detached_rejected(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
        chosen = policy_chosen_logps - ref_chosen_logps
        return -F.logsigmoid(beta * (chosen - (policy_rejected_logps.detach() - ref_rejected_logps))).mean()
    assert nb05.check_dpo_loss(detached_rejected) is False
    assert "gradient with respect to policy_rejected_logps" in capsys.readouterr().out


def test_dpo_loss_without_mean_is_named(capsys):
    assert nb05.check_dpo_loss(lambda pc, pr, rc, rr, b: -F.logsigmoid(b * ((pc - rc) - (pr - rr)))) is False
    assert "did you forget .mean()" in capsys.readouterr().out


def test_solutions_and_skips(capsys):
    assert nb05.check_sequence_logprobs(solutions.my_sequence_logprobs) is True
    assert nb05.check_dpo_loss(solutions.my_dpo_loss) is True
    assert nb05.check_dpo_logits_grad(solutions.my_dpo_logits_grad) is True
    out = capsys.readouterr().out
    assert out.count("values and gradients") == 2


def test_logits_grad_by_backward_passes_and_each_slip_is_named(capsys):
    def by_backward(logits, labels, loss_mask, ref_logps, beta):  # allowed: the checker compares numbers
        leaf = logits.clone().requires_grad_(True)
        pc, pr = solutions.my_sequence_logprobs(leaf, labels, loss_mask).chunk(2)
        rc, rr = ref_logps.chunk(2)
        solutions.my_dpo_loss(pc, pr, rc, rr, beta).backward()
        return leaf.grad
    assert nb05.check_dpo_logits_grad(by_backward) is True
    for hint, wrong in nb05.DPO_GRAD_MISTAKES.items():
        assert nb05.check_dpo_logits_grad(wrong) is False
        assert f"hint: {hint}" in capsys.readouterr().out


def test_logits_grad_cases_include_a_pair_ranked_very_wrongly():
    from rlhf_helpers.course.dpo_math import dpo_margin

    logits, labels, mask, ref, beta = nb05._logits_grad_cases()[-1]
    logps = sequence_logprobs(logits, labels, mask)
    B = len(logps) // 2
    assert dpo_margin(logps[:B], logps[B:], ref[:B], ref[B:], beta).min() < -50


def test_loss_and_logits_grad_in_place_fail(capsys):
    def loss_in_place(pc, pr, rc, rr, beta):
        pc -= rc  # the caller's policy log-probs become log-ratios
        return -F.logsigmoid(beta * (pc - (pr - rr))).mean()
    assert nb05.check_dpo_loss(loss_in_place) is False

    def grad_in_place(logits, labels, loss_mask, ref_logps, beta):
        grad = solutions.my_dpo_logits_grad(logits, labels, loss_mask, ref_logps, beta)
        return logits.copy_(grad)  # reuses the caller's logits as the output buffer
    assert nb05.check_dpo_logits_grad(grad_in_place) is False
    assert capsys.readouterr().out.count("must not modify its inputs") == 2
