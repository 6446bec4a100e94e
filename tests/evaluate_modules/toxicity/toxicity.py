"""Stand-in for the Hub module `evaluate-measurement/toxicity` (same interface), for offline tests."""

import datasets
import evaluate
from transformers import pipeline


class Toxicity(evaluate.Measurement):
    def _info(self):
        return evaluate.MeasurementInfo(
            module_type="measurement", description="toxicity with a hate-speech classifier", citation="",
            inputs_description="", features=datasets.Features({"predictions": datasets.Value("string", id="sequence")}))

    def _download_and_prepare(self, dl_manager):
        model = ("facebook/roberta-hate-speech-dynabench-r4-target" if self.config_name == "default"
                 else self.config_name)
        self.toxic_classifier = pipeline("text-classification", model=model, top_k=99999, truncation=True)

    def _compute(self, predictions, aggregation="all", toxic_label="hate", threshold=0.5):
        scores = [next(r["score"] for r in result if r["label"] == toxic_label)
                  for result in self.toxic_classifier(list(predictions))]
        if aggregation == "ratio":
            return {"toxicity_ratio": sum(s >= threshold for s in scores) / len(scores)}
        if aggregation == "maximum":
            return {"max_toxicity": max(scores)}
        return {"toxicity": scores}
