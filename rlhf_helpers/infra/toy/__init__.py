"""The offline toy world of the tiny profile (infrastructure, not course content).

One entry point builds or finds it: `ensure_toy_world(seed)` returns its folder (datasets in the real
schemas, tiny checkpoints of the real architectures), building it on first use. The notebooks never
import this package directly except for the world's *ground truth*, which real data does not have and
the tiny profile uses to check what a model did (is a reply toxic? does it answer the
question asked? does a summary state the post's facts? was an RTP prompt's template held out of training? what is the sum of an arithmetic question?).
The signal is deliberately simple enough for a 2-layer model to learn in seconds.

    world.py              build, cache and version the world
  one module per family of toy data, with its ground truth (and the notebooks that use it):
    summaries.py          toy Reddit posts and summaries (TL;DR, comparisons), a summary's facts        01, 02, 07
    chat.py               questions, polite/rude replies (hh-rlhf, Dahoas, UltraFeedback), on_topic     03–06, 08
    toxicity.py           insult words, is_toxic, RealToxicityPrompts, its held-out templates           04, 06, 08
    arithmetic.py         addition questions and their answers: the verifiable task                     08
  the tiny models:
    pretraining_text.py   what the tiny models read before any notebook (chat pairs, toxicity rows)
    checkpoints.py        the tokenizer and the tiny random-init checkpoints
    training.py           their short pretraining (chat model, toxicity classifier, BERT's MLM + NSP)
"""

from .arithmetic import arithmetic_answer, arithmetic_question
from .chat import on_topic, on_topic_rate
from .summaries import fact_accuracy, fact_accuracy_by_kind, post_facts, summary_is_faithful, swapped_fact_summary
from .toxicity import is_toxic, rtp_held_out_template
from .world import ensure_toy_world, toy_world_dir

__all__ = ["ensure_toy_world", "toy_world_dir", "is_toxic", "on_topic", "on_topic_rate", "rtp_held_out_template",
           "arithmetic_question", "arithmetic_answer", "fact_accuracy", "fact_accuracy_by_kind", "post_facts",
           "summary_is_faithful", "swapped_fact_summary"]
