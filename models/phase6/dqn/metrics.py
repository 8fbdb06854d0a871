"""The metric of `dqn`: the mean undiscounted return over 20 evaluation episodes of the greedy policy."""

from __future__ import annotations

from models.phase6.dqn.data import evaluate_policy

EPISODES = 20


def mean_return(y_true, y_pred, X=None, model=None) -> float:
    """``X``: {"env_id", "seed"} of the evaluation episodes; ``model``: a fitted agent (its ``act``)."""
    return float(evaluate_policy(X["env_id"], model.act, episodes=EPISODES, seed=X["seed"])["mean_return"])


METRICS = {"mean_return": (mean_return, True)}
