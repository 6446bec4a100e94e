"""The reference solutions of the open exercises (solutions/nbNN_open.py) compute what the notebooks say."""

import ast
import importlib
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rlhf_helpers.course.reward_math import pairwise_loss
from rlhf_helpers.checkers.nb06_toxicity_eval import clustered_scores
from rlhf_helpers.solutions import nb02_open, nb03_open, nb04_open, nb05_open, nb06_open


# ----------------------------------------------------------------------------- 03: per-token reward-model loss
def test_per_token_loss_is_zero_without_gradient_when_the_summaries_agree():
    ids = torch.tensor([[5, 6, 7, 0]])
    mask = torch.tensor([[1, 1, 1, 0]])
    values = torch.randn(1, 4, requires_grad=True)
    loss = nb03_open.per_token_pairwise_loss(values, values, ids, ids, mask, mask)
    loss.backward()
    assert loss.item() == 0.0 and values.grad.abs().sum() == 0


def test_per_token_loss_uses_the_positions_from_the_first_difference_to_the_longer_end():
    ids_c, mask_c = torch.tensor([[1, 2, 3, 4, 9]]), torch.tensor([[1, 1, 1, 1, 1]])  # 5 tokens
    ids_r, mask_r = torch.tensor([[1, 2, 8, 0, 0]]), torch.tensor([[1, 1, 1, 0, 0]])  # 3 tokens, differs at t = 2
    v_c = torch.tensor([[0.1, 0.2, 0.3, 0.4, 0.5]])
    v_r = torch.tensor([[0.1, 0.2, -1.0, 7.0, 7.0]])  # pad values 7 must not be read: the last real value is -1
    want = -F.logsigmoid(torch.tensor([0.3 + 1.0, 0.4 + 1.0, 0.5 + 1.0])).mean()
    got = nb03_open.per_token_pairwise_loss(v_c, v_r, ids_c, ids_r, mask_c, mask_r)
    assert torch.allclose(got, want)
    # a pair that differs only in its last token is the ordinary last-token loss
    ids_r2 = torch.tensor([[1, 2, 3, 4, 8]])
    v_r2 = torch.tensor([[0.1, 0.2, 0.3, 0.4, -0.5]])
    got = nb03_open.per_token_pairwise_loss(v_c, v_r2, ids_c, ids_r2, mask_c, mask_c)
    assert torch.allclose(got, pairwise_loss(v_c[:, -1], v_r2[:, -1]))


def test_ultrafeedback_margin_column_and_its_loss():
    datasets = pytest.importorskip("datasets")
    rows = datasets.Dataset.from_list([{"chosen": "a", "rejected": "b", "score_chosen": 9.0, "score_rejected": 2.0}])
    out = nb03_open.ultrafeedback_with_margin(rows, lambda r: {"chosen": r["chosen"], "rejected": r["rejected"]}, 0.5)
    assert out.column_names == ["chosen", "rejected", "margin"] and out[0]["margin"] == 3.5
    r_c, r_r = torch.tensor([1.0]), torch.tensor([0.0])
    assert pairwise_loss(r_c, r_r, torch.tensor([3.5])) > pairwise_loss(r_c, r_r)  # a margin asks for more


# ----------------------------------------------------------------------------- 02: centring, wrong-post pairs
def test_centring_term_moves_only_the_origin():
    r_c, r_r = torch.tensor([2.0, 3.0]), torch.tensor([1.0, 0.5])
    shift = torch.tensor(0.0, requires_grad=True)
    loss = nb02_open.centred_pairwise_loss(r_c + shift, r_r + shift, 0.01)
    (grad,) = torch.autograd.grad(loss, shift)
    assert grad > 0  # rewards above 0 on average: descent lowers them all
    assert torch.allclose(nb02_open.centred_pairwise_loss(r_c, r_r, 0.01),
                          pairwise_loss(r_c, r_r) + 0.01 * ((r_c + r_r) ** 2).mean())
    balanced_c, balanced_r = torch.tensor([1.0, 2.0]), torch.tensor([-1.0, -2.0])  # every pair sums to 0
    assert torch.allclose(nb02_open.centred_pairwise_loss(balanced_c, balanced_r, 0.01),
                          pairwise_loss(balanced_c, balanced_r))


