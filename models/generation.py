"""A served text generator: a tokenizer and a language model behind one text-in, text-out interface.

The corpus recipe trains a tokenizer and a model (gpt_mini, and later bert_mini's or seq2seq's
decoders) and serves them together: ``stream_text`` yields one text chunk per generated token (the
server-sent events of POST /stream), ``check_prompt`` refuses a prompt the tokenizer cannot encode
with a message naming the characters, before any token is produced. Stored as files: the model's own
directory (a safetensors state dict and its config) and the tokenizer's JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from s2p.imports import import_object


class TextGenerator:
    def __init__(self, tokenizer, model):
        self.tokenizer = tokenizer
        self.model = model

    @property
    def vocabulary(self) -> set[str]:
        """The characters (or tokens) the tokenizer knows: drift monitoring reads out-of-vocabulary shares."""
        return set(getattr(self.tokenizer, "alphabet_", "") or getattr(self.tokenizer, "vocabulary", ()) or ())

    @property
    def block_size(self) -> int:
        return int(self.model.config_.block_size)

    def check_prompt(self, prompt: str) -> list[int]:
        """The prompt's token ids, or a ValueError naming why it cannot be encoded."""
        if not prompt:
            raise ValueError("prompt is empty")
        try:
            ids = self.tokenizer.encode(prompt)
        except ValueError as error:
            raise ValueError(f"prompt: {error}") from None
        return [int(i) for i in ids]

    def stream_text(
        self,
        prompt: str,
        max_new_tokens: int = 50,
        temperature: float = 0.8,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
    ) -> Iterator[str]:
        ids = self.check_prompt(prompt)
        tokens = self.model.stream(ids, max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
        for token in tokens:  # parameters were checked by stream() before its first token
            yield self.tokenizer.decode([token])

    def generate_text(self, prompt: str, **sampling) -> str:
        return "".join(self.stream_text(prompt, **sampling))

    def save(self, directory) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save(directory / "model")
        (directory / "tokenizer.json").write_text(self.tokenizer.to_json())
        classes = {
            "model": f"{type(self.model).__module__}:{type(self.model).__qualname__}",
            "tokenizer": f"{type(self.tokenizer).__module__}:{type(self.tokenizer).__qualname__}",
        }
        (directory / "generator.json").write_text(json.dumps(classes))
        return directory

    @classmethod
    def load(cls, directory) -> TextGenerator:
        directory = Path(directory)
        classes = json.loads((directory / "generator.json").read_text())
        tokenizer = import_object(classes["tokenizer"]).from_json((directory / "tokenizer.json").read_text())
        return cls(tokenizer, import_object(classes["model"]).load(directory / "model"))
