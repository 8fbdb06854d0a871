"""Naive Bayes: Gaussian, and multinomial on our own tokenization and word counts."""
