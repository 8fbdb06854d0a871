"""Phase 4: retrieval and search."""
