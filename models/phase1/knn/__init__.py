"""k-nearest neighbours: vectorized brute force and a KD-tree, distance weighting."""
