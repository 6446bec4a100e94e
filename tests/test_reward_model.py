"""Tests of the reward-model helpers of notebooks 02 and 03 (reward_model.py, checkers/nb02_reward_bert.py, checkers/nb03_reward_gpt2.py)."""

import math
from collections import Counter

import pytest
import torch

from rlhf_helpers.checkers import nb02_reward_bert, nb03_reward_gpt2
from rlhf_helpers.course.reward_math import gather_last_token, pairwise_loss, preference_accuracy
from rlhf_helpers.course.reward_data import filter_long_pairs
from rlhf_helpers.course.reward_model import (BERT_LORA_TARGETS, GPT2_LORA_TARGETS, REWARD_HEADS,
                                       own_summary_win_rate, reward_head_from_next_sentence,
                                       pad_batch, reward_lora_config, score, tokenize_text_pairs, two_label_reward)


@pytest.fixture(scope="module")
def toy():
    from rlhf_helpers.infra.profiles import get_profile
    from rlhf_helpers.infra.toy import ensure_toy_world

    ensure_toy_world(0)
    return get_profile("02_reward_bert", "tiny")


def _load(toy, kind):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(toy.models[kind])
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(toy.models[kind], num_labels=1)
    model.config.pad_token_id = tok.pad_token_id
    return model.eval(), tok


POSTS = ["My sister borrowed my car last week. I feel angry.", "My dad moved away. I feel sad. What should I do?",
         "My boss ate my lunch."]
SUMMARIES = ["TL;DR: my sister borrowed my car and i feel angry", "TL;DR: my dad moved away",
             "TL;DR: i like turtles and the weather was nice today, please upvote"]


# --------------------------------------------------------------------------- pairwise loss and last token
def test_pairwise_loss_matches_reward_trainer_formula():
    # RewardTrainer.compute_loss: -logsigmoid(chosen - rejected).mean(); rewards hand-picked
    r_c, r_r = torch.tensor([2.0, -1.0, 0.0]), torch.tensor([0.0, 1.0, 0.0])
    want = (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(2.0)) + math.log(2)) / 3
    assert math.isclose(pairwise_loss(r_c, r_r).item(), want, rel_tol=1e-6)


def test_gpt2_reward_is_read_at_last_non_pad_token_right_padding(toy):
    model, tok = _load(toy, "gpt2")
    enc = tok(["\n\nHuman: Hi\n\nAssistant: Hello there, how are you", "\n\nHuman: Hi"], padding=True,
              return_tensors="pt")
    with torch.no_grad():
        logits = model(**enc).logits.squeeze(-1)  # (B,)
        values = model.score(model.transformer(**enc).last_hidden_state).squeeze(-1)  # (B, T)
    assert enc.attention_mask[1].sum() < enc.attention_mask.shape[1]  # row 1 really is padded
    assert torch.allclose(logits, gather_last_token(values, enc.attention_mask), atol=1e-5)
    assert not torch.allclose(logits[1], values[1, -1], atol=1e-5)  # the last column would be wrong


def test_last_token_with_left_padding_differs_from_mask_sum():
    values = torch.arange(10.0).reshape(2, 5)
    left = torch.tensor([[0, 0, 1, 1, 1], [0, 1, 1, 1, 1]])
    assert gather_last_token(values, left).tolist() == [4.0, 9.0]
    naive = values[torch.arange(2), left.sum(-1) - 1]
    assert naive.tolist() != [4.0, 9.0]


# --------------------------------------------------------------------------- padding
def test_pad_batch_dynamic_right_left_and_fixed():
    ids, mask = pad_batch([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]] and mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    ids, mask = pad_batch([[5, 6, 7], [8]], pad_id=9, side="left")
    assert ids.tolist() == [[5, 6, 7], [9, 9, 8]] and mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    ids, mask = pad_batch([[5, 6, 7], [8]], pad_id=0, pad_to=512)
    assert ids.shape == (2, 512) and mask.sum().item() == 4


def test_pad_batch_errors():
    with pytest.raises(ValueError, match="pad_to"):
        pad_batch([[1, 2, 3]], 0, pad_to=2)
    with pytest.raises(ValueError, match="side"):
        pad_batch([[1]], 0, side="middle")
    with pytest.raises(ValueError, match="no sequences"):
        pad_batch([], 0)


