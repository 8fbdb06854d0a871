"""Feedforward network in NumPy: dense layers, ReLU / sigmoid / tanh, He / Xavier, mini-batch SGD."""
