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


def check_preference_accuracy(fn) -> bool:
    """Exercise (02): `fn(r_chosen, r_rejected)` -> share of pairs with r_chosen > r_rejected (ties wrong)."""
    from .exercises import check
    from .reward_math import preference_accuracy

    def learner(r_c, r_r):
        return float(fn(r_c, r_r))

    return check(learner, lambda r_c, r_r: float(preference_accuracy(r_c, r_r)), _reward_pairs(),
                 name="preference accuracy",
                 hint="(r_chosen > r_rejected).float().mean() — strict >, so a tie counts as wrong")


def _pad_cases():
    import torch

    g = torch.Generator().manual_seed(1)
    cases = []
    for lengths in [(3, 5, 2), (4,), (1, 7, 7, 2)]:
        cases.append(([torch.randint(10, 99, (n,), generator=g).tolist() for n in lengths], 0))
    cases.append(([[5, 6], [7]], 3))  # a pad id that is not 0
    return cases


def check_pad_batch(fn) -> bool:
    """Exercise (02): `fn(sequences, pad_id)` -> (input_ids, attention_mask), right-padded to the longest row."""
    from .exercises import check
    from .reward_model import pad_batch

    return check(fn, lambda seqs, pad_id: pad_batch(seqs, pad_id), _pad_cases(), name="dynamic padding",
                 hint="T = the longest sequence of THIS batch (not 512); fill with pad_id, copy each row to the left, "
                      "mask = 1 where a real token was copied; return two long tensors of shape (B, T)")


def check_pairwise_loss(fn) -> bool:
    """Exercise (03): `fn(r_chosen, r_rejected)` -> mean of -log sigmoid(r_chosen - r_rejected)."""
    from .exercises import check
    from .reward_math import pairwise_loss

    def learner(r_c, r_r):
        return float(fn(r_c, r_r))

    return check(learner, lambda r_c, r_r: float(pairwise_loss(r_c, r_r)), _reward_pairs(),
                 name="pairwise (Bradley-Terry) loss",
                 hint="-F.logsigmoid(r_chosen - r_rejected).mean(); torch.log(torch.sigmoid(x)) gives inf for x < -100")


def _last_token_cases():
    import torch

    g = torch.Generator().manual_seed(2)
    values = torch.randn(3, 6, generator=g)  # (B, T)
    right = torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]])
    left = right.flip(-1)  # the same rows padded on the left
    return [(values, right), (values, left), (values, torch.ones(3, 6, dtype=torch.long)),
            (torch.randn(2, 4, generator=g), torch.tensor([[0, 1, 1, 0], [1, 0, 0, 0]]))]


def check_last_token_reward(fn) -> bool:
    """Exercise (03): `fn(values, attention_mask)` -> (B,) value at each row's last real token (any padding side)."""
    from .exercises import check
    from .reward_math import gather_last_token

    return check(fn, gather_last_token, _last_token_cases(), name="reward at the last real token",
                 hint="attention_mask.sum(-1) - 1 is right for right padding only; take the largest position "
                      "where the mask is 1 (e.g. (mask * arange(T)).argmax(-1)), then values[arange(B), idx]")