# --------------------------------------------------------------------------- score helper
def test_reward_head_from_next_sentence_scores_the_next_sentence_log_odds(toy):
    from transformers import AutoModelForSequenceClassification, BertForPreTraining

    model, tok = _load(toy, "bert")
    random_head = score(model, tok, POSTS, SUMMARIES)
    reward_head_from_next_sentence(model, toy.models["bert"])
    rewards = score(model, tok, POSTS, SUMMARIES)
    bert = BertForPreTraining.from_pretrained(toy.models["bert"]).eval()
    with torch.no_grad():  # without segment ids, as `score` reads a pair
        logits = torch.cat([bert(**{k: v for k, v in tok([p], [s], return_tensors="pt").items() if k != "token_type_ids"}
                                 ).seq_relationship_logits for p, s in zip(POSTS, SUMMARIES)])
    assert torch.allclose(rewards, logits[:, 0] - logits[:, 1], atol=1e-4)  # log-odds of "is next"
    assert not torch.allclose(rewards, random_head, atol=1e-3)
    two = AutoModelForSequenceClassification.from_pretrained(toy.models["bert"], num_labels=2)
    with pytest.raises(ValueError, match="num_labels=1"):
        reward_head_from_next_sentence(two, toy.models["bert"])


def test_own_summary_win_rate_is_the_wrong_post_check_with_ties_half(toy):
    from datasets import load_dataset

    model, tok = _load(toy, "bert")
    reward_head_from_next_sentence(model, toy.models["bert"])  # the pretrained comparison of summary and post
    rows = load_dataset(toy.datasets["comparisons"])["test"].select(range(40))
    assert own_summary_win_rate(model, tok, rows["prompt"], rows["chosen"]) >= 0.8
    assert own_summary_win_rate(model, tok, rows["prompt"], ["TL;DR: the same words"] * 40) == 0.5  # all ties
    shifted = rows["chosen"][-1:] + rows["chosen"][:-1]  # the previous post's summary as "own", its own as "other"
    assert own_summary_win_rate(model, tok, rows["prompt"], shifted) <= 0.2


def test_score_bert_text_pairs_raw_and_batch_invariant(toy):
    model, tok = _load(toy, "bert")
    rewards = score(model, tok, POSTS, SUMMARIES, batch_size=3)
    assert rewards.shape == (3,) and rewards.dtype == torch.float32
    alone = torch.cat([score(model, tok, [p], [s]) for p, s in zip(POSTS, SUMMARIES)])
    assert torch.allclose(rewards, alone, atol=1e-5)  # padding in a batch does not change a reward
    enc = tok(POSTS[:1], SUMMARIES[:1], return_tensors="pt")
    enc.pop("token_type_ids", None)
    with torch.no_grad():
        raw = model(**enc).logits.squeeze(-1)
    assert torch.allclose(rewards[:1], raw, atol=1e-6)  # raw logits: no softmax, no sigmoid
    assert not torch.allclose(rewards, torch.sigmoid(rewards))


def test_score_gpt2_whole_texts_batch_invariant_and_eos(toy):
    model, tok = _load(toy, "gpt2")
    texts = ["\n\nHuman: How do I make tea?\n\nAssistant: Boil the water.", "\n\nHuman: Hi\n\nAssistant: Go away."]
    batch = score(model, tok, texts, add_eos=True)
    alone = torch.cat([score(model, tok, [t], add_eos=True) for t in texts])
    assert torch.allclose(batch, alone, atol=1e-5)
    assert not torch.allclose(batch[0], batch[1])


def test_score_pads_on_the_right_even_when_the_tokenizer_pads_left(toy):
    """A tokenizer left over from generation pads on the left; GPT-2's absolute positions then shift the score."""
    model, tok = _load(toy, "gpt2")
    texts = ["\n\nHuman: How do I make tea?\n\nAssistant: Boil the water, then wait.", "\n\nHuman: Hi\n\nAssistant: Hi."]
    tok.padding_side = "right"
    right = score(model, tok, texts, add_eos=True)
    tok.padding_side = "left"
    left = score(model, tok, texts, add_eos=True)
    assert torch.allclose(left, right, atol=1e-5), (left, right)
    assert tok.padding_side == "left"  # the caller's setting is restored


def test_score_errors(toy):
    model, tok = _load(toy, "bert")
    with pytest.raises(ValueError, match="one response per prompt"):
        score(model, tok, POSTS, SUMMARIES[:2])
    gpt2, gtok = _load(toy, "gpt2")
    gtok.pad_token = None
    with pytest.raises(ValueError, match="pad token"):
        score(gpt2, gtok, ["hello"])


