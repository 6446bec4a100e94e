"""The offline toy world of the tiny profile (infrastructure, not course content).

One entry point builds or finds it: `ensure_toy_world(seed)` returns its folder (datasets in the real
schemas, tiny checkpoints of the real architectures), building it on first use. The notebooks never
import this package directly except for the world's *ground truth*, which real data does not have and
the tiny profile uses to check what a model did (is a reply toxic? does it answer the
question asked? does a summary state the post's facts? was an RTP prompt's template held out of training? what is the sum of an arithmetic question?).

    world.py   build, cache and version the world       text.py   the toy rows and their ground truth
    models.py  tokenizer, tiny checkpoints, pretraining
"""

from .text import (arithmetic_answer, arithmetic_question, fact_accuracy, fact_accuracy_by_kind, is_toxic, post_facts,
                   summary_is_faithful, on_topic, on_topic_rate, rtp_held_out_template, swapped_fact_summary)
from .world import ensure_toy_world, toy_world_dir

__all__ = ["ensure_toy_world", "toy_world_dir", "is_toxic", "on_topic", "on_topic_rate", "rtp_held_out_template",
           "arithmetic_question", "arithmetic_answer", "fact_accuracy", "fact_accuracy_by_kind", "post_facts",
           "summary_is_faithful", "swapped_fact_summary"]
