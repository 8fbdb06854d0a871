"""The Q-network and the temporal-difference targets of DQN and Double DQN, in torch.

Kept apart from model.py so that the tabular agents and value iteration import no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class QNetworkConfig:
    observation_size: int
    n_actions: int
    hidden_sizes: tuple[int, ...] = (256, 256)


class QNetwork(nn.Module):
    """An MLP from an observation to one action value per action (ReLU between linear layers, as
    stable-baselines3's ``MlpPolicy`` for DQN)."""

    def __init__(self, config: QNetworkConfig):
        super().__init__()
        if config.observation_size < 1 or config.n_actions < 1:
            raise ValueError(f"observation_size and n_actions must be positive, got {config}")
        layers: list[nn.Module] = []
        width = config.observation_size
        for hidden in config.hidden_sizes:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, config.n_actions))
        self.config = config
        self.net = nn.Sequential(*layers)

    def forward(
        self,
        observations: torch.Tensor,
        actions: torch.Tensor | None = None,
        targets: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Action values, and with ``actions`` and ``targets`` the Huber loss of the taken actions' values."""
        q = self.net(observations)  # (batch, observation_size) -> (batch, n_actions)
        if actions is None or targets is None:
            return q, None
        taken = q.gather(1, actions[:, None]).squeeze(1)  # (batch, n_actions) -> (batch,)
        return q, F.smooth_l1_loss(taken, targets)


def td_targets(
    online: QNetwork,
    target: QNetwork,
    rewards: torch.Tensor,
    next_observations: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float,
    double_dqn: bool,
) -> torch.Tensor:
    """``r + gamma * (1 - terminated) * Q_target(s', a')``, with a' the target network's own argmax
    (DQN, Mnih et al. 2015) or the online network's argmax (Double DQN, van Hasselt et al. 2016).

    ``terminated`` is 1 only where the episode really ended: a time-limit truncation still bootstraps."""
    with torch.no_grad():
        next_q, _ = target(next_observations)  # (batch, n_actions)
        if double_dqn:
            online_q, _ = online(next_observations)  # (batch, n_actions)
            next_value = next_q.gather(1, online_q.argmax(dim=1, keepdim=True)).squeeze(1)  # (batch,)
        else:
            next_value = next_q.max(dim=1).values  # (batch,)
        return rewards + gamma * (1.0 - terminated) * next_value
