"""Backpropagation by hand: gradients checked against autograd, gradient flow per layer."""
