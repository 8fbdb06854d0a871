"""hybrid_search (Phase 4, recipe ``index``, answer kind ranked documents).

BM25 (Lucene's variant, equal to bm25s), a dense LSA retriever over a FAISS flat inner-product
index, and their fusion by reciprocal rank and by min-max normalized scores, evaluated by nDCG@10,
recall@10 and MRR on queries and labels read off WordNet's noun glosses (data.py says why those
labels cannot favour any retriever). The reference is bm25s on the same tokens.
"""
