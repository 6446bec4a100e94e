"""Notebook 02 (BERT reward model): the exercise checkers.

Each `check_*` runs the learner's function against the reference in `course/reward_math.py` or
`course/reward_model.py` on random and edge cases, prints ✅ / ❌ (with a hint) / ⏭, and never raises.
"""

from __future__ import annotations

from rlhf_helpers.checkers.core import check

def _reward_pairs():
    """(r_chosen, r_rejected) cases: random, with ties, all ties, one pair, and very wrong pairs."""
    import torch

    g = torch.Generator().manual_seed(0)
    cases = [(torch.randn(8, generator=g), torch.randn(8, generator=g)) for _ in range(2)]
    cases.append((torch.tensor([1.0, 2.0, 3.0, 0.5]), torch.tensor([1.0, 0.0, 3.0, 0.7])))  # two ties
    cases.append((torch.zeros(5), torch.zeros(5)))  # a collapsed model: one constant reward
    cases.append((torch.tensor([4.0]), torch.tensor([-1.0])))
    cases.append((torch.tensor([-150.0, 2.0]), torch.tensor([150.0, 0.0])))  # -log(sigmoid(-300)) must stay finite
    # two cases of one shape with different answers (1/3 and 2/3), one with a tie
    cases.append((torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.0, 2.0, 4.0])))
    cases.append((torch.tensor([3.0, 2.0, 1.0]), torch.tensor([0.0, 1.0, 4.0])))
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
    from rlhf_helpers.course.reward_math import preference_accuracy

    # The answer is one number: a 0-d tensor or a Python float passes; a (B,) tensor (no .mean()) is named as such.
    return check(fn, lambda r_c, r_r: float(preference_accuracy(r_c, r_r)), _reward_pairs(),
                 name="preference accuracy", mistakes=ACCURACY_MISTAKES,
                 hint="look at the tied pairs (case 3) and at which reward must be the larger one")


def _pad_cases():
    import torch

    g = torch.Generator().manual_seed(1)
    cases = []
    for lengths in [(3, 5, 2), (4,), (1, 7, 7, 2)]:
        cases.append(([torch.randint(10, 99, (n,), generator=g).tolist() for n in lengths], 0))
    cases.append(([[5, 6], [7]], 3))  # a pad id that is not 0
    # a real token equal to the pad id inside a row (GPT-2's pad is its EOS): the mask comes from the lengths;
    # two batches of one shape (two rows) with different answers
    cases.append(([[5, 3, 6], [3]], 3))
    cases.append(([[50256, 10], [11, 12, 50256]], 50256))
    return cases


def _pad_fixed_512(sequences, pad_id):
    from rlhf_helpers.course.reward_model import pad_batch

    return pad_batch(sequences, pad_id, pad_to=512)


def _pad_left(sequences, pad_id):
    from rlhf_helpers.course.reward_model import pad_batch

    return pad_batch(sequences, pad_id, side="left")


def _pad_with_zero(sequences, pad_id):
    from rlhf_helpers.course.reward_model import pad_batch

    return pad_batch(sequences, 0)


def _pad_mask_inverted(sequences, pad_id):
    from rlhf_helpers.course.reward_model import pad_batch

    ids, mask = pad_batch(sequences, pad_id)
    return ids, 1 - mask


def _pad_mask_from_ids(sequences, pad_id):
    from rlhf_helpers.course.reward_model import pad_batch

    ids, _ = pad_batch(sequences, pad_id)
    return ids, (ids != pad_id).long()


def _pad_float_ids(sequences, pad_id):
    from rlhf_helpers.course.reward_model import pad_batch

    ids, mask = pad_batch(sequences, pad_id)
    return ids.float(), mask


PAD_MISTAKES = {
    "padded to 512: pad to the longest sequence of THIS batch (that is what saves the compute)": _pad_fixed_512,
    "the padding is on the left; a classifier batch is padded on the right": _pad_left,
    "the filler is 0, not pad_id (cases 4 and 5 use pad_id = 3)": _pad_with_zero,
    "the mask is inverted: 1 marks a real token, 0 a pad": _pad_mask_inverted,
    "the mask compares ids with pad_id, but a real token can have the pad's id (GPT-2's pad is its EOS): "
    "mark the first len(sequence) positions of each row": _pad_mask_from_ids,
    "the ids are floats (torch.zeros, torch.ones and torch.tensor of floats make floats): token ids index the embedding "
    "table, pass dtype=torch.long": _pad_float_ids,
}


def check_pad_batch(fn) -> bool | None:
    """Exercise (02): `fn(sequences, pad_id)` -> (input_ids, attention_mask), right-padded to the longest row."""
    from rlhf_helpers.course.reward_model import pad_batch

    return check(fn, lambda seqs, pad_id: pad_batch(seqs, pad_id), _pad_cases(), name="dynamic padding",
                 mistakes=PAD_MISTAKES,
                 hint="compare the shapes (B, longest row of this batch), the side of the padding, the filler "
                      "(pad_id) and the mask (1 on the first len(sequence) positions, whatever the ids); both "
                      "outputs are long tensors")


