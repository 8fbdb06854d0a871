"""The glue to this deliverable's reference implementation (what ours is compared with)."""

from __future__ import annotations

from sklearn.base import BaseEstimator  # get_params / set_params from __init__, so clone() works


class HuggingFaceBPE(BaseEstimator):
    """Hugging Face ``tokenizers`` byte-level BPE (Rust), trained on the same texts and vocabulary size."""

    def __init__(self, vocab_size: int = 1000):
        self.vocab_size = vocab_size

    def fit(self, X, y=None):
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        from models.text import documents

        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=self.vocab_size,
            min_frequency=2,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tokenizer.train_from_iterator(documents(X), trainer=trainer)
        self.tokenizer_ = tokenizer
        return self

    def transform(self, X):
        import numpy as np

        from models.text import documents

        encoded = np.empty(len(texts := documents(X)), dtype=object)
        encoded[:] = [encoding.ids for encoding in self.tokenizer_.encode_batch(texts)]
        return encoded

    def inverse_transform(self, encoded):
        import numpy as np

        return np.array([self.tokenizer_.decode(list(ids)) for ids in encoded], dtype=object)
