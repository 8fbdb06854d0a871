"""Hierarchical clustering: agglomerative with single, complete, average and ward linkage."""
