"""The DSA interlude: string algorithms, tokenization, nearest-neighbour search, tree structures."""
