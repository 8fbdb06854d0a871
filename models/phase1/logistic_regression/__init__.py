"""Logistic regression: binary and softmax, L2, Newton or gradient descent on the log-loss."""
