"""Notebook 03 (GPT-2 reward model, from scratch): the exercise checkers.

Each `check_*` runs the learner's function against the reference in `course/reward_math.py` on random and edge
cases, prints ✅ / ❌ (with a hint) / ⏭, and never raises. The notebook trains its scratch reward model through
both functions, so the pairwise loss is checked on its gradients too.
"""

from __future__ import annotations

from rlhf_helpers.checkers.core import check


def _pair_cases():
    """(r_chosen, r_rejected) cases: two random batches of one shape, ties, one pair, and a very wrong pair."""
    import torch

    g = torch.Generator().manual_seed(0)
    cases = [(torch.randn(8, generator=g), torch.randn(8, generator=g)) for _ in range(2)]  # same shape, other answer
    cases.append((torch.tensor([1.0, 2.0, 3.0, 0.5]), torch.tensor([1.0, 0.0, 3.0, 0.7])))  # two ties
    cases.append((torch.tensor([4.0]), torch.tensor([-1.0])))
    cases.append((torch.tensor([-150.0, 2.0]), torch.tensor([150.0, 0.0])))  # -log(sigmoid(-300)) must stay finite
    return cases


def _pairwise_log_of_sigmoid(r_c, r_r):
    import torch

    return -torch.log(torch.sigmoid(r_c - r_r)).mean()


def _pairwise_swapped(r_c, r_r):
    import torch.nn.functional as F

    return -F.logsigmoid(r_r - r_c).mean()


def _pairwise_sum(r_c, r_r):
    import torch.nn.functional as F

    return -F.logsigmoid(r_c - r_r).sum()


def _pairwise_no_minus(r_c, r_r):
    import torch.nn.functional as F

    return F.logsigmoid(r_c - r_r).mean()


PAIRWISE_MISTAKES = {
    "torch.log(torch.sigmoid(x)) is inf once sigmoid(x) rounds to 0 (x < -100, last case): use F.logsigmoid":
        _pairwise_log_of_sigmoid,
    "chosen and rejected are swapped: the loss must be small when r_chosen is much larger": _pairwise_swapped,
    "a sum grows with the batch size; average over pairs": _pairwise_sum,
    "the sign: log sigmoid is negative, the loss -log sigmoid is positive": _pairwise_no_minus,
}


def check_pairwise_loss(fn) -> bool | None:
    """Exercise (03): `fn(r_chosen, r_rejected)` -> scalar tensor mean of -log sigmoid(r_chosen - r_rejected).

    The scratch reward model trains through it: the gradients w.r.t. both rewards must be the reference's.
    """
    from rlhf_helpers.course.reward_math import pairwise_loss

    return check(fn, pairwise_loss, _pair_cases(), name="pairwise (Bradley-Terry) loss", mistakes=PAIRWISE_MISTAKES,
                 grad_args=(0, 1),
                 hint="check the sign, the order of the rewards, the reduction (mean) and the very wrong pair "
                      "of the last case, which must stay finite")


PAD = 50256  # GPT-2's EOS, also its pad token: the texts end with it and chat turns may be closed by it


def reference_last_token_reward(values, input_ids, attention_mask, pad_token_id):
    """Each row's value at its last real token (attention mask 1), whatever the padding side: (B,)."""
    from rlhf_helpers.course.reward_math import gather_last_token

    return gather_last_token(values, attention_mask)


def _last_token_cases():
    """(values, input_ids, attention_mask, pad_token_id): right and left padding, no padding, a mask with a hole,
    and rows whose real tokens include the pad id (GPT-2's pad is its EOS: it ends each text, and closes turns)."""
    import torch

    g = torch.Generator().manual_seed(2)

    def ids_for(mask, eos_at_end=True, eos_inside=()):
        ids = torch.randint(10, 1000, mask.shape, generator=g)
        ids = ids.masked_fill(mask == 0, PAD)
        for b in range(mask.shape[0]):
            real = mask[b].nonzero().flatten().tolist()
            if eos_at_end and real:
                ids[b, real[-1]] = PAD  # the EOS appended to every text: a real token
            for k in eos_inside:
                if k < len(real) - 1:
                    ids[b, real[k]] = PAD  # EOS closing a turn inside the text
        return ids

    right = torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]])
    left = right.flip(-1)  # the same rows padded on the left
    full = torch.ones(3, 6, dtype=torch.long)
    hole = torch.tensor([[0, 1, 1, 0], [1, 0, 0, 0]])
    values = [torch.randn(3, 6, generator=g) for _ in range(2)]
    return [(values[0], ids_for(right), right, PAD),
            (values[1], ids_for(right, eos_inside=(1,)), right, PAD),  # same shapes, other values
            (values[0], ids_for(left, eos_inside=(1,)), left, PAD),
            (values[1], ids_for(full, eos_at_end=False), full, PAD),
            (torch.randn(2, 4, generator=g), ids_for(hole, eos_at_end=False), hole, PAD),
            (torch.randn(2, 5, generator=g), torch.tensor([[7, 8, 9, 0, 0], [7, 0, 8, 9, 0]]),
             torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]]), 0)]  # another tokenizer: pad id 0, a real 0 inside


def _last_by_mask_sum(values, input_ids, attention_mask, pad_token_id):
    import torch

    return values[torch.arange(values.shape[0]), attention_mask.sum(-1) - 1]


def _last_column(values, input_ids, attention_mask, pad_token_id):
    return values[:, -1]


def _first_real_token(values, input_ids, attention_mask, pad_token_id):
    import torch

    return values[torch.arange(values.shape[0]), attention_mask.argmax(-1)]


def _last_non_pad_id(values, input_ids, attention_mask, pad_token_id):
    import torch

    positions = torch.arange(input_ids.shape[1])
    return values[torch.arange(values.shape[0]), (positions * (input_ids != pad_token_id)).argmax(-1)]


def _before_first_pad_id(values, input_ids, attention_mask, pad_token_id):
    import torch

    first_pad = (input_ids == pad_token_id).int().argmax(-1)
    last = torch.where((input_ids == pad_token_id).any(-1), first_pad - 1, input_ids.shape[1] - 1).clamp(min=0)
    return values[torch.arange(values.shape[0]), last]


LAST_TOKEN_MISTAKES = {
    "attention_mask.sum(-1) - 1 is the last real token only with RIGHT padding (case 3 is left-padded)":
        _last_by_mask_sum,
    "the last column is padding in a right-padded row": _last_column,
    "that is the FIRST real token; a decoder's last real token is the only one that has read the whole text":
        _first_real_token,
    "input_ids != pad_token_id hides real tokens: GPT-2's pad is its EOS, which ends every text (and can close a "
    "turn). Only the attention mask says what is padding": _last_non_pad_id,
    "before the FIRST pad id is inside the text when EOS (= pad) closes a turn (bug 2 of section 5): use the "
    "attention mask": _before_first_pad_id,
}


def check_last_token_reward(fn) -> bool | None:
    """Exercise (03): `fn(values, input_ids, attention_mask, pad_token_id)` -> (B,) value at each row's last real
    token (any padding side). The scratch reward model reads its reward with it, so gradients are compared too."""
    return check(fn, reference_last_token_reward, _last_token_cases(), name="reward at the last real token",
                 mistakes=LAST_TOKEN_MISTAKES, grad_args=(0,),
                 hint="find, per row, the largest position where the attention mask is 1, whatever the padding "
                      "side; case 5 has a row whose mask has a hole")
