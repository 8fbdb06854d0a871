"""Text similarity: edit distance and LCS by dynamic programming, a near-duplicate detector."""
