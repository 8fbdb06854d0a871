"""Phase 3: sequence models and transformers, trained here from scratch."""
