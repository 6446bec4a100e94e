"""The comparison data a reward model is trained and tested on (notebooks 02, 03, 04 and 07).

Each function takes a preference dataset (`prompt`, `chosen`, `rejected`) and returns another: `split_by_prompt`
keeps every test prompt out of training (03), `filter_long_pairs` drops the pairs too long for the model and says
how many went (03, 04, 07), and two kinds of extra pairs ask whether a summary reward model reads the post:
`summary_only_pairs`, whose rejected summary is bad on its own (02's contrast: nothing in them needs the post),
and `add_wrong_post_pairs`, which only the post can rank (07's reward model trains on them). The model side
(LoRA, encoding, scoring) is `reward_model.py`.
"""

from __future__ import annotations


def summary_only_pairs(dataset, seed: int = 0):
    """Comparisons whose rejected summary is the chosen one, broken in a way the summary alone shows.

    Each row keeps its post and its chosen summary; the rejected summary becomes the chosen one with its words
    shuffled or cut to its first half (notebook 02's contrast). Nothing in such data needs the post: a reward model
    trained on it can rank every pair without reading the post. "TL;DR:" prefixes are kept.
    """
    import random

    rng = random.Random(seed)

    def corrupt(row):
        prefix, _, text = row["chosen"].rpartition("TL;DR:")
        words = text.split()
        if len(words) < 2:
            raise ValueError(f"a chosen summary of {len(words)} word(s) cannot be shuffled or cut: {row['chosen']!r}")
        if rng.random() < 0.5:
            broken = words[: len(words) // 2]
        else:
            broken = words[:]
            while broken == words:
                broken = rng.sample(words, len(words))
        return {"rejected": (prefix + "TL;DR: " if "TL;DR:" in row["chosen"] else "") + " ".join(broken)}

    return dataset.map(corrupt)


def add_wrong_post_pairs(dataset, share: float = 1.0, seed: int = 0, tries: int = 50):
    """The comparisons plus wrong-post pairs: (post i, its chosen summary ≻ the chosen summary of another post).

    Both summaries of such a pair are good summaries, so nothing in the summaries alone ranks them: a reward model
    must compare each summary with the post. A reward model trained only on comparisons whose rejected summaries
    are bad on their own (too short, repeated, off-topic) can rank those well without reading the post.

    Args:
        dataset: rows with `prompt`, `chosen` and `rejected` (other columns are kept, copied from row i).
        share: wrong-post pairs to add per row: `round(share * len(dataset))` pairs in all. Up to 1, one pair for
            each of that many rows, drawn at random; 2 gives every row two pairs, with partners drawn apart.
        seed: seeds which rows get a pair and which other post each one gets. Each whole pass over the rows draws
            from its own stream (seed, seed + 1000, ...), so a larger share keeps the pairs of a smaller one.
        tries: random draws per row to find a partner with another post and another chosen summary (the real
            comparisons hold many rows per post, so a random row is often the same post).
    Returns:
        The dataset with the new rows appended after the original ones; rows that found no partner get none and
        are counted in a printed line.
    """
    import random

    from datasets import concatenate_datasets

    from rlhf_helpers.course.dataset_checks import check_columns

    if not share >= 0.0:
        raise ValueError(f"share={share}: give the number of wrong-post pairs per row, 0 or more "
                         "(0 adds none, 1 adds one per row, 2 two per row)")
    check_columns(dataset, ["prompt", "chosen", "rejected"], name="comparisons")
    n_new = round(share * len(dataset))
    if n_new == 0:
        return dataset
    prompts, chosen = dataset["prompt"], dataset["chosen"]
    picked, partners = [], []
    for start in range(0, n_new, len(dataset)):  # one pass over the rows per whole unit of share
        rng = random.Random(seed + 1000 * (start // len(dataset)))
        for i in sorted(rng.sample(range(len(dataset)), min(n_new - start, len(dataset)))):
            for _ in range(tries):
                j = rng.randrange(len(dataset))
                if prompts[j] != prompts[i] and chosen[j].strip() != chosen[i].strip():
                    picked.append(i)
                    partners.append(chosen[j])
                    break
    if not picked:
        raise ValueError(f"no row of {len(dataset)} found another post with another chosen summary in {tries} tries: "
                         "wrong-post pairs need comparisons of at least two different posts")
    if len(picked) < n_new:
        print(f"{n_new - len(picked)} of {n_new} rows found no other post with another summary in {tries} tries: "
              "they get no wrong-post pair")
    wrong = dataset.select(picked).map(lambda row, k: {"rejected": partners[k]}, with_indices=True)
    return concatenate_datasets([dataset, wrong])


def split_by_prompt(dataset, test_size: int, seed: int = 0, column: str = "prompt"):
    """Split a dataset into "train" and "test" so that no prompt of the test split occurs in the train split.

    A random row split puts a prompt that occurs in several rows on both sides, and "held-out" accuracy then
    measures memory. Here whole groups of rows with the same `column` go to "test" (prompts in a shuffled order,
    seeded) until it holds at least `test_size` rows. Returns a `datasets.DatasetDict`.
    """
    import random

    from datasets import DatasetDict

    prompts = sorted(set(dataset[column]))
    if test_size >= len(dataset):
        raise ValueError(f"test_size={test_size} leaves no training rows out of {len(dataset)}: choose a smaller n_eval")
    random.Random(seed).shuffle(prompts)
    counts: dict[str, int] = {}
    for prompt in dataset[column]:
        counts[prompt] = counts.get(prompt, 0) + 1
    test_prompts, n = set(), 0
    for prompt in prompts:
        if n >= test_size:
            break
        test_prompts.add(prompt)
        n += counts[prompt]
    in_test = [prompt in test_prompts for prompt in dataset[column]]
    return DatasetDict(train=dataset.select([i for i, t in enumerate(in_test) if not t]),
                       test=dataset.select([i for i, t in enumerate(in_test) if t]))


def filter_long_pairs(dataset, tokenizer, max_length: int, columns=("chosen", "rejected")):
    """Drop rows where any of `columns` is longer than `max_length` tokens (EOS included); print the count.

    `RewardTrainer` drops such pairs silently; doing it first lets us see how many go.
    """
    from rlhf_helpers.course.lengths import drop_long, text_pair_lengths

    return drop_long(dataset, text_pair_lengths(tokenizer, dataset[columns[0]], dataset[columns[1]]), max_length,
                     "pairs")
