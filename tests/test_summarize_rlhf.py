"""Notebook 07's helpers (rlhf_helpers.course.summarize_rlhf) and the course PPO on a GPT-2 policy with a frozen reference."""

import math

import pytest
import torch

from rlhf_helpers.course.formatting import split_tldr_prompt, tldr_prompt
from rlhf_helpers.course.summarize_rlhf import SummaryReward, apply_missing_eos_penalty, normalised_rewards, summary_text, truncate_tldr_prompts
from rlhf_helpers.checkers.nb07_summarize_rlhf import check_normalised_rewards


@pytest.fixture(scope="module")
def toy():
    """The toy world's GPT-2 folder, its tokenizer (pad = EOS) and its TL;DR datasets."""
    from datasets import load_dataset
    from transformers import AutoTokenizer

    from rlhf_helpers.infra.profiles import get_profile
    from rlhf_helpers.infra.toy import ensure_toy_world

    ensure_toy_world(0)
    p = get_profile("07_summarize_rlhf", "tiny")
    tok = AutoTokenizer.from_pretrained(p.models["gpt2"])
    tok.pad_token = tok.eos_token
    return p.models["gpt2"], tok, load_dataset(p.datasets["tldr"]), load_dataset(p.datasets["comparisons"])


# --------------------------------------------------------------------------- text format and truncation
def test_summary_text_is_the_same_for_tldr_prompts_and_comparison_rows():
    prompt = tldr_prompt("pets", "My dad sold my bike", "My dad sold my bike. I feel sad.")
    want = "SUBREDDIT: r/pets\nTITLE: My dad sold my bike\nPOST: My dad sold my bike. I feel sad.\nTL;DR: dad sold bike"
    assert summary_text(prompt, " dad sold bike") == want                      # tldr prompt + label (leading space)
    assert summary_text(prompt, "TL;DR: dad sold bike") == want                # comparisons: chosen starts with TL;DR:
    assert summary_text(prompt.removesuffix("\nTL;DR:"), "dad sold bike") == want  # a prompt without TL;DR:


def test_truncation_shortens_only_long_posts_and_keeps_the_frame(toy):
    _, tok, tldr, _ = toy
    prompts = list(tldr["train"]["prompt"][:200])
    lengths = [len(tok(p).input_ids) for p in prompts]
    limit = sorted(lengths)[len(lengths) // 2]  # the median: about half must be cut
    short, n_cut = truncate_tldr_prompts(tok, prompts, limit)
    assert n_cut == sum(n > limit for n in lengths) > 0
    for before, after, n in zip(prompts, short, lengths):
        assert len(tok(after).input_ids) <= limit
        if n <= limit:
            assert after == before
        else:
            a, b = split_tldr_prompt(before), split_tldr_prompt(after)
            assert (a["subreddit"], a["title"]) == (b["subreddit"], b["title"])
            assert a["post"].startswith(b["post"]) and len(b["post"]) < len(a["post"])


def test_truncation_refuses_a_limit_with_no_room_for_the_post(toy):
    _, tok, tldr, _ = toy
    with pytest.raises(ValueError, match="no room for the post"):
        truncate_tldr_prompts(tok, [tldr["train"][0]["prompt"]], 5)


# --------------------------------------------------------------------------- normalised reward
def word_reward(prompts, summaries):
    return torch.tensor([float(len(set(s.split()) & set(p.split()))) for p, s in zip(prompts, summaries)])


def test_normalised_rewards_hand_case():
    prompts = ["a b c d", "a b c d", "x y"]
    got = normalised_rewards(word_reward, prompts, ["a b", "z", "x y"], ["a b c", "a", "x"])
    assert got.tolist() == [2 - 3, 0 - 1, 2 - 1]
    assert normalised_rewards(word_reward, prompts, ["a", "b", "x"], ["a", "b", "x"]).tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="one summary and one reference per prompt"):
        normalised_rewards(word_reward, prompts, ["a"], ["a", "b", "c"])


@pytest.fixture(scope="module")
def reward_model(toy):
    from transformers import AutoModelForSequenceClassification

    path, tok, _, _ = toy
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    model.config.pad_token_id = tok.pad_token_id
    return model


