"""Linear regression: closed-form OLS, batch GD, SGD and mini-batch SGD."""
