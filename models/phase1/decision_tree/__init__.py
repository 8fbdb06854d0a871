"""Decision tree: CART with gini or entropy, vectorized split search, cost-complexity pruning."""