def test_summary_reward_is_zero_for_the_reference_and_matches_the_raw_difference(toy, reward_model):
    _, tok, tldr, _ = toy
    rows = tldr["test"].select(range(6))
    prompts, refs = list(rows["prompt"]), [label.strip() for label in rows["label"]]
    reward = SummaryReward(reward_model, tok, references=dict(zip(prompts, refs)))
    assert torch.allclose(reward(prompts, refs), torch.zeros(6), atol=1e-5)
    other = refs[1:] + refs[:1]  # each post gets another post's summary
    raw = reward.raw(prompts, other)
    assert raw.std() > 0  # the random head gives different scores: the test below can fail
    assert torch.allclose(reward(prompts, other), raw - reward.raw(prompts, refs), atol=1e-5)
    assert len(reward._reference_scores) == 6  # scored once per prompt, then cached
    assert torch.allclose(SummaryReward(reward_model, tok)(prompts, other), raw)  # no references: raw scores


def test_summary_reward_names_prompts_without_reference(toy, reward_model):
    _, tok, tldr, _ = toy
    reward = SummaryReward(reward_model, tok, references={"SUBREDDIT: r/x\nTITLE: t\nPOST: p\nTL;DR:": "p"})
    with pytest.raises(ValueError, match="no reference summary"):
        reward([tldr["test"][0]["prompt"]], ["my dad"])


# --------------------------------------------------------------------------- no-EOS penalty
def test_missing_eos_penalty_hand_case():
    ids = torch.tensor([[4, 5, 2, 0], [4, 5, 6, 7], [2, 0, 0, 0], [4, 5, 6, 2]])
    got = apply_missing_eos_penalty(torch.tensor([1.0, 1.0, 1.0, 1.0]), ids, eos_token_id=2, penalty=0.5)
    assert got.tolist() == [1.0, 0.5, 1.0, 1.0]


# --------------------------------------------------------------------------- exercise checkers
def test_normalised_reward_checker_accepts_reference_and_rejects_wrong(capsys):
    assert check_normalised_rewards(normalised_rewards)

    def batch_mean(reward_fn, prompts, summaries, references):  # subtracts the batch's mean reference reward
        return reward_fn(prompts, summaries) - reward_fn(prompts, references).mean()

    def swapped(reward_fn, prompts, summaries, references):
        return reward_fn(prompts, references) - reward_fn(prompts, summaries)

    def raw_only(reward_fn, prompts, summaries, references):
        return reward_fn(prompts, summaries)

    assert not check_normalised_rewards(batch_mean)
    assert not check_normalised_rewards(swapped)
    assert not check_normalised_rewards(raw_only)
    assert capsys.readouterr().out.count("❌") == 3


def _five_token_gpt2(n_positions: int):
    """A 1-layer GPT-2 over the words "! a b c" and EOS (id 4), and its tokenizer; id 0 is an ordinary token."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    vocab = {"!": 0, "a": 1, "b": 2, "c": 3, "<|endoftext|>": 4}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<|endoftext|>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=5, n_embd=16, n_layer=1, n_head=2, n_positions=n_positions,
                                       bos_token_id=4, eos_token_id=4, pad_token_id=4)).eval()
    return model, tok


def test_rollout_text_stops_at_eos_when_token_id_0_is_an_ordinary_token():
    """Real GPT-2's id 0 is "!" (EOS is 50256): text after EOS must not decode as "!!!"."""
    from rlhf_helpers.course.ppo import PPOConfig, ValueHead
    from rlhf_helpers.course.ppo_rollout import collect_rollout

    model, tok = _five_token_gpt2(n_positions=32)
    config = PPOConfig(batch_size=16, mini_batch_size=8, max_new_tokens=8, use_chat_template=False)
    rollout = collect_rollout(model, ValueHead(16), tok, ["a b", "c"] * 8, lambda q, r: torch.zeros(len(r)), config,
                              ref_model=model)
    T = rollout.response_mask.shape[1]
    assert (rollout.response_mask == 0).any(), "no reply stopped early: the test would prove nothing"
    expected = [tok.decode(ids[mask.bool()], skip_special_tokens=True).strip()
                for ids, mask in zip(rollout.input_ids[:, -T:], rollout.response_mask)]
    assert rollout.responses == expected