def test_wrong_post_pairs_pair_each_post_with_another_posts_summary():
    datasets = pytest.importorskip("datasets")
    rows = [{"prompt": f"post {i}", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(6)]
    out = nb02_open.add_wrong_post_pairs(datasets.Dataset.from_list(rows), seed=1)
    assert len(out) == 12
    wrong = [r for r in out if r["rejected"].startswith("good")]
    assert len(wrong) == 6 and {r["prompt"] for r in wrong} == {r["prompt"] for r in rows}
    assert all(r["rejected"] != r["chosen"] and r["chosen"] == "good " + r["prompt"].split()[1] for r in wrong)


def test_nb02_pooler_saturation_is_the_share_of_pooler_outputs_beyond_the_threshold(tmp_path):
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"]) + "\n")
    tokenizer = BertTokenizer(str(tmp_path / "vocab.txt"))
    config = BertConfig(vocab_size=7, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
                        num_labels=1)
    model = BertForSequenceClassification(config).eval()
    dense = model.bert.pooler.dense
    with torch.no_grad():
        dense.weight.zero_()
        dense.bias.copy_(torch.tensor([10.0, -10.0, 0.5, 0, 0, 0, 0, 0]))  # tanh: ±1 on two of 8 outputs
    share = nb02_open.pooler_saturation(model, tokenizer, ["a b", "b"], ["a", "a b a"], max_length=16)
    assert share == pytest.approx(2 / 8)
    assert not model.bert.pooler._forward_hooks  # the hook is removed


# ----------------------------------------------------------------------------- 04: PPO-ptx, polite-vs-rude
@pytest.fixture(scope="module")
def tiny_lm():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(vocab_size=20, n_positions=16, n_embd=16, n_layer=1, n_head=2, bos_token_id=0, eos_token_id=0)
    return GPT2LMHeadModel(config).eval()  # no dropout: the same logits every call


def test_ptx_term_is_the_masked_next_token_nll_and_descent_raises_the_likelihood(tiny_lm):
    ids = torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    logp = torch.log_softmax(tiny_lm(input_ids=ids).logits, -1)
    by_hand = -(logp[0, 0, 4] + logp[0, 1, 5] + logp[0, 2, 6] + logp[1, 0, 8]) / 4
    nll = nb04_open.ptx_nll(tiny_lm, ids, mask)
    assert torch.allclose(nll, by_hand, atol=1e-5)
    gamma = 1.0
    params = [p for p in tiny_lm.parameters()]
    grads = torch.autograd.grad(gamma * nll, params)  # the term PPO-ptx adds to the minimised loss
    with torch.no_grad():
        for p, g in zip(params, grads):
            p -= 0.1 * g
        after = nb04_open.ptx_nll(tiny_lm, ids, mask)
        for p, g in zip(params, grads):  # restore for other tests
            p += 0.1 * g
    assert after < nll  # a descent step on +γ·NLL raises log π of the pretraining text


def test_polite_vs_rude_keeps_exactly_the_pairs_with_a_rude_rejected_reply():
    datasets = pytest.importorskip("datasets")
    from rlhf_helpers.infra.toy.toxicity import TOXIC_WORDS

    insult = TOXIC_WORDS[0]
    rows = [{"chosen": "\n\nHuman: hi\n\nAssistant: Sure, happy to help.",
             "rejected": f"\n\nHuman: hi\n\nAssistant: Go away, {insult}."},
            {"chosen": "\n\nHuman: hi\n\nAssistant: Sure, happy to help.",
             "rejected": "\n\nHuman: hi\n\nAssistant: First oil the chain."},
            {"chosen": f"\n\nHuman: you {insult}\n\nAssistant: Sure.",  # the insult is in the human turn only
             "rejected": f"\n\nHuman: you {insult}\n\nAssistant: No."}]
    out = nb04_open.polite_vs_rude(datasets.Dataset.from_list(rows))
    assert out["rejected"] == [rows[0]["rejected"]]


def test_exercise_configs_change_only_what_the_exercise_says():
    from rlhf_helpers.course.ppo import PPOConfig

    config = PPOConfig()
    adaptive = nb04_open.adaptive_kl_config(config, kl_target=2.0, horizon_factor=0.5)
    assert adaptive.adaptive_kl and adaptive.kl_target == 2.0 and adaptive.kl_horizon == config.kl_horizon // 2
    assert adaptive.beta == config.beta and adaptive.learning_rate == config.learning_rate


# ----------------------------------------------------------------------------- 05: IPO
def test_ipo_loss_is_its_formula_and_pulls_the_margin_to_one_over_two_beta():
    beta = 0.25  # target margin 1 / (2β) = 2
    pc, pr = torch.tensor([-3.0, -5.0]), torch.tensor([-6.0, -4.0])
    rc, rr = torch.tensor([-4.0, -5.0]), torch.tensor([-4.0, -4.0])
    h = (pc - rc) - (pr - rr)  # margins 3 and 0
    assert torch.allclose(nb05_open.ipo_loss(pc, pr, rc, rr, beta), ((h - 2.0) ** 2).mean())
    assert nb05_open.ipo_loss(torch.tensor([0.0]), torch.tensor([-2.0]), torch.tensor([0.0]), torch.tensor([0.0]),
                              beta).item() == 0.0  # at the target margin
    chosen = torch.tensor([-3.0], requires_grad=True)  # margin 3 > 2: past the target
    nb05_open.ipo_loss(chosen, torch.tensor([-6.0]), torch.tensor([-4.0]), torch.tensor([-4.0]), beta).backward()
    assert chosen.grad > 0  # descent LOWERS the chosen log-prob; the sigmoid loss would still raise it
    lengths = torch.tensor([2.0]), torch.tensor([4.0])
    got = nb05_open.ipo_loss(torch.tensor([-2.0]), torch.tensor([-8.0]), torch.tensor([0.0]), torch.tensor([0.0]), beta,
                             *lengths)
    assert math.isclose(got.item(), ((-1.0 + 2.0) - 2.0) ** 2)  # per-token averages, as TRL's loss_type="ipo"


# ----------------------------------------------------------------------------- 06: K, paired bootstrap, thresholds
def test_paired_bootstrap_of_the_difference_covers_the_truth_and_is_narrower():
    covered, paired_w, unpaired_w = 0, [], []
    for seed in range(60):
        rng = np.random.default_rng(seed)
        level = rng.beta(0.5, 2.0, size=(30, 1))             # (N, 1) how much each prompt baits, mean 0.2
        base = level + rng.normal(0, 0.1, size=(30, 4))       # (N, K)
        aligned = 0.5 * level + rng.normal(0, 0.1, size=(30, 4))  # the same prompts: true difference -0.5 * 0.2
        _, low, high = nb06_open.paired_bootstrap_diff(base, aligned, n_boot=200, seed=seed)
        covered += low <= -0.1 <= high
        _, u_low, u_high = nb06_open.unpaired_bootstrap_diff(base, aligned, n_boot=200, seed=seed)
        paired_w.append(high - low)
        unpaired_w.append(u_high - u_low)
    assert covered >= 51  # about 95 % of 60
    assert np.mean(paired_w) < 0.7 * np.mean(unpaired_w)


def test_metrics_by_k_and_disagreements():
    scores = clustered_scores(40, 8, seed=3)
    table = nb06_open.metrics_by_k(scores, ks=(1, 2, 4, 8), n_boot=100)
    assert table["expected max toxicity"].is_monotonic_increasing
    assert table["expected max toxicity"].iloc[-1] > table["expected max toxicity"].iloc[0]
    texts = ["x", "y", "z"]
    assert nb06_open.disagreements(texts, [0.9, 0.1, 0.6], [0.8, 0.7, 0.2])["text"].tolist() == ["y", "z"]


# ----------------------------------------------------------------------------- every open exercise has its solution
NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_open_exercise_has_a_reference_solution_whose_code_parses_and_imports(path):
    text = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown")
    section = text.split("## More exercises", 1)[1].split("\n## What you should see", 1)[0]
    exercises = re.findall(r"^\* (?:🐕|🦁)", section, re.M)
    solutions = re.findall(r"<details><summary>Reference solution</summary>(.*?)</details>", section, re.S)
    assert exercises and len(solutions) == len(exercises), f"{path.name}: {len(exercises)} exercises, {len(solutions)} solutions"
    for solution in solutions:
        assert "**What to look for.**" in solution
        for block in re.findall(r"```python\n(.*?)```", solution, re.S):
            for node in ast.walk(ast.parse(block)):  # a snippet that does not parse fails here
                if isinstance(node, ast.ImportFrom):
                    assert not node.module.startswith("solutions"), f"{path.name}: import rlhf_helpers.solutions, " \
                        f"not {node.module}: a bare `solutions` is only on the path inside a clone"
                if isinstance(node, ast.ImportFrom) and node.module.startswith("rlhf_helpers.solutions."):
                    module = importlib.import_module(node.module)
                    missing = [a.name for a in node.names if not hasattr(module, a.name)]
                    assert not missing, f"{path.name}: {node.module} has no {missing}"
