"""PCA: via SVD and via eigendecomposition, explained variance, whitening."""
