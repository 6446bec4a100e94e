"""Exercise checkers of notebooks 02 (BERT reward model) and 03 (GPT-2 reward model, from scratch).

Each `check_*` runs the learner's function against the reference in `reward_math.py` or
`reward_model.py` on random and edge cases, prints ✅ / ❌ (with a hint) / ⏭, and never raises.
"""

from __future__ import annotations


def _reward_pairs():
    """(r_chosen, r_rejected) cases: random, with ties, all ties, one pair, and very wrong pairs."""
    import torch

    g = torch.Generator().manual_seed(0)
    cases = [(torch.randn(8, generator=g), torch.randn(8, generator=g)) for _ in range(2)]
    cases.append((torch.tensor([1.0, 2.0, 3.0, 0.5]), torch.tensor([1.0, 0.0, 3.0, 0.7])))  # two ties
    cases.append((torch.zeros(5), torch.zeros(5)))  # a collapsed model: one constant reward
    cases.append((torch.tensor([4.0]), torch.tensor([-1.0])))
    cases.append((torch.tensor([-150.0, 2.0]), torch.tensor([150.0, 0.0])))  # -log(sigmoid(-300)) must stay finite
    return cases


def _accuracy_ties_right(r_c, r_r):
    return float((r_c >= r_r).float().mean())


def _accuracy_swapped(r_c, r_r):
    return float((r_r > r_c).float().mean())


def _accuracy_soft(r_c, r_r):
    return float(_sigmoid(r_c - r_r).mean())


def _accuracy_count(r_c, r_r):
    return float((r_c > r_r).float().sum())


def _sigmoid(x):
    """sigmoid(x), elementwise (imported lazily like the rest of this module)."""
    import torch

    return torch.sigmoid(x)


ACCURACY_MISTAKES = {
    ">= counts a tie as right; a reward model that gives both answers the same reward has not ranked them":
        _accuracy_ties_right,
    "chosen and rejected are swapped: a pair is right when the CHOSEN reward is higher": _accuracy_swapped,
    "that is the mean Bradley-Terry probability sigmoid(r_c - r_r), not the share of pairs ranked right":
        _accuracy_soft,
    "that is a count; accuracy is a share between 0 and 1 (a mean, not a sum)": _accuracy_count,
}


def check_preference_accuracy(fn) -> bool | None:
    """Exercise (02): `fn(r_chosen, r_rejected)` -> share of pairs with r_chosen > r_rejected (ties wrong)."""
    from .exercises import check
    from .reward_math import preference_accuracy

    def my_preference_accuracy(r_chosen, r_rejected):
        return float(fn(r_chosen, r_rejected))

    return check(my_preference_accuracy, lambda r_c, r_r: float(preference_accuracy(r_c, r_r)), _reward_pairs(),
                 name="preference accuracy", mistakes=ACCURACY_MISTAKES,
                 hint="look at the tied pairs (case 3) and at which reward must be the larger one")


def _pad_cases():
    import torch

    g = torch.Generator().manual_seed(1)
    cases = []
    for lengths in [(3, 5, 2), (4,), (1, 7, 7, 2)]:
        cases.append(([torch.randint(10, 99, (n,), generator=g).tolist() for n in lengths], 0))
    cases.append(([[5, 6], [7]], 3))  # a pad id that is not 0
    return cases


def _pad_fixed_512(sequences, pad_id):
    from .reward_model import pad_batch

    return pad_batch(sequences, pad_id, pad_to=512)


def _pad_left(sequences, pad_id):
    from .reward_model import pad_batch

    return pad_batch(sequences, pad_id, side="left")


def _pad_with_zero(sequences, pad_id):
    from .reward_model import pad_batch

    return pad_batch(sequences, 0)


def _pad_mask_inverted(sequences, pad_id):
    from .reward_model import pad_batch

    ids, mask = pad_batch(sequences, pad_id)
    return ids, 1 - mask


PAD_MISTAKES = {
    "padded to 512: pad to the longest sequence of THIS batch (that is what saves the compute)": _pad_fixed_512,
    "the padding is on the left; a classifier batch is padded on the right": _pad_left,
    "the filler is 0, not pad_id (case 4 uses pad_id = 3)": _pad_with_zero,
    "the mask is inverted: 1 marks a real token, 0 a pad": _pad_mask_inverted,
}


def check_pad_batch(fn) -> bool | None:
    """Exercise (02): `fn(sequences, pad_id)` -> (input_ids, attention_mask), right-padded to the longest row."""
    from .exercises import check
    from .reward_model import pad_batch

    return check(fn, lambda seqs, pad_id: pad_batch(seqs, pad_id), _pad_cases(), name="dynamic padding",
                 mistakes=PAD_MISTAKES,
                 hint="compare the shapes (B, longest row of this batch), the side of the padding, the filler "
                      "(pad_id) and the mask (1 on real tokens); both outputs are long tensors")


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
    from .exercises import check
    from .reward_math import pairwise_loss

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
    from .exercises import check
    from .reward_math import gather_last_token

    return check(fn, gather_last_token, _last_token_cases(), name="reward at the last real token",
                 mistakes=LAST_TOKEN_MISTAKES,
                 hint="find, per row, the largest position where the mask is 1, whatever the padding side; "
                      "case 4 has a row whose mask has a hole")
