"""The System-Design interlude (SD): designs built as working, load-tested components."""