def test_ppo_with_a_frozen_gpt2_reference_moves_the_policy_only(toy):
    from transformers import AutoModelForCausalLM

    from rlhf_helpers.course.ppo import PPOConfig, ValueHead, train_ppo

    path, tok, tldr, _ = toy
    no_dropout = dict(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    policy = AutoModelForCausalLM.from_pretrained(path, **no_dropout)
    reference = AutoModelForCausalLM.from_pretrained(path, **no_dropout).eval().requires_grad_(False)
    before = {k: v.clone() for k, v in reference.state_dict().items()}
    config = PPOConfig(batch_size=8, mini_batch_size=4, ppo_epochs=1, learning_rate=1e-3, max_new_tokens=6,
                       use_chat_template=False, missing_eos_penalty=1.0)
    history = train_ppo(policy, ValueHead(policy.config.hidden_size), tok, list(tldr["train"]["prompt"][:16]),
                        lambda q, r: torch.tensor([float("sad" in s) for s in r]), config, iterations=2,
                        ref_model=reference, progress=False)
    assert history[0]["kl"] == pytest.approx(0.0, abs=1e-4)  # the first rollout: policy == reference
    assert math.isfinite(history[-1]["kl"]) and history[-1]["kl"] != 0.0
    assert all(torch.equal(v, reference.state_dict()[k]) for k, v in before.items())
    assert any(not torch.equal(p, before[k]) for k, p in policy.state_dict().items() if k in before)


def test_cut_off_rate_counts_summaries_without_eos():
    """A 5-token model that emits EOS about one time in five: longer limits cut off fewer replies."""
    from rlhf_helpers.course.ppo import PPOConfig
    from rlhf_helpers.course.summarize_rlhf import cut_off_rate

    model, tok = _five_token_gpt2(n_positions=64)
    rate = {n: cut_off_rate(model, tok, ["a b", "c"] * 32,
                            PPOConfig(batch_size=64, mini_batch_size=8, max_new_tokens=n, use_chat_template=False))
            for n in (1, 16)}
    assert rate[1] > 0.5 and 0.0 <= rate[16] < rate[1]
    assert cut_off_rate(model, tok, ["a b"] * 8, PPOConfig(batch_size=8, mini_batch_size=8, max_new_tokens=16,
                                                             use_chat_template=False)) in {i / 8 for i in range(9)}
    with pytest.raises(ValueError, match="no prompts"):
        cut_off_rate(model, tok, [], PPOConfig(batch_size=8, mini_batch_size=8, use_chat_template=False))


def test_no_eos_share_counts_responses_without_eos():
    from rlhf_helpers.course.summarize_rlhf import no_eos_share

    responses = torch.tensor([[1, 2, 4, 4], [1, 2, 3, 3], [4, 4, 4, 4], [3, 3, 3, 3]])  # EOS = 4; two never end
    assert no_eos_share(responses, eos_token_id=4) == 0.5
    assert no_eos_share(responses, eos_token_id=3) == 0.5  # rows 1 and 3 contain a 3
    assert no_eos_share(responses[:1], eos_token_id=4) == 0.0


def test_fresh_ppo_run_starts_from_the_sft_copy_and_changes_only_the_named_field(toy):
    """Section 9 of notebook 07: two runs from the same start, one config field apart (the no-EOS penalty)."""
    from rlhf_helpers.course.ppo import PPOConfig
    from rlhf_helpers.course.summarize_rlhf import fresh_ppo_run

    path, tok, tldr, _ = toy
    config = PPOConfig(batch_size=8, mini_batch_size=4, ppo_epochs=1, learning_rate=1e-3, max_new_tokens=3,
                       use_chat_template=False, missing_eos_penalty=5.0, seed=3)
    prompts = list(tldr["train"]["prompt"][:8])
    zero = lambda queries, responses: torch.zeros(len(responses))  # noqa: E731  the score is the penalty alone
    _, with_penalty = fresh_ppo_run(path, "cpu", tok, prompts, zero, config, 1)
    _, without = fresh_ppo_run(path, "cpu", tok, prompts, zero, config, 1, missing_eos_penalty=0.0)
    # the toy GPT-2 starts from random weights: 3 tokens almost never end with EOS, so most rows lose 5
    assert with_penalty[0]["score"] < -2.5 and without[0]["score"] == 0.0
    assert config.missing_eos_penalty == 5.0  # the caller's config is not changed
    assert with_penalty[0]["kl"] == pytest.approx(0.0, abs=1e-4)  # the policy starts as its reference
    assert "distinct" in with_penalty[0] and len(without) == 1
    with pytest.raises(TypeError, match="missing_eos"):
        fresh_ppo_run(path, "cpu", tok, prompts, zero, config, 1, missing_eos=0.0)  # a misspelt field


def test_no_eos_marks_each_response_without_eos():
    from rlhf_helpers.course.summarize_rlhf import no_eos

    responses = torch.tensor([[1, 2, 4, 4], [1, 2, 3, 3], [4, 4, 4, 4], [3, 3, 3, 3]])  # EOS = 4
    assert no_eos(responses, eos_token_id=4).tolist() == [False, True, False, True]
    assert no_eos(responses, eos_token_id=9).all()  # an id that never occurs: every response is cut off


def test_paired_change_pairs_each_posts_mean_over_its_samples():
    """Section 8 of notebook 07: 2 posts x 2 samples, sample j of post i at j * 2 + i."""
    from rlhf_helpers.course.summarize_rlhf import paired_change

    before = [1.0, 2.0, 3.0, 4.0]  # post 0: 1, 3 (mean 2); post 1: 2, 4 (mean 3)
    after = [2.0, 2.0, 5.0, 6.0]   # post 0: 2, 5 (mean 3.5); post 1: 2, 6 (mean 4): differences 1.5 and 1
    change, z = paired_change(before, after, 2)
    se = math.sqrt(((1.5 - 1.25) ** 2 + (1.0 - 1.25) ** 2) / 1) / math.sqrt(2)
    assert change == pytest.approx(1.25) and z == pytest.approx(1.25 / se)
    assert paired_change(before, before, 2) == (0.0, 0.0)
    assert paired_change(before, [b + 1 for b in before], 2) == (1.0, math.inf)  # every post moved by exactly 1
    assert paired_change(after, before, 2)[1] == pytest.approx(-1.25 / se)


def test_paired_change_with_keep_uses_only_kept_samples_and_posts():
    """Finished summaries only: each post's mean over its kept samples; a post with none kept on one side drops out."""
    from rlhf_helpers.course.summarize_rlhf import paired_change

    before = [1.0, 2.0, 0.0, 9.0, 4.0, 7.0]  # 2 samples x 3 posts: post 0: 1, 9; post 1: 2, 4; post 2: 0, 7
    after = [2.0, 6.0, 8.0, 3.0, 5.0, 8.0]   # post 0: 2, 3; post 1: 6, 5; post 2: 8, 8
    keep_before = [True, True, True, False, True, False]  # post 0: 1; post 1: 2, 4 (mean 3); post 2: 0
    keep_after = [True, True, False, True, False, False]  # post 0: 2, 3 (mean 2.5); post 1: 6; post 2: none
    change, z = paired_change(before, after, 3, keep=(keep_before, keep_after))
    diffs = [1.5, 3.0]  # post 2 has no kept sample after: left out
    se = math.sqrt(sum((d - 2.25) ** 2 for d in diffs)) / math.sqrt(2)
    assert change == pytest.approx(2.25) and z == pytest.approx(2.25 / se)
    all_kept = [True] * 6
    assert paired_change(before, after, 3, keep=(all_kept, all_kept)) == pytest.approx(paired_change(before, after, 3))
    with pytest.raises(ValueError, match="no post"):
        paired_change(before, after, 3, keep=([False] * 6, all_kept))


def test_sample_summaries_draws_as_generate_completions_and_marks_cut_offs():
    from rlhf_helpers.course.generation import generate_completions
    from rlhf_helpers.course.summarize_rlhf import sample_summaries

    model, tok = _five_token_gpt2(n_positions=64)
    prompts = ["a b", "c"] * 20
    texts, finished = sample_summaries(model, tok, prompts, max_new_tokens=3, seed=5, batch_size=16)
    assert texts == generate_completions(model, tok, prompts, max_new_tokens=3, batch_size=16, do_sample=True, seed=5,
                                         progress=False)
    assert finished.shape == (40,) and finished.dtype == bool and 0 < finished.sum() < 40
    ids = [tok(t, add_special_tokens=False).input_ids for t in texts]
    assert all(len(i) < 3 for i, f in zip(ids, finished) if f)  # a finished summary ended before the limit
