"""The plots of `tree_structures` (named in its declaration, drawn by evaluate, logged to MLflow)."""

from __future__ import annotations

import numpy as np

from pipeline.plots import PlotData, subplots


def btree_io(data: PlotData):
    """Height and pages read per lookup of our B-tree by order, over 20,000 random keys, and lookup
    time against a binary search in sortedcontainers' SortedList: the disk-page trade-off."""
    import time

    from sortedcontainers import SortedList

    from models.dsa.tree_structures.model import BTree

    rng = np.random.default_rng(data.seed)
    keys = rng.permutation(20_000).tolist()
    probes = rng.choice(20_000, 2000).tolist()
    reference = SortedList(keys)
    started = time.perf_counter()
    for key in probes:
        reference.bisect_left(key)
    reference_us = (time.perf_counter() - started) / len(probes) * 1e6
    table = []
    for order in (3, 4, 8, 16, 32, 64, 128, 256):
        tree = BTree(order)
        for key in keys:
            tree.insert(key, key)
        tree.pages_read = 0
        started = time.perf_counter()
        for key in probes:
            tree.get(key)
        table.append({"order": order, "height": tree.height(), "pages": len(tree.pages),
                      "pages_read_per_lookup": tree.pages_read / len(probes),
                      "lookup_us": (time.perf_counter() - started) / len(probes) * 1e6,
                      "sortedlist_lookup_us": reference_us})  # fmt: skip
    orders = [row["order"] for row in table]
    figure, ((left, right),) = subplots(2)
    left.plot(orders, [row["pages_read_per_lookup"] for row in table], marker="o", label="pages read per lookup")
    left.plot(orders, np.log(20_000) / np.log(orders), linestyle="--", label="log_m(n)")
    left.set(xscale="log", xlabel="order m", title="B-tree: pages read per lookup")
    left.legend()
    right.plot(orders, [row["lookup_us"] for row in table], marker="o", label="our B-tree")
    right.axhline(reference_us, color="grey", linestyle="--", label="SortedList bisect")
    right.set(xscale="log", xlabel="order m", ylabel="microseconds per lookup", title="Lookup time")
    right.legend()
    return figure, table


PLOTS = {function.__name__: function for function in (btree_io,)}
