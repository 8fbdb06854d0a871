"""RNN, GRU and LSTM cells in NumPy: a character-level language model, truncated BPTT."""
