"""The declaration of `dqn`: a DQN on CartPole against stable-baselines3 (the environment recipe)."""

from __future__ import annotations

from s2p.catalog import Column, Deliverable, Gate

DELIVERABLE = Deliverable(
    id="dqn",
    order=1,
    phase="6",
    title="Q-learning, SARSA and DQN: tabular agents against value iteration, a torch DQN on CartPole",
    task="generation",
    kind="action",
    recipe="environment",
    environment="CartPole-v1",
    source="models.phase6.dqn.data:make_env",
    features=(
        Column("cart_position", "float", -4.8, 4.8, "cart position (m)"),
        Column("cart_velocity", "float", -10.0, 10.0, "cart velocity (m/s; gymnasium says unbounded)"),
        Column("pole_angle", "float", -0.419, 0.419, "pole angle (rad)"),
        Column("pole_angular_velocity", "float", -10.0, 10.0, "pole angular velocity (rad/s; unbounded)"),
    ),
    model="models.phase6.dqn.model:DQNAgent",
    reference="models.phase6.dqn.reference:SB3DQN",
    metrics=("mean_return",),
    gate=Gate(metric="mean_return", greater_is_better=True),
    plots=("training_returns",),
    framework="torch",
    fit_time_budget=3.0,
)
