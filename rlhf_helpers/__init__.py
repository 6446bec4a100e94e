"""Helpers for the RLHF course notebooks, in three parts. Nothing runs at import time.

course/    what the notebooks teach from: read these to see how each method works
    sft                   completion-only labels, ROUGE-L by hand                          01
    reward_math           Bradley-Terry pairwise loss, last-token pooling                  02, 03
    reward_model          LoRA configs, pair encoding, scoring, the wrong-post check       02, 03, 04, 07
    reward_data           comparisons: split by prompt, long pairs out, wrong-post pairs   02, 03, 04, 07
    ppo_math              log-probs, KL estimators, rewards, GAE, PPO losses               04
    ppo_rollout, ppo      the course's own PPO: rollouts, update, training loop            04, 07, 08
    dpo_math, dpo         sequence log-probs, the DPO loss and gradient, held-out margins   05
    toxicity_metrics      RealToxicityPrompts' metrics, bootstrap intervals, win rate      06, 07
    evaluation            several aligned policies side by side, K samples per prompt      06, 08
    summarize_rlhf        the normalised summary reward, the no-EOS penalty, paired tests  07
    grpo_math, grpo       RLOO and GRPO math; around TRL's RLOOTrainer and GRPOTrainer     08
    formatting            hh-rlhf transcripts to preference pairs; Dahoas, TL;DR, RTP      01–08
    dataset_checks        check_columns, check_not_empty, filter_with_count: fail early    01–08
    generation, lengths, scorers, quantization, plotting   shared by most notebooks

checkers/  the auto-checked exercises: one module per notebook (nbNN_name.py, beside solutions/nbNN_name.py),
           and core.py, which runs a learner's function against the reference and names known mistakes

infra/     the course's machinery, not course content
    profiles, precision, paths   the tiny and full profiles, dtype choice, where artifacts go   every notebook
    results, expected            the "what you should see" report and its ranges                every notebook
    runner, offline, colab       running notebooks headless, offline copies, Colab and Drive
    stages                       models a later notebook loads, saved whole with a manifest     01, 04–08
    recipes, train_ppo, trl_script   the training runs as command-line recipes (at scale)
    quiet                        library messages that teach nothing, silenced at their source
    toy/                         the tiny profile's offline toy world and its ground truth
"""

__version__ = "0.1.0"
