"""Regularization: ridge (closed form, gradient), lasso (coordinate descent), dropout."""
