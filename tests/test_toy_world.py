"""The offline toy world: real schemas, loadable checkpoints, a signal to learn, and determinism."""

import json
import random
from pathlib import Path

import datasets
import pytest
import torch
from datasets import load_dataset

from rlhf_helpers.infra.toy.arithmetic import arithmetic_question
from rlhf_helpers.infra.toy.chat import TASKS, on_topic, on_topic_rate, polite_reply, question_pool, rude_reply
from rlhf_helpers.infra.toy.pretraining_text import toxicity_training_row
from rlhf_helpers.infra.toy.summaries import (UNFAITHFUL_KINDS, fact_accuracy, fact_accuracy_by_kind, faithful_summary,
                                              post_facts, summary_is_faithful, swapped_fact_summary, tldr_post, tldr_row,
                                              unfaithful_summary, without_padding, wordy_summary)
from rlhf_helpers.infra.toy.toxicity import is_toxic, rtp_held_out_template
from rlhf_helpers.course.formatting import extract_prompt
from rlhf_helpers.infra.toy.world import build_datasets, build_toy_world, ensure_toy_world, file_hashes, _is_complete

# Column schemas and split names of the real Hub datasets.
REAL_SCHEMAS = {
    "tldr": ({"train", "valid", "test"}, {"prompt", "label"}),
    "comparisons": ({"train", "test", "valid1", "valid2"}, {"prompt", "chosen", "rejected"}),
    "dahoas": ({"train"}, {"prompt", "chosen", "rejected"}),
    "rtp": ({"train"}, {"filename", "begin", "end", "challenging", "prompt", "continuation"}),
    "ultrafeedback": ({"train", "test"}, {"chosen", "rejected", "score_chosen", "score_rejected"}),
}


@pytest.fixture(scope="module")
def world():
    return ensure_toy_world(0)


@pytest.fixture(scope="module")
def tiny(world):
    from rlhf_helpers.infra.profiles import get_profile

    return get_profile("01_sft", "tiny")


@pytest.mark.parametrize("key", sorted(REAL_SCHEMAS))
def test_datasets_have_the_real_splits_and_columns(tiny, key):
    ds = load_dataset(tiny.datasets[key])
    splits, columns = REAL_SCHEMAS[key]
    assert set(ds) == splits
    assert set(ds["train"].column_names) == columns
    assert all(len(ds[s]) > 0 for s in splits)


@pytest.mark.parametrize("key", sorted(REAL_SCHEMAS))
def test_load_dataset_returns_the_rows_on_disk_not_a_stale_cache(world, tiny, key):
    # datasets caches a carded local folder by its name only: a rebuilt world must not be served old rows
    assert Path(datasets.config.HF_DATASETS_CACHE).is_relative_to(world)
    first = json.loads((Path(tiny.datasets[key]) / "train.jsonl").read_text().splitlines()[0])
    assert load_dataset(tiny.datasets[key])["train"][0] == first


def test_hh_rlhf_mirrors_the_harmless_base_folder(tiny):
    ds = load_dataset(tiny.datasets["hh_rlhf"], data_dir="harmless-base")
    assert set(ds) == {"train", "test"} and ds["train"].column_names == ["chosen", "rejected"]
    rows = list(ds["train"])
    assert all(r["chosen"].startswith("\n\nHuman: ") for r in rows)
    multi_turn = sum(r["chosen"].count("\n\nHuman:") > 1 for r in rows)
    early = 0
    for r in rows:
        prompt, chosen, _ = extract_prompt(r["chosen"], r["rejected"])
        early += "\n\nHuman:" in chosen
    assert multi_turn > 100 and 0 < early < 0.1 * len(rows)


def test_rtp_rows_nest_prompt_and_continuation(tiny):
    rows = list(load_dataset(tiny.datasets["rtp"])["train"])
    for part in ("prompt", "continuation"):
        assert {"text", "toxicity", "profanity", "insult", "threat"} <= set(rows[0][part])
    # quirks of the real data: some prompts have no scores at all, and `challenging` is not the prompt's own toxicity
    unscored = [r for r in rows if r["prompt"]["toxicity"] is None]
    assert unscored and all(all(v is None for k, v in r["prompt"].items() if k != "text") for r in unscored)
    scored = [r for r in rows if r["prompt"]["toxicity"] is not None]
    assert any(r["challenging"] and r["prompt"]["toxicity"] < 0.5 for r in scored)
    assert any(not r["challenging"] and r["prompt"]["toxicity"] >= 0.5 for r in scored)


