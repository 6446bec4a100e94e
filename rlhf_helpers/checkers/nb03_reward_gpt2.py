"""Notebook 03 (GPT-2 reward model, from scratch): the exercise checkers.

Each `check_*` runs the learner's function against the reference in `course/reward_math.py` or
`course/reward_model.py` on random and edge cases, prints ✅ / ❌ (with a hint) / ⏭, and never raises.
"""

from __future__ import annotations

from rlhf_helpers.checkers.core import check

from rlhf_helpers.checkers.nb02_reward_bert import _reward_pairs

def _pairwise_log_of_sigmoid(r_c, r_r):
    import torch

    return float(-torch.log(torch.sigmoid(r_c - r_r)).mean())


def _pairwise_swapped(r_c, r_r):
    import torch.nn.functional as F

    return float(-F.logsigmoid(r_r - r_c).mean())


def _pairwise_sum(r_c, r_r):
    import torch.nn.functional as F

    return float(-F.logsigmoid(r_c - r_r).sum())


def _pairwise_no_minus(r_c, r_r):
    import torch.nn.functional as F

    return float(F.logsigmoid(r_c - r_r).mean())


PAIRWISE_MISTAKES = {
    "torch.log(torch.sigmoid(x)) is inf once sigmoid(x) rounds to 0 (x < -100, last case): use F.logsigmoid":
        _pairwise_log_of_sigmoid,
    "chosen and rejected are swapped: the loss must be small when r_chosen is much larger": _pairwise_swapped,
    "a sum grows with the batch size; average over pairs": _pairwise_sum,
    "the sign: log sigmoid is negative, the loss -log sigmoid is positive": _pairwise_no_minus,
}


def check_pairwise_loss(fn) -> bool | None:
    """Exercise (03): `fn(r_chosen, r_rejected)` -> mean of -log sigmoid(r_chosen - r_rejected)."""
    from rlhf_helpers.course.reward_math import pairwise_loss

    def my_pairwise_loss(r_chosen, r_rejected):
        return float(fn(r_chosen, r_rejected))

    return check(my_pairwise_loss, lambda r_c, r_r: float(pairwise_loss(r_c, r_r)), _reward_pairs(),
                 name="pairwise (Bradley-Terry) loss", mistakes=PAIRWISE_MISTAKES,
                 hint="check the sign, the order of the rewards, the reduction (mean) and the very wrong pair "
                      "of the last case, which must stay finite")


def _last_token_cases():
    import torch

    g = torch.Generator().manual_seed(2)
    values = torch.randn(3, 6, generator=g)  # (B, T)
    right = torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]])
    left = right.flip(-1)  # the same rows padded on the left
    return [(values, right), (values, left), (values, torch.ones(3, 6, dtype=torch.long)),
            (torch.randn(2, 4, generator=g), torch.tensor([[0, 1, 1, 0], [1, 0, 0, 0]]))]


def _last_by_mask_sum(values, attention_mask):
    import torch

    return values[torch.arange(values.shape[0]), attention_mask.sum(-1) - 1]


def _last_column(values, attention_mask):
    return values[:, -1]


def _first_real_token(values, attention_mask):
    import torch

    return values[torch.arange(values.shape[0]), attention_mask.argmax(-1)]


LAST_TOKEN_MISTAKES = {
    "attention_mask.sum(-1) - 1 is the last real token only with RIGHT padding (case 2 is left-padded)":
        _last_by_mask_sum,
    "the last column is padding in a right-padded row": _last_column,
    "that is the FIRST real token; a decoder's last real token is the only one that has read the whole text":
        _first_real_token,
}


def check_last_token_reward(fn) -> bool | None:
    """Exercise (03): `fn(values, attention_mask)` -> (B,) value at each row's last real token (any padding side)."""
    from rlhf_helpers.course.reward_math import gather_last_token

    return check(fn, gather_last_token, _last_token_cases(), name="reward at the last real token",
                 mistakes=LAST_TOKEN_MISTAKES,
                 hint="find, per row, the largest position where the mask is 1, whatever the padding side; "
                      "case 4 has a row whose mask has a hole")
