"""Ours: value iteration, tabular Q-learning and SARSA, and a deep Q-network agent.

- ``value_iteration`` solves a toy-text environment exactly from its transition table ``P`` (the
  ground truth the tabular agents are checked against).
- ``QLearning`` and ``SARSA`` learn a Q table from episodes of epsilon-greedy play. They differ in
  one line: Q-learning bootstraps on the best next action (off-policy, so it learns the optimal
  policy while exploring), SARSA on the next action it actually takes (on-policy, so it learns the
  best policy *given* its exploration, which on CliffWalking keeps away from the cliff edge).
- ``DQNAgent`` is DQN (Mnih et al. 2015) as stable-baselines3 runs it, so that the two compare at
  equal settings: a replay buffer, a target network copied every ``target_update_interval``
  environment steps, a linear epsilon schedule, ``gradient_steps`` Adam steps on the Huber loss
  every ``train_freq`` environment steps, gradients clipped to norm 10; ``double_dqn=True`` picks the
  next action with the online network (Double DQN). Defaults are rl-zoo's CartPole-v1 set.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from sklearn.base import BaseEstimator

from models.base import require_fitted
from models.phase6.dqn.data import episode_env, make_env, observation_size


def linear_schedule(start: float, end: float, fraction: float, progress: float) -> float:
    """Epsilon after ``progress`` (0 to 1) of training: from ``start`` to ``end`` linearly over the
    first ``fraction`` of it, then ``end`` (stable-baselines3's ``get_linear_fn``)."""
    if fraction <= 0 or progress >= fraction:
        return end
    return start + progress * (end - start) / fraction


# -- value iteration ---------------------------------------------------------------------------------
def transition_arrays(env) -> tuple[np.ndarray, np.ndarray]:
    """The environment's table ``P[s][a] = [(p, s', r, terminated), ...]`` as arrays: ``T[s, a, s']``,
    the probability of going on to s' *without* terminating, and ``R[s, a]``, the expected reward."""
    table = getattr(env.unwrapped, "P", None)
    if table is None:
        raise ValueError(f"{env.spec.id if env.spec else env} has no transition table P (toy-text envs have one)")
    n_states, n_actions = env.observation_space.n, env.action_space.n
    T = np.zeros((n_states, n_actions, n_states))
    R = np.zeros((n_states, n_actions))
    for s in range(n_states):
        for a in range(n_actions):
            for p, s_next, reward, terminated in table[s][a]:
                R[s, a] += p * reward
                if not terminated:
                    T[s, a, s_next] += p
    return T, R


def action_values(T: np.ndarray, R: np.ndarray, V: np.ndarray, gamma: float) -> np.ndarray:
    """``Q[s, a] = R[s, a] + gamma * sum_s' T[s, a, s'] V[s']``: the one-step lookahead on V."""
    return R + gamma * T @ V


def value_iteration(
    env, gamma: float = 0.99, tol: float = 1e-10, max_iterations: int = 100_000
) -> tuple[np.ndarray, np.ndarray]:
    """The optimal state values and a greedy optimal policy (first best action) of a toy-text env.

    A state the environment only enters by terminating (a hole, the goal) keeps whatever value its own
    rows give; nothing ever bootstraps from it."""
    if not 0 <= gamma <= 1:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    T, R = transition_arrays(env)
    V = np.zeros(T.shape[0])
    for _ in range(max_iterations):
        updated = action_values(T, R, V, gamma).max(axis=1)
        if np.max(np.abs(updated - V)) < tol:
            V = updated
            break
        V = updated
    else:
        raise RuntimeError(f"value iteration did not converge to {tol} in {max_iterations} sweeps (gamma {gamma})")
    return V, action_values(T, R, V, gamma).argmax(axis=1)


# -- tabular agents ----------------------------------------------------------------------------------
class _TabularAgent(BaseEstimator):
    """Epsilon-greedy tabular control. Epsilon goes from ``epsilon_start`` to ``epsilon`` linearly over
    the first ``exploration_fraction`` of the episodes; ties between best actions break at random.
    Fitted: ``Q_`` (n_states, n_actions), ``greedy_policy_``, ``episode_returns_``."""

    def __init__(
        self,
        n_episodes: int = 2000,
        learning_rate: float = 0.1,
        gamma: float = 0.99,
        epsilon: float = 0.1,
        epsilon_start: float = 1.0,
        exploration_fraction: float = 0.5,
        random_state: int | None = None,
    ):
        self.n_episodes = n_episodes
        self.learning_rate = learning_rate
        self.gamma = gamma
        self.epsilon = epsilon
        self.epsilon_start = epsilon_start
        self.exploration_fraction = exploration_fraction
        self.random_state = random_state

    def _bootstrap(self, Q: np.ndarray, s_next: int, a_next: int) -> float:
        raise NotImplementedError

    def fit(self, env_id: str, **env_kwargs: Any):
        import gymnasium

        if self.n_episodes < 1:
            raise ValueError(f"n_episodes must be at least 1, got {self.n_episodes}")
        if not 0 < self.learning_rate <= 1 or not 0 <= self.gamma <= 1:
            raise ValueError(
                f"learning_rate must be in (0, 1] and gamma in [0, 1], got {self.learning_rate}, {self.gamma}"
            )
        env = episode_env(env_id, env_kwargs)
        if not isinstance(env.observation_space, gymnasium.spaces.Discrete) or not isinstance(
            env.action_space, gymnasium.spaces.Discrete
        ):
            raise ValueError(f"{env_id} is not tabular: {env.observation_space} states, {env.action_space} actions")
        seed = 0 if self.random_state is None else self.random_state
        rng = np.random.default_rng(seed)
        Q = np.zeros((env.observation_space.n, env.action_space.n))
        returns = []
        for episode in range(self.n_episodes):
            epsilon = linear_schedule(
                self.epsilon_start, self.epsilon, self.exploration_fraction, episode / self.n_episodes
            )
            s, _ = env.reset(seed=seed if episode == 0 else None)
            a = _epsilon_greedy(Q[s], epsilon, rng)
            total, done = 0.0, False
            while not done:
                s_next, reward, terminated, truncated, _ = env.step(a)
                a_next = _epsilon_greedy(Q[s_next], epsilon, rng)
                target = reward + (0.0 if terminated else self.gamma * self._bootstrap(Q, s_next, a_next))
                Q[s, a] += self.learning_rate * (target - Q[s, a])
                s, a, total, done = s_next, a_next, total + reward, terminated or truncated
            returns.append(total)
        env.close()
        self.Q_ = Q
        self.greedy_policy_ = Q.argmax(axis=1)
        self.episode_returns_ = returns
        return self

    def act(self, observations) -> np.ndarray:
        """The greedy action of each state index in ``observations``."""
        require_fitted(self, "Q_")
        states = np.asarray(observations)
        if not np.issubdtype(states.dtype, np.integer) or states.min() < 0 or states.max() >= len(self.Q_):
            raise ValueError(f"observations must be state indices in [0, {len(self.Q_) - 1}], got {states!r}")
        return self.greedy_policy_[states]


def _epsilon_greedy(q: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    if rng.random() < epsilon:
        return int(rng.integers(len(q)))
    return int(rng.choice(np.flatnonzero(q == q.max())))


class QLearning(_TabularAgent):
    """Off-policy TD control: bootstraps on ``max_a Q(s', a)``. The Q-learning of Watkins (1989).

    (Both agents draw the next action before the update; the two orders differ only on a self-loop.)"""

    def _bootstrap(self, Q: np.ndarray, s_next: int, a_next: int) -> float:
        return Q[s_next].max()


class SARSA(_TabularAgent):
    """On-policy TD control: bootstraps on ``Q(s', a')`` for the action a' it will take next."""

    def _bootstrap(self, Q: np.ndarray, s_next: int, a_next: int) -> float:
        return Q[s_next, a_next]


# -- DQN ---------------------------------------------------------------------------------------------
class Transitions(NamedTuple):
    observations: np.ndarray  # (batch, observation_size) float32
    actions: np.ndarray  # (batch,) int64
    rewards: np.ndarray  # (batch,) float32
    next_observations: np.ndarray  # (batch, observation_size) float32
    terminated: np.ndarray  # (batch,) float32, 1 where the episode really ended (not a time limit)


class ReplayBuffer:
    """A ring of the last ``capacity`` transitions; ``sample`` draws uniformly with replacement."""

    def __init__(self, capacity: int, observation_size: int):
        if capacity < 1 or observation_size < 1:
            raise ValueError(f"capacity and observation_size must be positive, got {capacity}, {observation_size}")
        self.capacity = capacity
        self.observations = np.zeros((capacity, observation_size), dtype=np.float32)
        self.next_observations = np.zeros((capacity, observation_size), dtype=np.float32)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.float32)
        self.position = 0  # where the next transition goes
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, observation, action: int, reward: float, next_observation, terminated: bool) -> None:
        i = self.position
        self.observations[i] = observation
        self.actions[i] = action
        self.rewards[i] = reward
        self.next_observations[i] = next_observation
        self.terminated[i] = float(terminated)
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> Transitions:
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        rows = rng.integers(0, self.size, size=batch_size)
        return Transitions(
            self.observations[rows],
            self.actions[rows],
            self.rewards[rows],
            self.next_observations[rows],
            self.terminated[rows],
        )


