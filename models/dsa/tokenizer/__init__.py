"""Tokenizer: byte-pair encoding trained on offline text, and a trie for autocomplete."""
