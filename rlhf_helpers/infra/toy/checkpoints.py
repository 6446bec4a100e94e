"""The toy world's tokenizer and tiny checkpoints: a locally trained BPE and small random-init models.

Used by `world.py`. The checkpoints use the same architecture classes as the real models
(GPT-2, BERT, RoBERTa, Mistral for Zephyr), so notebooks load them with the same
`AutoModel*.from_pretrained(path)` calls; only the sizes differ. How some of them are then pretrained is
`training.py`.
"""

from __future__ import annotations

from pathlib import Path

SPECIAL_TOKENS = ["<|endoftext|>", "<s>", "</s>", "<pad>", "<unk>", "<mask>",
                  "[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]", "<|user|>", "<|assistant|>", "<|system|>"]

# Zephyr's chat template (HuggingFaceH4/zephyr-7b-alpha), unchanged.
ZEPHYR_CHAT_TEMPLATE = (
    "{% for message in messages %}\n"
    "{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n"
    "{% endif %}\n"
    "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n"
    "{% endfor %}"
)


def train_bpe(texts: list[str], vocab_size: int = 1024):
    """Train a byte-level BPE tokenizer (as GPT-2's) on the toy texts; returns a `tokenizers.Tokenizer`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    return tok


def wrap_tokenizer(bpe, kind: str):
    """The BPE vocabulary with the special tokens and framing of one model family.

    kind: "gpt2" (no pad token, like the real GPT-2), "bert" ([CLS] a [SEP]), "roberta" (<s> a </s>)
    or "zephyr" (<s>/</s>, Zephyr's chat template).
    """
    from tokenizers import Tokenizer, processors
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer.from_str(bpe.to_str())  # a copy: post-processors differ per model
    tid = bpe.token_to_id
    if kind == "gpt2":
        return PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                       unk_token="<|endoftext|>", model_max_length=1024)
    if kind == "bert":
        bpe.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", tid("[CLS]")), ("[SEP]", tid("[SEP]"))])
        return PreTrainedTokenizerFast(tokenizer_object=bpe, cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]",
                                       mask_token="[MASK]", unk_token="[UNK]", model_max_length=512)
    if kind == "roberta":
        bpe.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
            special_tokens=[("<s>", tid("<s>")), ("</s>", tid("</s>"))])
        return PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", cls_token="<s>",
                                       sep_token="</s>", pad_token="<pad>", mask_token="<mask>", unk_token="<unk>",
                                       model_max_length=512)
    if kind == "zephyr":
        tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                      pad_token="</s>", model_max_length=2048)
        tok.chat_template = ZEPHYR_CHAT_TEMPLATE
        return tok
    raise ValueError(f"unknown tokenizer kind {kind!r}; expected gpt2, bert, roberta or zephyr")


def tiny_model(kind: str, tokenizer, seed: int, **kwargs):
    """A random-init tiny model of the real architecture: gpt2, bert, roberta or mistral."""
    import torch
    import transformers as tf

    vocab = len(tokenizer)
    torch.manual_seed(seed)
    if kind == "gpt2":
        # "gelu_pytorch_tanh" is GPT-2's "gelu_new" (the tanh approximation of GELU) as one fused kernel instead
        # of five operations: a forward and backward pass of the tiny GPT-2 takes about a third less time on a CPU
        cfg = tf.GPT2Config(vocab_size=vocab, n_positions=512, n_embd=64, n_layer=2, n_head=4,
                            activation_function="gelu_pytorch_tanh",
                            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
        return tf.GPT2LMHeadModel(cfg)
    common = dict(vocab_size=vocab, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=128, pad_token_id=tokenizer.pad_token_id)
    if kind == "bert":
        return tf.BertForPreTraining(tf.BertConfig(max_position_embeddings=512, **common, **kwargs))  # MLM + NSP heads
    if kind == "roberta":
        cfg = tf.RobertaConfig(max_position_embeddings=514, bos_token_id=tokenizer.bos_token_id,
                               eos_token_id=tokenizer.eos_token_id, **common, **kwargs)
        return tf.RobertaForSequenceClassification(cfg) if "num_labels" in kwargs else tf.RobertaForMaskedLM(cfg)
    if kind == "mistral":
        cfg = tf.MistralConfig(vocab_size=vocab, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                               num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                               tie_word_embeddings=False, sliding_window=None, bos_token_id=tokenizer.bos_token_id,
                               eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
        return tf.MistralForCausalLM(cfg)
    raise ValueError(f"unknown model kind {kind!r}; expected gpt2, bert, roberta or mistral")


def save(model, tokenizer, path: Path) -> None:
    """`save_pretrained` for model and tokenizer, so `from_pretrained(path)` reloads both."""
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