def _copy_parameters(source, destination) -> None:
    """The target network update: ``destination``'s weights become ``source``'s (in place)."""
    import torch

    with torch.no_grad():
        for theirs, ours in zip(destination.parameters(), source.parameters(), strict=True):
            theirs.copy_(ours)


class DQNAgent(BaseEstimator):
    """Deep Q-learning on an environment with a Box observation and Discrete actions.

    Fitted: ``module_`` (the online QNetwork, on the CPU), ``config_``, ``episode_returns_`` (the
    training episodes' returns), ``loss_history_`` (mean Huber loss of each training round),
    ``fit_seconds_``, ``steps_per_second_`` (environment steps), ``device_``, ``env_id_``."""

    def __init__(
        self,
        total_steps: int = 50_000,
        learning_rate: float = 2.3e-3,
        buffer_size: int = 100_000,
        learning_starts: int = 1000,
        batch_size: int = 64,
        gamma: float = 0.99,
        train_freq: int = 256,
        gradient_steps: int = 128,
        target_update_interval: int = 10,
        exploration_fraction: float = 0.16,
        exploration_initial_eps: float = 1.0,
        exploration_final_eps: float = 0.04,
        max_grad_norm: float = 10.0,
        double_dqn: bool = False,
        hidden_sizes: tuple[int, ...] = (256, 256),
        device: str = "auto",
        random_state: int | None = None,
    ):
        self.total_steps = total_steps
        self.learning_rate = learning_rate
        self.buffer_size = buffer_size
        self.learning_starts = learning_starts
        self.batch_size = batch_size
        self.gamma = gamma
        self.train_freq = train_freq
        self.gradient_steps = gradient_steps
        self.target_update_interval = target_update_interval
        self.exploration_fraction = exploration_fraction
        self.exploration_initial_eps = exploration_initial_eps
        self.exploration_final_eps = exploration_final_eps
        self.max_grad_norm = max_grad_norm
        self.double_dqn = double_dqn
        self.hidden_sizes = hidden_sizes
        self.device = device
        self.random_state = random_state

    def _check_params(self) -> None:
        counts = ("total_steps", "buffer_size", "batch_size", "train_freq", "gradient_steps", "target_update_interval")
        for name in counts:
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.learning_starts < 0 or self.learning_rate <= 0 or not 0 <= self.gamma <= 1:
            raise ValueError(
                f"need learning_starts >= 0, learning_rate > 0 and gamma in [0, 1]; got "
                f"{self.learning_starts}, {self.learning_rate}, {self.gamma}"
            )
        if not all(isinstance(h, int | np.integer) and h > 0 for h in self.hidden_sizes):
            raise ValueError(f"hidden_sizes must be positive integers, got {self.hidden_sizes!r}")

    def fit(self, env_id: str, **env_kwargs: Any):
        import gymnasium
        import torch

        from models.phase2.trainer import best_device
        from models.phase6.dqn.network import QNetwork, QNetworkConfig

        self._check_params()
        env = make_env(env_id, **env_kwargs)
        observations_ok = (
            isinstance(env.observation_space, gymnasium.spaces.Box) and len(env.observation_space.shape) == 1
        )
        if not observations_ok or not isinstance(env.action_space, gymnasium.spaces.Discrete):
            raise ValueError(
                f"DQN needs 1-D Box observations and Discrete actions; {env_id} has "
                f"{env.observation_space}, {env.action_space}"
            )
        seed = 0 if self.random_state is None else self.random_state
        rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        env.action_space.seed(seed)
        device = best_device(self.device)
        size, n_actions = observation_size(env.observation_space), int(env.action_space.n)
        config = QNetworkConfig(size, n_actions, tuple(self.hidden_sizes))
        online, target = QNetwork(config).to(device), QNetwork(config).to(device)
        _copy_parameters(online, target)
        # Fused Adam (one kernel for all parameters) is the same update, ~20% faster a step on the CPU.
        optimizer = torch.optim.Adam(online.parameters(), lr=self.learning_rate, fused=device in ("cpu", "cuda"))
        buffer = ReplayBuffer(min(self.buffer_size, self.total_steps), config.observation_size)

        start = time.perf_counter()
        returns, losses = [], []
        observation, _ = env.reset(seed=seed)
        episode_return = 0.0
        for step in range(self.total_steps):
            epsilon = linear_schedule(
                self.exploration_initial_eps,
                self.exploration_final_eps,
                self.exploration_fraction,
                step / self.total_steps,
            )
            if step < self.learning_starts or rng.random() < epsilon:
                action = int(env.action_space.sample())
            else:
                with torch.inference_mode():
                    q, _ = online(torch.as_tensor(observation, device=device)[None])  # (1, n_actions)
                action = int(q.argmax())
            next_observation, reward, terminated, truncated, _ = env.step(action)
            buffer.add(observation, action, reward, next_observation, terminated)
            episode_return += float(reward)
            if terminated or truncated:
                returns.append(episode_return)
                observation, _ = env.reset()
                episode_return = 0.0
            else:
                observation = next_observation
            if (step + 1) % self.target_update_interval == 0:
                _copy_parameters(online, target)
            if (step + 1) % self.train_freq == 0 and step + 1 > self.learning_starts:
                losses.append(self._train_round(online, target, optimizer, buffer, rng, device))
        self.fit_seconds_ = time.perf_counter() - start
        env.close()

        self.steps_per_second_ = self.total_steps / self.fit_seconds_
        self.module_ = online.to("cpu").eval()
        self.config_ = config
        self.episode_returns_ = returns
        self.loss_history_ = losses
        self.device_ = device
        self.env_id_ = env_id
        self.env_kwargs_ = dict(env_kwargs)
        return self

    def _train_round(self, online, target, optimizer, buffer: ReplayBuffer, rng, device: str) -> float:
        """``gradient_steps`` Adam steps on sampled batches; the round's mean loss, read once."""
        import torch

        from models.phase6.dqn.network import td_targets

        total = torch.zeros((), device=device)
        for _ in range(self.gradient_steps):
            batch = [torch.as_tensor(array, device=device) for array in buffer.sample(self.batch_size, rng)]
            observations, actions, rewards, next_observations, terminated = batch
            targets = td_targets(online, target, rewards, next_observations, terminated, self.gamma, self.double_dqn)
            _, loss = online(observations, actions, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(online.parameters(), self.max_grad_norm)
            optimizer.step()
            total += loss.detach()
        return float(total) / self.gradient_steps

    def act(self, observations: np.ndarray) -> np.ndarray:
        """The greedy action for each row of ``observations`` (n, observation_size)."""
        import torch

        require_fitted(self, "module_")
        observations = np.asarray(observations, dtype=np.float32)
        size = self.config_.observation_size
        if observations.ndim != 2 or observations.shape[1] != size:
            raise ValueError(f"observations must have shape (n, {size}), got {observations.shape}")
        if not np.isfinite(observations).all():
            raise ValueError("observations contain NaN or infinite values")
        with torch.inference_mode():
            q, _ = self.module_(torch.from_numpy(observations))  # (n, n_actions)
        return q.argmax(dim=1).numpy().astype(np.int64)

    # -- persistence: safetensors weights + a JSON config ----------------------------------------
    def save(self, directory: str | Path) -> Path:
        from dataclasses import asdict

        from safetensors.torch import save_file

        require_fitted(self, "module_")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.module_.state_dict().items()}, directory / "model.safetensors")
        params = self.get_params()
        params["hidden_sizes"] = list(params["hidden_sizes"])
        config = {
            "hyperparameters": params,
            "network": {**asdict(self.config_), "hidden_sizes": list(self.config_.hidden_sizes)},
            "env_id": self.env_id_,
            "env_kwargs": self.env_kwargs_,
            "fit_seconds": self.fit_seconds_,
            "steps_per_second": self.steps_per_second_,
            "device": self.device_,
            "episode_returns": self.episode_returns_,
            "loss_history": self.loss_history_,
        }
        (directory / "config.json").write_text(json.dumps(config, indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> DQNAgent:
        from safetensors.torch import load_file

        from models.phase6.dqn.network import QNetwork, QNetworkConfig

        directory = Path(directory)
        if not (directory / "config.json").is_file() or not (directory / "model.safetensors").is_file():
            raise FileNotFoundError(f"{directory} does not hold a saved DQNAgent (config.json + model.safetensors)")
        config = json.loads((directory / "config.json").read_text())
        params = {**config["hyperparameters"], "hidden_sizes": tuple(config["hyperparameters"]["hidden_sizes"])}
        agent = cls(**params)
        network = {**config["network"], "hidden_sizes": tuple(config["network"]["hidden_sizes"])}
        agent.config_ = QNetworkConfig(**network)
        agent.module_ = QNetwork(agent.config_)
        agent.module_.load_state_dict(load_file(directory / "model.safetensors"))
        agent.module_.eval()
        agent.env_id_, agent.env_kwargs_ = config["env_id"], config["env_kwargs"]
        agent.fit_seconds_, agent.steps_per_second_ = config["fit_seconds"], config["steps_per_second"]
        agent.device_ = config["device"]
        agent.episode_returns_, agent.loss_history_ = config["episode_returns"], config["loss_history"]
        return agent
