"""Attention: scaled dot-product and multi-head attention, a toy sorting task, attention maps."""
