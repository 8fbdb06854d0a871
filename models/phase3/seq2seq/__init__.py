"""seq2seq: an encoder-decoder transformer in torch ops (cross-attention, gpt_mini's causal self-attention
and KV cache in the decoder) with T5-style task prefixes (addition, date formats, reversal), BART-style
denoising pretraining on the same texts, greedy and beam-search decoding; against the same sizes built
from torch.nn.Transformer."""
