"""The ``dqn`` deliverable (Phase 6, recipe ``environment``, answer kind: an action).

Tabular Q-learning and SARSA on gymnasium's FrozenLake and CliffWalking, checked against value
iteration on the environments' own transition tables, and a deep Q-network in torch (replay buffer,
target network, linear epsilon schedule, optional Double DQN) on CartPole-v1, compared with
stable-baselines3's DQN at the same step budget, hyperparameters (rl-zoo's CartPole-v1 set) and seed.

- ``data.py``: the environment side: a checked environment factory, recorded rollouts (for
  observation-bound validation and drift monitoring), evaluation episodes, declared bounds.
- ``model.py``: value iteration, ``QLearning``, ``SARSA``, ``ReplayBuffer``, ``QNetwork``, ``DQNAgent``.
- ``reference.py``: stable-baselines3's DQN behind the same interface.

The metric is the mean return over 20 greedy evaluation episodes (``data.evaluate_policy``).
"""
