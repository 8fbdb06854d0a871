"""Phase 6: reinforcement learning from scratch (tabular methods and deep Q-learning)."""