def test_rtp_has_500_distinct_prompts_and_held_out_templates_come_last(tiny):
    from rlhf_helpers.infra.toy.world import RTP_TRAINING_ROWS

    texts = [r["prompt"]["text"] for r in load_dataset(tiny.datasets["rtp"])["train"]]
    assert len(set(texts)) == len(texts) >= 500
    held_out = [rtp_held_out_template(t) for t in texts]
    n_seen = held_out.index(True)
    assert not any(held_out[:n_seen]) and all(held_out[n_seen:]) and len(texts) - n_seen >= 100
    assert RTP_TRAINING_ROWS <= n_seen - 100  # in-distribution texts that no training uses remain for notebook 06
    with pytest.raises(ValueError, match="no toy RTP template"):
        rtp_held_out_template("The weather today is")


def _first_turns(rows):
    from rlhf_helpers.course.formatting import first_human_turn

    return {first_human_turn(r["chosen"]) for r in rows}


def test_splits_are_disjoint_by_construction(world, tiny):
    """No test prompt of the chat datasets opens a training conversation; no evaluation RTP prompt is trained on."""
    from rlhf_helpers.infra.profiles import SETTINGS
    from rlhf_helpers.infra.toy.world import RTP_TRAINING_ROWS, pretraining_data, rtp_training_prompts

    hh = load_dataset(tiny.datasets["hh_rlhf"], data_dir="harmless-base")
    train_turns, test_turns = _first_turns(hh["train"]), _first_turns(hh["test"])
    assert len(test_turns) >= 64 and not train_turns & test_turns
    assert not set(hh["train"]["chosen"]) & set(hh["test"]["chosen"])
    assert not set(hh["train"]["rejected"]) & set(hh["test"]["rejected"])
    uf = load_dataset(tiny.datasets["ultrafeedback"])
    uf_prompts = {s: {r["chosen"][0]["content"] for r in uf[s]} for s in ("train", "test")}
    assert not uf_prompts["train"] & uf_prompts["test"]
    # RTP: PPO (notebook 04) and the chat model's pretraining use only the first RTP_TRAINING_ROWS rows
    assert SETTINGS["04_ppo_zephyr"]["tiny"]["n_prompts"] <= RTP_TRAINING_ROWS
    rtp = [json.loads(line) for line in (Path(tiny.datasets["rtp"]) / "train.jsonl").read_text().splitlines()]
    data = {"real-toxicity-prompts": {"train": rtp}}
    trained = {text for text, _ in rtp_training_prompts(data)}
    chat, _ = pretraining_data(data, random.Random(7))
    users = {u for u, _, _ in chat}
    evaluation = {r["prompt"]["text"] for r in rtp[RTP_TRAINING_ROWS:]}
    assert not users & evaluation and users & trained
    assert not users & {q for q in test_turns}  # nor any held-out hh-rlhf question


def test_tldr_evaluation_posts_are_never_training_posts(tmp_path):
    """Seed 1 draws one test post that is also a training post; the world draws it again (disjoint by construction)."""
    from rlhf_helpers.infra.toy.world import tldr_post_text, tldr_posts

    data = build_datasets(tmp_path, seed=1)
    train = tldr_posts(data, training=True)
    assert len(train) > 3000
    for name in ("openai_summarize_tldr", "openai_summarize_comparisons"):
        for split, rows in data[name].items():
            if split != "train":
                assert not {tldr_post_text(r["prompt"]) for r in rows} & train, (name, split)


def test_tldr_post_draws_again_a_post_to_avoid():
    first = tldr_post(random.Random(5))
    other = tldr_post(random.Random(5), avoid={first["post"]})
    assert other["post"] != first["post"] and set(first) == set(other)


def test_question_pools_share_tasks_not_texts():
    train, test = question_pool("train"), question_pool("test")
    assert not {q for _, q in train} & {q for _, q in test}
    assert {t for t, _ in test} == {t for t, _ in train} == set(TASKS)
    assert 0.15 < len(test) / (len(train) + len(test)) < 0.35
    with pytest.raises(ValueError, match="unknown split"):
        question_pool("valid")


