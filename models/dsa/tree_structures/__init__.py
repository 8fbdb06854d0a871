"""Tree structures: a B-tree of order m with disk-style pages, a heap for top-k and beam search."""