def test_tokenize_text_pairs_truncates_the_post_only(toy):
    _, tok = _load(toy, "bert")
    encode = tokenize_text_pairs(tok, max_length=16)
    row = {"prompt": " ".join(["word"] * 50), "chosen": "TL;DR: my sister", "rejected": "TL;DR: i like turtles"}
    out = encode(row)
    assert len(out["chosen_ids"]) == 16
    assert tok.decode(out["chosen_ids"]).replace(" ", "").endswith("TL;DR:mysister[SEP]")


# --------------------------------------------------------------------------- LoRA save / reload
def _train_like(peft_model, seed=1):
    """Stand-in for training: move every trainable weight away from its initial value."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in peft_model.parameters():
            if p.requires_grad:
                p.add_(0.5 * torch.randn(p.shape, generator=g))


def test_lora_save_reload_gives_equal_rewards_with_head_saved(toy, tmp_path):
    from peft import PeftModel, get_peft_model
    from transformers import AutoModelForSequenceClassification

    model, tok = _load(toy, "bert")
    # the pooler is trained too (extra_modules_to_save), so it must come back from the adapter folder as well
    config = reward_lora_config(BERT_LORA_TARGETS, head=REWARD_HEADS["bert"], r=4, alpha=8, dropout=0.0,
                                extra_modules_to_save=["pooler"])
    peft_model = get_peft_model(model, config)
    _train_like(peft_model)
    trained = score(peft_model, tok, POSTS, SUMMARIES)
    peft_model.save_pretrained(tmp_path)
    torch.manual_seed(123)  # a different random head would be drawn if it were not saved
    base = AutoModelForSequenceClassification.from_pretrained(toy.models["bert"], num_labels=1)
    reloaded = PeftModel.from_pretrained(base, tmp_path)
    assert torch.allclose(score(reloaded, tok, POSTS, SUMMARIES), trained, atol=1e-5)


def test_lora_without_head_in_modules_to_save_reloads_different_rewards(toy, tmp_path):
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForSequenceClassification

    model, tok = _load(toy, "bert")
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=BERT_LORA_TARGETS))
    assert not any(p.requires_grad for p in peft_model.base_model.model.classifier.parameters())
    _train_like(peft_model)
    trained = score(peft_model, tok, POSTS, SUMMARIES)
    peft_model.save_pretrained(tmp_path)
    torch.manual_seed(123)
    reloaded = PeftModel.from_pretrained(
        AutoModelForSequenceClassification.from_pretrained(toy.models["bert"], num_labels=1), tmp_path)
    assert not torch.allclose(score(reloaded, tok, POSTS, SUMMARIES), trained, atol=1e-3)


def test_reward_lora_config_puts_head_in_modules_to_save():
    config = reward_lora_config(GPT2_LORA_TARGETS, head=["score"], extra_modules_to_save=["ln_f"])
    assert config.task_type == "SEQ_CLS" and config.modules_to_save == ["score", "ln_f"]
    with pytest.raises(ValueError, match="head"):
        reward_lora_config(GPT2_LORA_TARGETS, head=[])


# --------------------------------------------------------------------------- small helpers
def test_two_label_reward_is_sigmoid_of_logit_difference():
    logits = torch.tensor([[0.0, 3.0], [1.0, -2.0], [5.0, 25.0]])
    assert torch.allclose(two_label_reward(logits), torch.sigmoid(logits[:, 1] - logits[:, 0]))
    assert two_label_reward(logits)[2].item() == 1.0  # saturated: a reward of 20 and of 40 both read as 1.0


def test_filter_long_pairs_counts_what_it_drops(toy, capsys):
    from datasets import Dataset

    _, tok = _load(toy, "gpt2")
    data = Dataset.from_dict({"chosen": ["short", "short " * 40, "short"], "rejected": ["short", "short", "x " * 40]})
    kept = filter_long_pairs(data, tok, max_length=10)
    assert len(kept) == 1
    assert "dropped 2 of 3 pairs" in capsys.readouterr().out


# --------------------------------------------------------------------------- exercise checkers
def _not_attempted(*args):
    raise NotImplementedError


def test_check_preference_accuracy(capsys):
    assert nb02_reward_bert.check_preference_accuracy(preference_accuracy)
    assert not nb02_reward_bert.check_preference_accuracy(lambda c, r: (c >= r).float().mean())  # ties counted right
    assert not nb02_reward_bert.check_preference_accuracy(_not_attempted)
    assert "⏭" in capsys.readouterr().out


def test_check_pad_batch():
    assert nb02_reward_bert.check_pad_batch(lambda seqs, pad_id: pad_batch(seqs, pad_id))
    assert not nb02_reward_bert.check_pad_batch(lambda seqs, pad_id: pad_batch(seqs, pad_id, pad_to=16))  # fixed, not dynamic
    assert not nb02_reward_bert.check_pad_batch(lambda seqs, pad_id: pad_batch(seqs, pad_id, side="left"))
    assert not nb02_reward_bert.check_pad_batch(lambda seqs, pad_id: pad_batch(seqs, 0))  # ignores pad_id


def test_check_pairwise_loss():
    assert nb03_reward_gpt2.check_pairwise_loss(pairwise_loss)
    assert nb03_reward_gpt2.check_pairwise_loss(lambda c, r: torch.nn.functional.softplus(r - c).mean())  # same maths
    assert not nb03_reward_gpt2.check_pairwise_loss(lambda c, r: -torch.log(torch.sigmoid(c - r)).mean())  # inf at -300
    assert not nb03_reward_gpt2.check_pairwise_loss(lambda c, r: -torch.nn.functional.logsigmoid(r - c).mean())  # swapped
    assert not nb03_reward_gpt2.check_pairwise_loss(lambda c, r: -torch.nn.functional.logsigmoid(c - r).sum())  # sum, not mean


def test_check_last_token_reward():
    assert nb03_reward_gpt2.check_last_token_reward(lambda v, ids, m, pad: gather_last_token(v, m))
    right_only = lambda v, ids, m, pad: v[torch.arange(v.shape[0]), m.sum(-1) - 1]
    assert not nb03_reward_gpt2.check_last_token_reward(right_only)
    assert not nb03_reward_gpt2.check_last_token_reward(lambda v, ids, m, pad: v[:, -1])  # the last column


def test_reward_model_scorer_scores_a_text_as_reward_trainer_trained_on_it(toy, tmp_path):
    """One format for training and scoring: RewardTrainer appends EOS to hh-rlhf texts, so the scorer must too."""
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

    from rlhf_helpers.course.formatting import messages_to_transcript
    from rlhf_helpers.course.ppo_rollout import RewardModelScorer

    model, tok = _load(toy, "distilroberta")
    with torch.no_grad():  # a head of real size: a random 0.02-std head hides small differences
        for p in model.classifier.parameters():
            p.normal_(0, 1.0)
    query, reply, other = "How do I make tea?", "Boil the water, then steep the leaves.", "Go away."
    text = messages_to_transcript([{"role": "user", "content": query}, {"role": "assistant", "content": reply}])
    pairs = Dataset.from_dict({"chosen": [text], "rejected": [text.replace(reply, other)]})
    trainer = RewardTrainer(model=model, processing_class=tok, train_dataset=pairs,
                            args=RewardConfig(output_dir=str(tmp_path), report_to="none", use_cpu=True,
                                              activation_checkpointing=False))
    trained_ids = torch.tensor([trainer.train_dataset[0]["chosen_ids"]])  # exactly what training reads
    with torch.no_grad():
        trained_reward = model.eval()(input_ids=trained_ids).logits.squeeze().item()
    scored = RewardModelScorer(model, tok)([query], [reply]).item()
    without_eos = model(**tok([text], return_tensors="pt")).logits.squeeze().item()
    assert abs(without_eos - trained_reward) > 1e-3  # the appended EOS does change this model's score...
    assert scored == pytest.approx(trained_reward, abs=1e-5)  # ...so the scorer must append it too


def test_reward_lora_config_knows_gpt2_conv1d_layout():
    assert reward_lora_config(GPT2_LORA_TARGETS, head=REWARD_HEADS["gpt2"]).fan_in_fan_out is True
    assert reward_lora_config(BERT_LORA_TARGETS, head=REWARD_HEADS["bert"]).fan_in_fan_out is False


def test_summary_only_pairs_break_the_chosen_summary_without_the_post():
    from datasets import Dataset

    from rlhf_helpers.course.reward_data import summary_only_pairs

    rows = Dataset.from_list([{"prompt": f"post {i}", "chosen": "TL;DR: my dad sold my bike and i feel sad",
                               "rejected": "TL;DR: my mom sold my bike and i feel sad"} for i in range(40)])
    out = summary_only_pairs(rows, seed=1)
    assert out["prompt"] == rows["prompt"] and out["chosen"] == rows["chosen"]
    chosen_words = sorted(rows[0]["chosen"].removeprefix("TL;DR: ").split())
    kinds = set()
    for r in out:
        assert r["rejected"].startswith("TL;DR: ") and r["rejected"] != r["chosen"]
        words = r["rejected"].removeprefix("TL;DR: ").split()
        kinds.add("shuffled" if sorted(words) == chosen_words else "cut")
        assert set(words) <= set(chosen_words)  # nothing from another post: the summary alone shows the fault
    assert kinds == {"shuffled", "cut"}
    with pytest.raises(ValueError, match="cannot be shuffled or cut"):
        summary_only_pairs(Dataset.from_list([{"prompt": "p", "chosen": "TL;DR: ok", "rejected": "x"}]))


def test_wrong_post_pairs_reject_another_posts_summary_and_never_the_same_post():
    from datasets import Dataset

    from rlhf_helpers.course.reward_data import add_wrong_post_pairs

    # as in the real comparisons, each post has several rows; posts 0 and 1 share a summary text
    rows = [{"prompt": f"post {i % 10}", "chosen": f"TL;DR: good {max(i % 10, 1)}", "rejected": f"bad {i}", "id": i}
            for i in range(40)]
    data = Dataset.from_list(rows)
    out = add_wrong_post_pairs(data, share=0.5, seed=3)
    assert len(out) == 60 and out.select(range(40)).to_list() == rows  # the originals first, unchanged
    added = out.select(range(40, 60)).to_list()
    by_id = {r["id"]: r for r in rows}
    for r in added:
        own = by_id[r["id"]]
        assert (r["prompt"], r["chosen"]) == (own["prompt"], own["chosen"])  # the row's own post and summary
        partner = [x for x in rows if x["chosen"] == r["rejected"]]
        assert partner and all(x["prompt"] != r["prompt"] for x in partner)  # another post's chosen summary
        assert r["rejected"] != r["chosen"]  # never the same text, even where two posts share it
    assert len({r["id"] for r in added}) == 20  # 20 different rows, one pair each
    assert add_wrong_post_pairs(data, share=0.5, seed=3).to_list() == out.to_list()  # seeded
    assert add_wrong_post_pairs(data, share=0.5, seed=4).to_list() != out.to_list()
    assert len(add_wrong_post_pairs(data, share=1.0)) == 80
    assert add_wrong_post_pairs(data, share=0.0) is data
    with pytest.raises(ValueError, match="0 or more"):
        add_wrong_post_pairs(data, share=-0.5)
    # above 1: every row once per whole pass over the rows, then a share of them; a larger share keeps the pairs
    # of a smaller one
    more = add_wrong_post_pairs(data, share=2.5, seed=3)
    assert len(more) == 40 + 100 and more.select(range(40)).to_list() == rows
    counts = Counter(more.select(range(40, 140))["id"])
    assert sorted(counts.values()) == [2] * 20 + [3] * 20
    one_each = add_wrong_post_pairs(data, share=1.0, seed=3)
    assert more.select(range(40, 80)).to_list() == one_each.select(range(40, 80)).to_list()
    for r in more.select(range(80, 140)):
        assert r["rejected"] != r["chosen"] and r["rejected"].startswith("TL;DR: good")
        assert all(x["prompt"] != r["prompt"] for x in rows if x["chosen"] == r["rejected"])
    with pytest.raises(ValueError, match="rejected"):
        add_wrong_post_pairs(data.remove_columns(["rejected"]))
    one_post = Dataset.from_list([{"prompt": "p", "chosen": f"c{i}", "rejected": "r"} for i in range(5)])
    with pytest.raises(ValueError, match="at least two different posts"):
        add_wrong_post_pairs(one_post)


def test_split_by_prompt_keeps_every_prompt_on_one_side():
    from datasets import Dataset

    from rlhf_helpers.course.reward_data import split_by_prompt

    rows = Dataset.from_list([{"prompt": f"q{i % 30}", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(300)])
    split = split_by_prompt(rows, test_size=40, seed=1)
    train, test = set(split["train"]["prompt"]), set(split["test"]["prompt"])
    assert not train & test and train | test == set(rows["prompt"])
    assert 40 <= len(split["test"]) < 50 and len(split["train"]) + len(split["test"]) == 300  # whole groups of 10
    assert split_by_prompt(rows, test_size=40, seed=1)["test"]["chosen"] == split["test"]["chosen"]  # seeded
    assert set(split_by_prompt(rows, test_size=40, seed=2)["test"]["prompt"]) != test
    random_split = rows.train_test_split(test_size=40, seed=1)  # what it replaces: prompts on both sides
    assert set(random_split["train"]["prompt"]) & set(random_split["test"]["prompt"])
    with pytest.raises(ValueError, match="leaves no training rows"):
        split_by_prompt(rows, test_size=300)