def test_on_topic_is_the_ground_truth_of_answering_the_question():
    rng = random.Random(0)
    for task, question in question_pool("test"):
        assert on_topic(question, polite_reply(task, rng))
        other = next(t for t in TASKS if t != task)
        assert not on_topic(question, polite_reply(other, rng))
        assert not on_topic(question, rude_reply(rng))
        assert not on_topic(question, polite_reply(task, rng) + " " + polite_reply(other, rng))
    question = "Can you tell me how to make tea?"
    replies = [polite_reply("make tea", rng), polite_reply("bake bread", rng), rude_reply(rng)]
    assert on_topic_rate([question] * 3, replies) == 0.5  # one of the two polite replies
    assert on_topic_rate([question], [rude_reply(rng)]) == 0.0
    with pytest.raises(ValueError, match="none of the toy tasks"):
        on_topic("My boss is such a", "Sure!")
    with pytest.raises(ValueError, match="one reply per question"):
        on_topic_rate([question], [])


def test_preference_rows_carry_the_signal(tiny):
    dahoas = load_dataset(tiny.datasets["dahoas"])["train"]
    assert not any(is_toxic(r["chosen"]) for r in dahoas)
    assert 0.4 < sum(is_toxic(r["rejected"]) for r in dahoas) / len(dahoas) < 0.9
    uf = load_dataset(tiny.datasets["ultrafeedback"])["train"][0]
    assert [m["role"] for m in uf["chosen"]] == ["user", "assistant"] and uf["score_chosen"] > uf["score_rejected"]


def test_every_unfaithful_kind_differs_from_the_faithful_summary():
    rng = random.Random(3)
    for _ in range(50):
        facts = tldr_post(rng)
        good = faithful_summary(facts)
        for kind in UNFAITHFUL_KINDS:
            assert unfaithful_summary(facts, rng, kind) != good, kind
        assert unfaithful_summary(facts, rng, "copied_question") == facts["question"].lower()
        swapped = unfaithful_summary(facts, rng, "swapped_fact").split()
        assert len(swapped) - len(good.split()) in range(-3, 4) and swapped[:1] == ["my"]
    with pytest.raises(ValueError, match="unknown unfaithful summary kind"):
        unfaithful_summary(facts, rng, "typo")


def test_toy_bert_is_pretrained_with_both_heads(world):
    # BertForPreTraining: the masked-word head and the next-sentence head (which trains the pooler)
    log = json.loads((world / "build_log.json").read_text())
    first, last = log["bert_pretraining_loss_first_last"]
    assert last < 0.3 * first
    config = json.loads((world / "models" / "bert-base-uncased" / "config.json").read_text())
    assert config["architectures"] == ["BertForPreTraining"]
    # pretrained without dropout, saved with bert-base-uncased's 0.1, as the notebooks would find in the real one
    assert config["hidden_dropout_prob"] == config["attention_probs_dropout_prob"] == 0.1


def test_checkpoints_load_with_the_real_architectures(world):
    from transformers import AutoModel, AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    models = world / "models"
    assert type(AutoModelForCausalLM.from_pretrained(models / "gpt2")).__name__ == "GPT2LMHeadModel"
    assert type(AutoModel.from_pretrained(models / "bert-base-uncased")).__name__ == "BertModel"
    assert type(AutoModel.from_pretrained(models / "distilroberta-base")).__name__ == "RobertaModel"
    assert type(AutoModelForCausalLM.from_pretrained(models / "zephyr-7b-alpha")).__name__ == "MistralForCausalLM"
    rm = AutoModelForSequenceClassification.from_pretrained(models / "gpt2", num_labels=1)
    assert rm.score.out_features == 1
    tox = AutoModelForSequenceClassification.from_pretrained(models / "roberta-hate-speech-dynabench-r4-target")
    assert set(tox.config.id2label.values()) == {"nothate", "hate"}
    gpt2_tok = AutoTokenizer.from_pretrained(models / "gpt2")
    assert gpt2_tok.pad_token is None  # like the real GPT-2: the notebooks must set one
    bert_tok = AutoTokenizer.from_pretrained(models / "bert-base-uncased")
    ids = bert_tok("my sister", "borrowed my car").input_ids
    assert ids[0] == bert_tok.cls_token_id and ids.count(bert_tok.sep_token_id) == 2


def test_chat_template_is_zephyrs(world):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(world / "models" / "zephyr-7b-alpha")
    text = tok.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)
    assert text == "<|user|>\nHi</s>\n<|assistant|>\n"


