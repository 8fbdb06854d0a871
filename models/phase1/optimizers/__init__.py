"""Optimizers: GD, momentum, Nesterov, RMSProp and Adam in NumPy, step for step as torch.optim."""
