"""Random forest: bootstrap and feature subsampling over our trees, out-of-bag score."""