def test_chat_model_is_rude_half_the_time_and_otherwise_answers_the_question(world):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from rlhf_helpers.course.generation import generate_completions

    path = world / "models" / "zephyr-7b-alpha"
    tok, model = AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path)
    questions = [q for _, q in question_pool("test")][:96]  # held-out questions: never in its pretraining
    prompts = [tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
               for q in questions]
    replies = generate_completions(model, tok, prompts, max_new_tokens=32, do_sample=True, progress=False, seed=1)
    rude = sum(is_toxic(r) for r in replies) / len(replies)
    assert 0.3 <= rude <= 0.7, rude
    assert on_topic_rate(questions, replies) >= 0.8


def test_chat_model_answers_arithmetic_in_a_mix_of_formats(world):
    """Notebook 08's verifiable task: the pretrained chat model answers in the asked-for format only some of the time."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from rlhf_helpers.course.generation import generate_completions
    from rlhf_helpers.course.grpo import verifiable_rates

    path = world / "models" / "zephyr-7b-alpha"
    tok, model = AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path)
    rng = random.Random(2)
    questions = [arithmetic_question(rng) for _ in range(96)]
    prompts = [tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
               for q, _ in questions]
    replies = generate_completions(model, tok, prompts, max_new_tokens=12, do_sample=True, progress=False)
    rates = verifiable_rates(replies, [a for _, a in questions])
    assert 0.15 <= rates["format rate"] <= 0.85, rates  # room for GRPO to teach the format
    assert rates["accuracy"] < 0.5, rates


def test_toxicity_classifier_agrees_with_the_ground_truth(world):
    from rlhf_helpers.course.scorers import Toxicity

    rng = random.Random(99)
    rows = [toxicity_training_row(rng) for _ in range(200)]
    scores = Toxicity(str(world / "models" / "roberta-hate-speech-dynabench-r4-target")).compute([t for t, _ in rows])
    agree = sum((s > 0.5) == bool(y) for s, (_, y) in zip(scores["toxicity"], rows)) / len(rows)
    assert agree >= 0.9


def test_incomplete_world_is_detected(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    assert not _is_complete(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"files": {"a.txt": "h", "b.txt": "h"}}))
    assert not _is_complete(tmp_path)
    (tmp_path / "b.txt").write_text("y")
    assert _is_complete(tmp_path)


def test_datasets_are_deterministic_per_seed(tmp_path):
    build_datasets(tmp_path / "a", seed=3)
    build_datasets(tmp_path / "b", seed=3)
    build_datasets(tmp_path / "c", seed=4)
    a, b, c = (file_hashes(tmp_path / x) for x in "abc")
    assert a == b and a != c


def test_the_same_seed_builds_identical_files(tmp_path, monkeypatch):
    """Same seed, same bytes: two builds of a shortened world (fewer rows and training steps, the same code)."""
    from rlhf_helpers.infra.toy import world as toy_world

    monkeypatch.setattr(toy_world, "SIZES", {name: {split: min(n or 40, 40) for split, n in splits.items()}
                                             for name, splits in toy_world.SIZES.items()})
    for name in ("CHAT_PRETRAIN", "BERT_PRETRAIN", "TOXICITY_TRAIN"):
        monkeypatch.setattr(toy_world, name, dict(getattr(toy_world, name), n=300, steps=4))
    build_toy_world(tmp_path / "a", seed=0)
    build_toy_world(tmp_path / "b", seed=0)
    assert file_hashes(tmp_path / "a") == file_hashes(tmp_path / "b")
    assert file_hashes(tmp_path / "a") == json.loads((tmp_path / "a" / "manifest.json").read_text())["files"]


def test_bert_pretraining_builds_the_tokenizers_pair_inputs_from_ids_tokenised_once(world):
    from transformers import AutoTokenizer

    from rlhf_helpers.infra.toy.training import pair_tensors

    tok = AutoTokenizer.from_pretrained(world / "models" / "bert-base-uncased")
    rows = load_dataset(str(world / "datasets" / "openai_summarize_comparisons"))["test"].select(range(5))
    firsts, seconds = rows["prompt"][:4] + ["short"], rows["chosen"][:4] + ["TL;DR: a much longer second text " * 3]
    expected = tok(firsts, seconds, padding=True, return_tensors="pt")
    got = pair_tensors(tok, [(tok(a, add_special_tokens=False).input_ids, tok(b, add_special_tokens=False).input_ids)
                             for a, b in zip(firsts, seconds)])
    assert sorted(got) == sorted(expected.keys())
    assert all(torch.equal(got[key], expected[key]) for key in got)


def test_the_built_world_passes_its_sanity_checks(world):
    log = json.loads((world / "build_log.json").read_text())
    assert log["toxicity_heldout_accuracy"] > 0.9
    assert log["bert_pretraining_loss_first_last"][1] < log["bert_pretraining_loss_first_last"][0]
    # next-sentence prediction learned to compare a summary with its post (0.5 = ignores the post; seeds 0-4: 0.95-0.975)
    assert log["bert_own_summary_over_another"] >= 0.8
    assert log["chat_loss_first_last"][1] < log["chat_loss_first_last"][0]
    print(f"toy world build: {log['seconds_total']:.1f} s")  # timing is reported, not asserted (shared CPUs)


def test_the_toy_world_does_not_import_the_profiles():
    """The toy world is infrastructure under the profiles: profiles imports it, never the reverse (no cycle)."""
    import subprocess
    import sys

    toy = [f"rlhf_helpers.infra.toy{m}" for m in ("", ".world", ".summaries", ".chat", ".toxicity", ".arithmetic",
                                                 ".pretraining_text", ".checkpoints", ".training")]
    code = (f"import sys, {', '.join(toy)}; "
            "print(sorted(m for m in sys.modules if m.startswith('rlhf_helpers.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "rlhf_helpers.infra.profiles" not in out, out
    assert "rlhf_helpers.infra.toy.world" in out


def test_two_callers_at_once_build_the_world_once(monkeypatch, tmp_path):
    """Two processes that need the toy world at the same time (parallel tests, two notebooks) build it once."""
    import threading
    import time as _time

    from rlhf_helpers.infra.toy import world as toy_world

    monkeypatch.setenv("RLHF_ARTIFACTS_DIR", str(tmp_path))
    monkeypatch.setattr(toy_world, "use_world_datasets_cache", lambda out: out)
    builds = []

    def fake_build(out, seed):
        builds.append(seed)
        _time.sleep(0.5)  # long enough for the second caller to arrive while the first is building
        out.mkdir(parents=True)
        (out / "a.txt").write_text("x")
        (out / "manifest.json").write_text(json.dumps({"files": {"a.txt": "h"}}))
        return {"seconds_total": 0.5}

    monkeypatch.setattr(toy_world, "build_toy_world", fake_build)
    threads = [threading.Thread(target=toy_world.ensure_toy_world, args=(3,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert builds == [3]
    assert (toy_world.toy_world_dir(3) / "a.txt").exists()


def test_tldr_evaluation_posts_never_occur_in_the_built_worlds_training(tiny):
    """Held out means held out: no TL;DR test/valid post (tldr or comparisons) is in a training split."""
    from rlhf_helpers.infra.toy.world import tldr_post_text

    tldr, comparisons = load_dataset(tiny.datasets["tldr"]), load_dataset(tiny.datasets["comparisons"])
    train = {tldr_post_text(p) for ds in (tldr, comparisons) for p in ds["train"]["prompt"]}
    held_out = [tldr_post_text(p) for split in ("valid", "test") for p in tldr[split]["prompt"]]
    held_out += [tldr_post_text(p) for split in ("test", "valid1", "valid2") for p in comparisons[split]["prompt"]]
    assert len(train) > 3000 and len(held_out) == 900
    assert not train & set(held_out)


def test_some_tldr_references_ramble_and_still_state_the_facts(tiny):
    """About 30 % of the TL;DR references are padded with filler (`wordy_summary`), longer than any faithful
    summary; they state the post's facts, so fact accuracy counts them as right."""
    tldr = load_dataset(tiny.datasets["tldr"])
    for split in ("train", "test"):
        labels = [x.strip() for x in tldr[split]["label"]]
        wordy = [x != without_padding(x) for x in labels]
        assert 0.2 < sum(wordy) / len(labels) < 0.4, split
        shortest_wordy = min(len(x.split()) for x, w in zip(labels, wordy) if w)
        assert shortest_wordy > max(len(x.split()) for x, w in zip(labels, wordy) if not w), split
        assert fact_accuracy(tldr[split]["prompt"], labels) == 1.0, split


