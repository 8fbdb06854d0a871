"""Convolutional network: convolution, padding, stride, max / average pooling by hand (im2col)."""
