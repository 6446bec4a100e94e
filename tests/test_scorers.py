import numpy as np
import pytest
from rouge_score import rouge_scorer

from rlhf_helpers.infra.profiles import get_profile
from rlhf_helpers.course.scorers import OfflineRouge, load_rouge, load_toxicity

PREDS = ["my sister took my car and i feel sad", "i like turtles", "my dad moved away"]
REFS = ["my sister borrowed my car and i feel sad", "my mom lost my keys and i feel hurt", "my dad moved away"]


def test_offline_rouge_matches_rouge_score_per_pair():
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"])
    per_pair = OfflineRouge().compute(PREDS, REFS, rouge_types=["rouge1", "rouge2", "rougeL"], use_aggregator=False)
    for key in ("rouge1", "rouge2", "rougeL"):
        assert per_pair[key] == [scorer.score(r, p)[key].fmeasure for p, r in zip(PREDS, REFS)]


def test_aggregate_is_close_to_the_mean_and_seeded():
    rouge = OfflineRouge()
    np.random.seed(0)
    a = rouge.compute(PREDS * 10, REFS * 10)
    np.random.seed(0)
    b = rouge.compute(PREDS * 10, REFS * 10)
    mean = np.mean(rouge.compute(PREDS, REFS, use_aggregator=False)["rougeL"])
    assert a == b and abs(a["rougeL"] - mean) < 0.05
    assert set(a) == {"rouge1", "rouge2", "rougeL", "rougeLsum"}


def test_rouge_length_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="2 predictions but 3 references"):
        OfflineRouge().compute(PREDS[:2], REFS)


def test_tiny_profile_never_needs_the_hub():
    tiny = get_profile("01_sft", "tiny")
    assert isinstance(load_rouge(tiny), OfflineRouge)


def test_toxicity_has_evaluates_interface_in_tiny():
    tox = load_toxicity(get_profile("01_sft", "tiny"))
    texts = ["Shut up, idiot. Only a stupid person asks that.", "Sure! To bake bread, mix the flour and then bake the dough.",
             "Nobody cares, you useless loser.", "Happy to help. First dim the lights, then skip late coffee."]
    scores = tox.compute(predictions=texts)["toxicity"]
    assert len(scores) == 4 and all(0.0 <= s <= 1.0 for s in scores)
    assert scores[0] > 0.5 and scores[2] > 0.5 and scores[1] < 0.5 and scores[3] < 0.5
    assert tox.compute(predictions=texts, aggregation="maximum")["max_toxicity"] == max(scores)
    assert tox.compute(predictions=texts, aggregation="ratio")["toxicity_ratio"] == 0.5
    with pytest.raises(ValueError, match="not one of the classifier's labels"):
        tox.compute(predictions=texts, toxic_label="toxic")