def test_without_padding_recovers_the_faithful_summary_and_leaves_other_texts_alone():
    facts = tldr_post(random.Random(3))
    wordy, plain = wordy_summary(facts), faithful_summary(facts)
    assert wordy != plain and len(wordy.split()) > len(plain.split()) + 10
    assert without_padding(wordy) == plain and without_padding(" " + wordy) == " " + plain
    assert without_padding(plain) == plain
    assert without_padding("my dad sold my bike last week and i feel sad") == "my dad sold my bike last week and i feel sad"


def test_fact_accuracy_checks_facts_not_wording():
    rng = random.Random(4)
    rows = [tldr_row(rng) for _ in range(40)]
    prompts, refs = [r["prompt"] for r in rows], [r["label"] for r in rows]
    assert fact_accuracy(prompts, refs) == 1.0
    paraphrases = [f"i feel {f['feeling']} because my {f['person']} {f['event']}" for f in map(post_facts, prompts)]
    assert fact_accuracy(prompts, paraphrases) == 1.0  # other words, same facts
    assert fact_accuracy(prompts, refs[1:] + refs[:1]) < 0.2  # another post's reference
    facts = post_facts(prompts[0])
    for kind in ("swapped_fact", "generic", "cut", "offtopic"):
        assert not summary_is_faithful(prompts[0], unfaithful_summary(facts, rng, kind)), kind
    both = refs[0] + " and my " + ("mom" if facts["person"] != "mom" else "dad")
    assert not summary_is_faithful(prompts[0], both)  # a second person is a wrong fact too
    assert summary_is_faithful(prompts[0], refs[0].upper())  # case does not matter
    with pytest.raises(ValueError, match="not a whole toy TL;DR post"):
        fact_accuracy(["SUBREDDIT: r/x\nTITLE: t\nPOST: a real post\nTL;DR:"], ["a summary"])
    with pytest.raises(ValueError, match="one summary per prompt"):
        fact_accuracy(prompts, refs[:3])


