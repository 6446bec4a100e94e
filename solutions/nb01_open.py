"""Reference solutions of notebook 01's open exercises (More exercises): loss on the whole text, sampling spread.

Each function takes what the notebook has (`P`, `config`, `train`, `tokenizer`, ...); the notebook's
"More exercises" section says what to run and what you should see.
"""

import dataclasses
import statistics

from rlhf_helpers.course.generation import generate_completions


def whole_text_trainer(P, config, train, tokenizer):
    """🐕 The same SFT run from the same base model, with the loss on every token (post and summary).

    `config` is the notebook's SFTConfig; only `completion_only_loss` and the output folder change.
    Returns an SFTTrainer: call `.train()`, then generate and score as in section 5.
    """
    from transformers import AutoModelForCausalLM
    from trl import SFTTrainer

    model = AutoModelForCausalLM.from_pretrained(P.models["gpt2"]).to(P.device)
    args = dataclasses.replace(config, completion_only_loss=False, output_dir=str(P.output_dir() / "whole_text"))
    return SFTTrainer(model=model, args=args, train_dataset=train, processing_class=tokenizer)


def rouge_l_over_seeds(model, tokenizer, prompts, references, rouge, max_new_tokens, seeds=range(5),
                       temperature=0.7):
    """🦁 ROUGE-L of sampled summaries (`do_sample=True`), once per seed; returns (scores, mean, spread).

    The spread is the sample standard deviation over seeds: how much one evaluation moves by chance alone.
    """
    scores = []
    for seed in seeds:
        summaries = generate_completions(model, tokenizer, prompts, max_new_tokens=max_new_tokens, do_sample=True,
                                         temperature=temperature, seed=seed, progress=False)
        scores.append(float(rouge.compute(predictions=summaries, references=references)["rougeL"]))
    return scores, statistics.mean(scores), statistics.stdev(scores)
