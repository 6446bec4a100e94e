"""Scorers with `evaluate`'s interface: ROUGE (notebook 01) and toxicity (notebooks 04–06).

In the full profile they are `evaluate.load("rouge")` and `evaluate.load("toxicity")`, which fetch
their scripts from the Hub. The tiny profile cannot, so it uses offline equivalents with the same
`compute(...)` signature and the same computation:

* `OfflineRouge` runs the `rouge_score` package exactly as evaluate's rouge script does
  (F-measure, bootstrap-aggregated "mid" value when `use_aggregator=True`).
* `Toxicity` runs a text-classification pipeline and returns the probability of the toxic label,
  exactly as evaluate's toxicity measurement does; in tiny it loads the toy toxicity classifier.
"""

from __future__ import annotations


class OfflineRouge:
    """`evaluate.load("rouge")` without the Hub: `compute(predictions, references, ...)`."""

    def compute(self, predictions, references, rouge_types=None, use_aggregator=True, use_stemmer=False):
        from rouge_score import rouge_scorer, scoring

        if len(predictions) != len(references):
            raise ValueError(f"{len(predictions)} predictions but {len(references)} references: pass one each")
        rouge_types = rouge_types or ["rouge1", "rouge2", "rougeL", "rougeLsum"]
        scorer = rouge_scorer.RougeScorer(rouge_types=rouge_types, use_stemmer=use_stemmer)
        scores = [scorer.score(ref, pred) for ref, pred in zip(references, predictions)]
        if not use_aggregator:
            return {key: [s[key].fmeasure for s in scores] for key in rouge_types}
        aggregator = scoring.BootstrapAggregator()
        for s in scores:
            aggregator.add_scores(s)
        return {key: value.mid.fmeasure for key, value in aggregator.aggregate().items()}


class Toxicity:
    """`evaluate.load("toxicity", module_type="measurement")` for any local or Hub classifier.

    `compute(predictions, aggregation="all"|"maximum"|"ratio", toxic_label="hate", threshold=0.5)`
    returns {"toxicity": [...]}, {"max_toxicity": x} or {"toxicity_ratio": x} (share ≥ threshold).
    """

    def __init__(self, model_path: str, device=None, batch_size: int = 64):
        from transformers import pipeline

        self.classifier = pipeline("text-classification", model=model_path, top_k=None, truncation=True,
                                   device=device, batch_size=batch_size)

    def compute(self, predictions, aggregation="all", toxic_label="hate", threshold=0.5):
        labels = self.classifier.model.config.id2label.values()
        if toxic_label not in labels:
            raise ValueError(f"toxic_label {toxic_label!r} is not one of the classifier's labels {list(labels)}")
        scores = [next(r["score"] for r in result if r["label"] == toxic_label)
                  for result in self.classifier(list(predictions))]
        if aggregation == "ratio":
            return {"toxicity_ratio": sum(s >= threshold for s in scores) / len(scores)}
        if aggregation == "maximum":
            return {"max_toxicity": max(scores)}
        return {"toxicity": scores}


def load_rouge(profile):
    """ROUGE for the profile: evaluate's in full, `OfflineRouge` in tiny (same numbers, no download)."""
    if profile.name == "full":
        import evaluate

        from rlhf_helpers.infra.offline import metric_source

        return evaluate.load(metric_source("rouge"))
    return OfflineRouge()


def load_toxicity(profile):
    """Toxicity for the profile: evaluate's measurement in full, the toy classifier in tiny."""
    if profile.name == "full":
        import evaluate

        from rlhf_helpers.infra.offline import metric_source

        return evaluate.load(metric_source("toxicity"), module_type="measurement")
    return Toxicity(profile.models["toxicity"], device=profile.device)