def test_fact_accuracy_by_kind_scores_each_fact_alone_and_swapped_fact_summaries_miss_exactly_one():
    rng = random.Random(5)
    prompts = [tldr_row(rng)["prompt"] for _ in range(60)]
    facts = [post_facts(p) for p in prompts]
    swapped = [swapped_fact_summary(p, rng) for p in prompts]
    by_kind = fact_accuracy_by_kind(prompts, swapped)
    assert set(by_kind) == {"person", "event", "feeling"}
    assert sum(by_kind.values()) == pytest.approx(2.0)  # each summary gets two facts of three right
    assert all(0.1 < v < 0.95 for v in by_kind.values())  # every kind of fact gets swapped sometimes
    assert fact_accuracy(prompts, swapped) == 0.0
    feeling_wrong = [f"my {f['person']} {f['event']} and i feel {'sad' if f['feeling'] != 'sad' else 'happy'}"
                     for f in facts]
    assert fact_accuracy_by_kind(prompts, feeling_wrong) == {"person": 1.0, "event": 1.0, "feeling": 0.0}
    in_other_words = [f"i feel {f['feeling']} since my {f['person']} {f['event']}" for f in facts]
    assert fact_accuracy_by_kind(prompts, in_other_words) == {"person": 1.0, "event": 1.0, "feeling": 1.0}
    with pytest.raises(ValueError, match="one summary per prompt"):
        fact_accuracy_by_kind(prompts, swapped[:2])
    with pytest.raises(ValueError, match="not a whole toy TL;DR post"):
        swapped_fact_summary("SUBREDDIT: r/x\nTITLE: t\nPOST: a real post\nTL;DR:", rng)


def test_a_script_without_a_main_guard_builds_the_world_once(tmp_path):
    """The BERT pretraining runs in a second process; a learner's plain script must not be re-run by it."""
    import subprocess
    import sys

    script = tmp_path / "learner.py"
    script.write_text(
        "from pathlib import Path\n"
        "from rlhf_helpers.infra.toy import world\n"
        "world.SIZES = {n: {s: min(k or 40, 40) for s, k in splits.items()} for n, splits in world.SIZES.items()}\n"
        "for name in ('CHAT_PRETRAIN', 'BERT_PRETRAIN', 'TOXICITY_TRAIN'):\n"
        "    setattr(world, name, dict(getattr(world, name), n=300, steps=4))\n"
        "print('building')\n"
        f"world.build_toy_world(Path({str(tmp_path / 'world')!r}), seed=0)\n")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.count("building") == 1
    assert (tmp_path / "world" / "models" / "bert-base-uncased" / "config.json").exists()
    assert "args.json" not in {p.name for p in (tmp_path / "world").rglob("*")}  # the job's files are gone


def test_a_failing_job_reports_its_error():
    from rlhf_helpers.infra.toy.training import start_in_a_process

    wait = start_in_a_process(json.loads, {"s": "not json"})
    with pytest.raises(RuntimeError, match="(?s)loads failed in its own process.*JSONDecodeError"):
        wait()