def reference_wrong_post_win_rate(reward_fn, prompts, summaries):
    """The wrong-post check of `course.reward_model.own_summary_win_rate`, for any `reward_fn(prompts, summaries)`.

    Summary i and summary i+1 (the last post takes the first summary) are both scored next to post i; the result is
    the share of posts whose own summary wins, ties counting half.
    """
    from rlhf_helpers.course.toxicity_metrics import win_rate

    summaries = list(summaries)
    others = summaries[1:] + summaries[:1]
    return win_rate(reward_fn(prompts, summaries), reward_fn(prompts, others))


def _words(text):
    return set(text.lower().split())


def reads_the_post(prompts, summaries):
    """A toy reward model that reads the post: words a summary shares with its post."""
    import torch

    return torch.tensor([float(len(_words(p) & _words(s))) for p, s in zip(prompts, summaries)])


def ignores_the_post(prompts, summaries):
    """A toy reward model that judges the summary alone: its number of words (ties between equal lengths)."""
    import torch

    return torch.tensor([float(len(s.split())) for s in summaries])


def rewards_long_posts(prompts, summaries):
    """Reads the post, plus a part b(x) that depends on the post alone (its length), as a trained model may."""
    import torch

    return reads_the_post(prompts, summaries) + torch.tensor([float(len(p.split())) for p in prompts])


_POSTS = ["my cousin lied about the rent last week", "my sister took my car without asking",
          "my boss yelled at me in a meeting today", "my dad sold my old bike", "a friend forgot my birthday again"]
_SUMMARIES = ["cousin lied about rent", "sister took my car", "boss yelled at me today", "dad sold my bike",
              "friend forgot my birthday"]


def _wrong_post_cases():
    """(reward_fn, prompts, summaries): a model that reads the post, one that ignores it (ties), a post-only part
    b(x); two cases of one shape with different answers."""
    cases = [(reads_the_post, _POSTS, _SUMMARIES), (ignores_the_post, _POSTS, _SUMMARIES),
             (rewards_long_posts, _POSTS, _SUMMARIES),
             (reads_the_post, _POSTS[:3], ["rent", "my car", "boss"]),
             (reads_the_post, _POSTS[:3], ["the boss", "my car", "cousin lied"]),
             (ignores_the_post, _POSTS[:2], _SUMMARIES[:2][::-1]),
             (rewards_long_posts, _POSTS[::-1], _SUMMARIES[::-1])]
    return cases


def _wrong_post_both_rolled(reward_fn, prompts, summaries):
    from rlhf_helpers.course.toxicity_metrics import win_rate

    prompts, summaries = list(prompts), list(summaries)
    return win_rate(reward_fn(prompts, summaries), reward_fn(prompts[1:] + prompts[:1], summaries[1:] + summaries[:1]))


def _wrong_post_ties_lose(reward_fn, prompts, summaries):
    own, other = _own_and_other(reward_fn, prompts, summaries)
    return float((own > other).float().mean())


def _wrong_post_ties_win(reward_fn, prompts, summaries):
    own, other = _own_and_other(reward_fn, prompts, summaries)
    return float((own >= other).float().mean())


def _wrong_post_previous(reward_fn, prompts, summaries):
    from rlhf_helpers.course.toxicity_metrics import win_rate

    summaries = list(summaries)
    return win_rate(reward_fn(prompts, summaries), reward_fn(prompts, summaries[-1:] + summaries[:-1]))


def _wrong_post_count(reward_fn, prompts, summaries):
    own, other = _own_and_other(reward_fn, prompts, summaries)
    return float(((own > other).float() + 0.5 * (own == other).float()).sum())


def _own_and_other(reward_fn, prompts, summaries):
    summaries = list(summaries)
    return reward_fn(prompts, summaries), reward_fn(prompts, summaries[1:] + summaries[:1])


WRONG_POST_MISTAKES = {
    "the other summary was scored next to ITS post: both must be scored next to post i (reward_fn(prompts, "
    "others)), because a part b(x) of the reward depends on the post alone and rewards of two posts are not "
    "comparable": _wrong_post_both_rolled,
    "a tie counts half, not as a loss: a model that ignores the post must score about 0.5": _wrong_post_ties_lose,
    "a tie counts half, not as a win: a model that ignores the post must score about 0.5": _wrong_post_ties_win,
    "take the NEXT post's summary (summaries[1:] + summaries[:1], the last post takes the first's), as section "
    "2's check does": _wrong_post_previous,
    "that is a count; the win rate is a share between 0 and 1 (a mean, not a sum)": _wrong_post_count,
}


def check_wrong_post_win_rate(fn) -> bool | None:
    """Exercise (02): `fn(reward_fn, prompts, summaries)` -> share of posts whose own summary beats the next post's
    summary, both scored next to the post, ties counting half."""

    return check(fn, reference_wrong_post_win_rate, _wrong_post_cases(), name="wrong-post check",
                 mistakes=WRONG_POST_MISTAKES,
                 hint="others = summaries[1:] + summaries[:1]; score both lists next to the SAME prompts; a win "
                      "counts 1, a tie 0.5; return the mean (one number)")
