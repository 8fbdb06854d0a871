"""Transformer: one encoder block (scaled dot-product attention, sinusoidal positions, multi-head
attention, feed-forward, layer norm, residuals) in NumPy with a hand-written backward and in torch ops,
trained as a sentence-sentiment classifier on the movie-review sentences, with an attention visualizer."""
