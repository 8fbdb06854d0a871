"""recommender (System Design, recipe ``interactions``, answer kind ``recommendations``).

Implicit-feedback matrix factorization from scratch (alternating least squares with the confidence
weighting of Hu, Koren & Volinsky 2008, in NumPy) against the ``implicit`` library's ALS on the same
confidence matrix, factors, regularization, iterations and initial factors; scored by recall@10 and
nDCG@10 on each user's last interaction (leave-last-out). At request time the served model reads the
user's fresh features (recent items and their times) from the Feast online store, into which an
event stream pushes (a Feast PushSource: Redis in production), folds the events since training into
the user's factors and leaves out what the user has already seen. docs/recommender.md has the design.
"""
