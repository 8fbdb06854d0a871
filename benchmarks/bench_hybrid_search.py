"""Hybrid search benchmark: retrieval quality of every retriever, and BM25 speed against bm25s.

    .venv/bin/python benchmarks/bench_hybrid_search.py [--size smoke|default|full] [--alpha A] [--candidates C]

Quality: nDCG@10, recall@10 and MRR of our BM25, the dense LSA retriever (FAISS), reciprocal rank
fusion and min-max fusion, and of bm25s, on every query of the size's WordNet set (data.py).
Speed: our BM25 and bm25s (same k1, b and token lists) answer each query alone, k=10, in one loop
that alternates which goes first; per-query latency p50/p99 and queries/s of each, then the whole
query list as one batch (bm25s single-threaded), with ratios ours / bm25s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.phase4.hybrid_search import data
from models.phase4.hybrid_search.metrics import evaluate
from models.phase4.hybrid_search.model import HybridSearch
from models.phase4.hybrid_search.reference import BM25sSearch

SIZES = {"smoke": (1_000, 32), "default": (24_000, 256), "full": (24_000, 512)}  # documents, dimensions


def timed(call) -> tuple[object, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def interleaved_latency(peers: dict, queries: list[str], k: int) -> dict[str, np.ndarray]:
    """Seconds per single-query search of each peer, alternating which one goes first."""
    names = list(peers)
    seconds = {name: np.empty(len(queries)) for name in names}
    for i, query in enumerate(queries):
        for name in names if i % 2 == 0 else names[::-1]:
            started = time.perf_counter()
            peers[name].search([query], k)
            seconds[name][i] = time.perf_counter() - started
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=SIZES, default="default")
    parser.add_argument("--alpha", type=float, default=0.5, help="BM25's weight in min-max fusion")
    parser.add_argument("--candidates", type=int, default=100, help="results each retriever hands to fusion")
    parser.add_argument("--k1", type=float, default=1.5)
    parser.add_argument("--b", type=float, default=0.75)
    args = parser.parse_args()
    n_documents, dimensions = SIZES[args.size]
    documents, queries = data.documents(n_documents), data.queries(n_documents)
    print(f"size {args.size}: {len(documents)} documents, {len(queries)} queries, {dimensions} dimensions")

    ours = HybridSearch(
        k1=args.k1, b=args.b, dimensions=dimensions, alpha=args.alpha, candidates=args.candidates, random_state=0
    )
    reference = BM25sSearch(k1=args.k1, b=args.b)
    _, our_fit = timed(lambda: ours.fit(documents))
    _, reference_fit = timed(lambda: reference.fit(documents))
    print(f"fit: ours (BM25 + LSA + FAISS) {our_fit:.2f} s, bm25s {reference_fit:.2f} s")

    print(f"\nmin-max alpha {args.alpha}, fusion candidates {args.candidates}, rrf_k {ours.rrf_k}")
    print(f"{'retriever':<10} {'nDCG@10':>8} {'recall@10':>10} {'MRR':>7}")
    for searcher in (ours, reference):
        for name, figures in evaluate(searcher, queries, 10).items():
            print(f"{name:<10} {figures['ndcg_at_10']:>8.4f} {figures['recall_at_10']:>10.4f} {figures['mrr']:>7.4f}")

    class OurBM25:  # our BM25 alone, answering doc ids like the reference
        search = staticmethod(lambda texts, k: ours.search(texts, k, retriever="bm25"))

    peers = {"ours": OurBM25, "bm25s": reference}
    texts = queries["text"].tolist()
    interleaved_latency(peers, texts[:50], 10)  # warm-up
    seconds = interleaved_latency(peers, texts, 10)
    print(f"\nBM25 single-query search, k=10, {len(texts)} queries interleaved")
    print(f"{'peer':<6} {'p50 ms':>8} {'p99 ms':>8} {'queries/s':>10}")
    rates = {}
    for name, values in seconds.items():
        rates[name] = len(values) / values.sum()
        p50, p99 = np.percentile(values, [50, 99]) * 1e3
        print(f"{name:<6} {p50:>8.3f} {p99:>8.3f} {rates[name]:>10.0f}")
    p50_ratio = np.median(seconds["ours"]) / np.median(seconds["bm25s"])
    p99_ratio = np.percentile(seconds["ours"], 99) / np.percentile(seconds["bm25s"], 99)
    rate_ratio = rates["ours"] / rates["bm25s"]
    print(f"ours / bm25s: p50 latency {p50_ratio:.2f}x, p99 latency {p99_ratio:.2f}x, queries/s {rate_ratio:.2f}x")

    batch = {}
    for order in (("ours", "bm25s"), ("bm25s", "ours")):
        for name in order:
            batch.setdefault(name, []).append(timed(lambda name=name: peers[name].search(texts, 10))[1])
    best = {name: min(values) for name, values in batch.items()}
    print(
        f"BM25 batch of {len(texts)} queries: ours {len(texts) / best['ours']:.0f} q/s, "
        f"bm25s {len(texts) / best['bm25s']:.0f} q/s, ratio {best['bm25s'] / best['ours']:.2f}x"
    )


if __name__ == "__main__":
    main()
