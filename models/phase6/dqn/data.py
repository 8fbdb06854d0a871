"""The environment side of the ``environment`` recipe: a checked factory, rollouts, evaluation, bounds.

A policy here is any callable ``act(observations) -> actions`` on a batch: observations of shape
``(n, *observation_shape)`` (for a ``Discrete`` observation space, ``(n,)`` state indices) and one
action per row. ``DQNAgent.act``, ``QLearning.act`` and the reference's ``act`` all have this shape;
``act=None`` means the uniform random policy, drawn from the seeded action space.

Everything is offline: the environments are gymnasium's own (classic control and toy text).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

import numpy as np

Policy = Callable[[np.ndarray], np.ndarray]

# Finite stand-ins for bounds that gymnasium declares infinite, per environment and observation index.
# CartPole-v1 declares its cart velocity (index 1) and pole angular velocity (index 3) unbounded; the
# episode ends once |x| > 2.4 or |angle| > 12 degrees, which caps what they reach: over 200 episodes
# each of always-push-right, bang-bang and random policies they stayed below 2.6 and 3.4. Ten is a
# bound that a real rollout never crosses and a corrupted one (units, sign, scale) soon does.
FINITE_STAND_INS: dict[str, dict[int, float]] = {"CartPole-v1": {1: 10.0, 3: 10.0}}
# Elsewhere an infinite bound becomes this: it flags numerical blow-ups only.
DEFAULT_STAND_IN = 1e6
# Rollouts and evaluations of an environment registered without a time limit (CliffWalking) stop an
# episode after this many steps, so a policy that walks in circles ends instead of hanging.
EPISODE_CAP = 10_000


class UnknownEnvironmentError(ValueError):
    """An environment id that gymnasium does not register."""


def make_env(env_id: str, **kwargs: Any):
    """``gymnasium.make(env_id, **kwargs)``, refusing an unregistered id by name with the close ones."""
    import gymnasium

    if not isinstance(env_id, str) or env_id not in gymnasium.registry:
        known = sorted(gymnasium.registry)
        close = difflib.get_close_matches(str(env_id), known, n=5, cutoff=0.6)
        hint = f"; close registered ids: {', '.join(close)}" if close else f"; {len(known)} ids are registered"
        raise UnknownEnvironmentError(f"unknown environment id {env_id!r}{hint}")
    return gymnasium.make(env_id, **kwargs)


def observation_size(space) -> int:
    """How many numbers one observation is: 1 for a Discrete state index, the flat size of a Box."""
    import gymnasium

    if isinstance(space, gymnasium.spaces.Discrete):
        return 1
    if isinstance(space, gymnasium.spaces.Box):
        return int(np.prod(space.shape))
    raise ValueError(f"observation space {space} is neither Discrete nor Box")


def observation_bounds(env_id: str, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    """The declared (low, high) of each observation number, with finite stand-ins for infinities.

    A Discrete space of n states gives [start, start + n - 1]. See ``FINITE_STAND_INS``."""
    import gymnasium

    env = make_env(env_id, **kwargs)
    space = env.observation_space
    env.close()
    if isinstance(space, gymnasium.spaces.Discrete):
        return np.array([float(space.start)]), np.array([float(space.start + space.n - 1)])
    observation_size(space)  # refuses other spaces by name
    low = space.low.astype(np.float64).ravel().copy()
    high = space.high.astype(np.float64).ravel().copy()
    stand_ins = FINITE_STAND_INS.get(env_id, {})
    for i in range(low.size):
        bound = stand_ins.get(i, DEFAULT_STAND_IN)
        if not np.isfinite(low[i]):
            low[i] = -bound
        if not np.isfinite(high[i]):
            high[i] = bound
    return low, high


def episode_env(env_id: str, kwargs: dict):
    """The environment for rollouts: ``make_env``, with ``EPISODE_CAP`` where no time limit is registered."""
    env = make_env(env_id, **kwargs)
    if env.spec is not None and env.spec.max_episode_steps is None and "max_episode_steps" not in kwargs:
        env.close()
        env = make_env(env_id, max_episode_steps=EPISODE_CAP, **kwargs)
    return env


def _action(env, act: Policy | None, observation) -> int:
    if act is None:
        return int(env.action_space.sample())
    return int(np.asarray(act(np.asarray(observation)[None]))[0])


def record_rollouts(env_id: str, act: Policy | None, episodes: int, seed: int = 0, **kwargs: Any):
    """Run ``episodes`` episodes of ``act`` and return one row per step as a pandas DataFrame.

    Columns: episode, step, obs_0..obs_{k-1} (the observation the action was chosen on), action,
    reward, terminated, truncated. The first reset takes ``seed`` (later resets continue its stream),
    and so does the action space, so a random policy's rollouts repeat too."""
    import pandas as pd

    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    env = episode_env(env_id, kwargs)
    size = observation_size(env.observation_space)
    env.action_space.seed(seed)
    rows: list[list[float]] = []
    for episode in range(episodes):
        observation, _ = env.reset(seed=seed if episode == 0 else None)
        step, done = 0, False
        while not done:
            action = _action(env, act, observation)
            next_observation, reward, terminated, truncated, _ = env.step(action)
            flat = np.asarray(observation, dtype=np.float64).ravel()
            rows.append([episode, step, *flat, action, float(reward), bool(terminated), bool(truncated)])
            observation, step, done = next_observation, step + 1, terminated or truncated
    env.close()
    columns = ["episode", "step", *(f"obs_{i}" for i in range(size)), "action", "reward", "terminated", "truncated"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({"episode": "int64", "step": "int64", "action": "int64", "terminated": bool, "truncated": bool})


def evaluate_policy(env_id: str, act: Policy | None, episodes: int = 20, seed: int = 0, **kwargs: Any) -> dict:
    """The undiscounted return of ``episodes`` evaluation episodes of ``act``: mean, spread, each one.

    Returns ``{"mean_return", "std_return", "episodes", "returns"}``."""
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    env = episode_env(env_id, kwargs)
    env.action_space.seed(seed)
    returns = []
    for episode in range(episodes):
        observation, _ = env.reset(seed=seed if episode == 0 else None)
        total, done = 0.0, False
        while not done:
            observation, reward, terminated, truncated, _ = env.step(_action(env, act, observation))
            total, done = total + float(reward), terminated or truncated
        returns.append(total)
    env.close()
    return {
        "mean_return": float(np.mean(returns)),
        "std_return": float(np.std(returns)),
        "episodes": episodes,
        "returns": returns,
    }
