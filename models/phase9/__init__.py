"""Phase 9: responsible machine learning (an income classifier and the fairness audit of its champion)."""
