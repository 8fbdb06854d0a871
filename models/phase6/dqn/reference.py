"""The reference: stable-baselines3's DQN behind the interface of ``DQNAgent``.

Same hyperparameters (names and defaults: rl-zoo's CartPole-v1 set), same step budget, same seed.
stable-baselines3's DQN has no Double DQN option, so the reference is always plain DQN.
Saved with stable-baselines3's own zip format, beside a JSON of the hyperparameters and fit figures.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from models.base import require_fitted
from models.phase6.dqn.data import make_env

ZIP = "sb3_dqn.zip"


class SB3DQN(BaseEstimator):
    """stable-baselines3 ``DQN("MlpPolicy", ...)``. Fitted: ``model_``, ``episode_returns_`` (from a
    Monitor wrapper), ``fit_seconds_``, ``steps_per_second_``, ``env_id_``."""

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
        self.hidden_sizes = hidden_sizes
        self.device = device
        self.random_state = random_state

    def fit(self, env_id: str, **env_kwargs: Any):
        from stable_baselines3 import DQN
        from stable_baselines3.common.logger import Logger
        from stable_baselines3.common.monitor import Monitor

        from models.phase2.trainer import best_device

        env = Monitor(make_env(env_id, **env_kwargs))
        seed = 0 if self.random_state is None else self.random_state
        device = best_device(self.device)
        model = DQN(
            "MlpPolicy",
            env,
            learning_rate=self.learning_rate,
            buffer_size=self.buffer_size,
            learning_starts=self.learning_starts,
            batch_size=self.batch_size,
            gamma=self.gamma,
            train_freq=self.train_freq,
            gradient_steps=self.gradient_steps,
            target_update_interval=self.target_update_interval,
            exploration_fraction=self.exploration_fraction,
            exploration_initial_eps=self.exploration_initial_eps,
            exploration_final_eps=self.exploration_final_eps,
            max_grad_norm=self.max_grad_norm,
            policy_kwargs={"net_arch": list(self.hidden_sizes)},
            device=device,
            seed=seed,
            verbose=0,
        )
        model.set_logger(Logger(folder=None, output_formats=[]))  # its default leaves a /tmp/SB3-<time> folder
        start = time.perf_counter()
        model.learn(total_timesteps=self.total_steps)
        self.fit_seconds_ = time.perf_counter() - start
        self.steps_per_second_ = self.total_steps / self.fit_seconds_
        self.episode_returns_ = [float(r) for r in env.get_episode_rewards()]
        self.model_ = model
        self.device_ = device
        self.env_id_ = env_id
        self.env_kwargs_ = dict(env_kwargs)
        env.close()
        return self

    def act(self, observations: np.ndarray) -> np.ndarray:
        """The greedy action for each row of ``observations`` (n, observation_size)."""
        require_fitted(self, "model_")
        observations = np.asarray(observations, dtype=np.float32)
        size = self.model_.observation_space.shape[0]
        if observations.ndim != 2 or observations.shape[1] != size:
            raise ValueError(f"observations must have shape (n, {size}), got {observations.shape}")
        actions, _ = self.model_.predict(observations, deterministic=True)
        return np.asarray(actions, dtype=np.int64)

    def save(self, directory: str | Path) -> Path:
        require_fitted(self, "model_")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.model_.save(directory / ZIP)
        params = {**self.get_params(), "hidden_sizes": list(self.hidden_sizes)}
        config = {
            "hyperparameters": params,
            "env_id": self.env_id_,
            "env_kwargs": self.env_kwargs_,
            "fit_seconds": self.fit_seconds_,
            "steps_per_second": self.steps_per_second_,
            "device": self.device_,
            "episode_returns": self.episode_returns_,
        }
        (directory / "config.json").write_text(json.dumps(config, indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> SB3DQN:
        from stable_baselines3 import DQN

        directory = Path(directory)
        if not (directory / "config.json").is_file() or not (directory / ZIP).is_file():
            raise FileNotFoundError(f"{directory} does not hold a saved SB3DQN (config.json + {ZIP})")
        config = json.loads((directory / "config.json").read_text())
        params = {**config["hyperparameters"], "hidden_sizes": tuple(config["hyperparameters"]["hidden_sizes"])}
        reference = cls(**params)
        reference.model_ = DQN.load(directory / ZIP, device="cpu")
        reference.env_id_, reference.env_kwargs_ = config["env_id"], config["env_kwargs"]
        reference.fit_seconds_, reference.steps_per_second_ = config["fit_seconds"], config["steps_per_second"]
        reference.device_, reference.episode_returns_ = config["device"], config["episode_returns"]
        return reference
