"""GPT-mini: a character-level GPT written out in torch ops (causal self-attention, learned positions,
pre-norm blocks, weight tying, KV cache, greedy / top-k / nucleus sampling) trained on a public-domain
Shakespeare corpus, against the same configuration built from torch.nn.TransformerEncoderLayer."""
