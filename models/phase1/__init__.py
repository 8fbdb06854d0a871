"""Phase 1: classical machine learning from scratch."""
