import random

import torch
from rouge_score import rouge_scorer

from rlhf_helpers.infra.toy.summaries import faithful_summary, tldr_post, unfaithful_summary
from rlhf_helpers.course.sft import IGNORE_INDEX, completion_only_labels, rouge_l_f1
from rlhf_helpers.checkers.nb01_sft import check_completion_only_labels, check_rouge_l


def test_completion_only_labels_hand_case():
    ids = torch.tensor([[10, 11, 12, 13, 0], [20, 21, 22, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]])
    labels = completion_only_labels(ids, [2, 1], mask)
    X = IGNORE_INDEX
    assert labels.tolist() == [[X, X, 12, 13, X], [X, 21, 22, X, X]]
    assert ids[0, 0] == 10  # the input is not modified in place


def test_rouge_l_matches_rouge_score():
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    rng = random.Random(0)
    for _ in range(200):
        a, b = tldr_post(rng), tldr_post(rng)
        pred = unfaithful_summary(a, rng) if rng.random() < 0.5 else faithful_summary(b)
        ref = faithful_summary(a)
        assert abs(rouge_l_f1(pred, ref) - scorer.score(ref, pred)["rougeL"].fmeasure) < 1e-9


def test_label_checker_accepts_reference_and_rejects_wrong(capsys):
    assert check_completion_only_labels(completion_only_labels)
    forgets_padding = lambda ids, lengths, mask: completion_only_labels(ids, lengths, torch.ones_like(mask))  # noqa
    assert not check_completion_only_labels(forgets_padding)
    off_by_one = lambda ids, lengths, mask: completion_only_labels(ids, [n + 1 for n in lengths], mask)  # noqa
    assert not check_completion_only_labels(off_by_one)
    assert capsys.readouterr().out.count("❌") == 2


def test_rouge_checker_accepts_reference_and_rejects_wrong():
    assert check_rouge_l(rouge_l_f1)

    def precision_only(pred, ref):
        from rlhf_helpers.course.sft import lcs_length, rouge_tokens

        p, r = rouge_tokens(pred), rouge_tokens(ref)
        return lcs_length(p, r) / len(p) if p else 0.0

    assert not check_rouge_l(precision_only)
    assert not check_rouge_l(lambda pred, ref: float(pred.split() == ref.split()))
