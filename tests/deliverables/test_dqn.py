"""The ``dqn`` deliverable: value iteration, tabular Q-learning and SARSA, DQN and its SB3 reference.

Groups: the environment side (factory, rollouts, bounds), value iteration against hand-checked
values, the tabular agents against value iteration's optimal policy, the DQN parts against hand
computations and stable-baselines3's schedule, and short end-to-end fits (slow ones marked).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from models.phase6.dqn.data import (
    UnknownEnvironmentError,
    evaluate_policy,
    make_env,
    observation_bounds,
    record_rollouts,
)
from models.phase6.dqn.model import (
    SARSA,
    DQNAgent,
    QLearning,
    ReplayBuffer,
    action_values,
    linear_schedule,
    transition_arrays,
    value_iteration,
)

FROZEN = ("FrozenLake-v1", {"is_slippery": False})
CLIFF_START, CLIFF_GOAL = 36, 47
CLIFF_EDGE = range(25, 35)  # the row just above the cliff, between the start's and the goal's columns


def optimal_actions(env, gamma: float) -> np.ndarray:
    """A boolean (n_states, n_actions) table: whether each action is optimal per value iteration."""
    T, R = transition_arrays(env)
    V, _ = value_iteration(env, gamma)
    return np.isclose(action_values(T, R, V, gamma), V[:, None], atol=1e-8)


def greedy_path(env, policy: np.ndarray, start: int, limit: int = 100) -> list[int]:
    """The states a deterministic env walks through under ``policy`` from ``start`` to termination."""
    table, path, state = env.unwrapped.P, [start], start
    for _ in range(limit):
        (_, state, _, terminated), *_ = table[state][policy[state]]
        path.append(int(state))
        if terminated:
            break
    return path


# -- the environment side ------------------------------------------------------------------------------
def test_unknown_environment_id_is_refused_by_name_with_close_ids():
    with pytest.raises(UnknownEnvironmentError, match=r"'CartPol-v1'.*CartPole-v1"):
        make_env("CartPol-v1")
    assert issubclass(UnknownEnvironmentError, ValueError)
    with pytest.raises(ValueError, match="NoSuchWorld-v0"):
        DQNAgent(total_steps=10).fit("NoSuchWorld-v0")


def test_observation_bounds_replace_infinities_and_contain_recorded_rollouts():
    low, high = observation_bounds("CartPole-v1")
    assert np.isfinite(low).all() and np.isfinite(high).all()
    assert high[0] == pytest.approx(4.8) and high[2] == pytest.approx(0.41887903)  # declared, kept
    rollouts = record_rollouts("CartPole-v1", None, episodes=5, seed=3)
    observations = rollouts[[f"obs_{i}" for i in range(4)]].to_numpy()
    assert ((observations >= low) & (observations <= high)).all()
    assert list(rollouts.columns) == [
        "episode", "step", "obs_0", "obs_1", "obs_2", "obs_3", "action", "reward", "terminated", "truncated"
    ]  # fmt: skip
    assert rollouts["episode"].nunique() == 5
    assert rollouts.groupby("episode")["terminated"].sum().eq(1).all()  # random play never lasts 500 steps
    assert rollouts.equals(record_rollouts("CartPole-v1", None, episodes=5, seed=3))  # seeded


def test_evaluate_policy_reports_each_episode_and_is_seeded():
    result = evaluate_policy("CartPole-v1", lambda obs: np.zeros(len(obs), dtype=int), episodes=4, seed=1)
    assert result["episodes"] == 4 and len(result["returns"]) == 4
    assert result["mean_return"] == pytest.approx(np.mean(result["returns"]))
    assert all(r < 30 for r in result["returns"])  # always pushing left topples the pole quickly
    assert result == evaluate_policy("CartPole-v1", lambda obs: np.zeros(len(obs), dtype=int), episodes=4, seed=1)


# -- value iteration ---------------------------------------------------------------------------------
def test_value_iteration_matches_hand_checked_values():
    # Deterministic FrozenLake 4x4: the goal is 6 moves from the start and pays 1 on arrival, so
    # V(start) = gamma^5; the square left of the goal is worth 1, a hole 0.
    frozen = make_env(FROZEN[0], **FROZEN[1])
    V, policy = value_iteration(frozen, gamma=0.9)
    assert V[0] == pytest.approx(0.9**5, abs=1e-9)
    assert V[14] == pytest.approx(1.0) and V[5] == 0.0
    assert policy[14] == 2  # right, into the goal
    # CliffWalking, undiscounted: 13 steps of -1 from the start; 1 step from the square above the goal.
    cliff = make_env("CliffWalking-v1")
    V, policy = value_iteration(cliff, gamma=1.0)
    assert V[CLIFF_START] == pytest.approx(-13) and V[35] == pytest.approx(-1) and V[0] == pytest.approx(-14)
    assert policy[CLIFF_START] == 0  # up: right would step into the cliff


def test_value_iteration_refuses_an_environment_without_a_table():
    with pytest.raises(ValueError, match="transition table"):
        value_iteration(make_env("CartPole-v1"))


# -- tabular agents against value iteration -----------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1])
def test_q_learning_finds_the_optimal_policy_on_deterministic_frozen_lake(seed):
    env = make_env(FROZEN[0], **FROZEN[1])
    agent = QLearning(n_episodes=1000, learning_rate=1.0, gamma=0.9, epsilon=0.05, random_state=seed)
    agent.fit(FROZEN[0], **FROZEN[1])
    optimal = optimal_actions(env, 0.9)
    for state in [s for s in range(16) if s not in (5, 7, 11, 12, 15)]:  # holes and the goal end the episode
        assert optimal[state, agent.greedy_policy_[state]], f"state {state}"


def test_sarsa_walks_an_optimal_path_on_deterministic_frozen_lake():
    """SARSA learns the value of the policy it follows. Along its own greedy path that policy ends up
    greedy, so the path is optimal; but squares it stopped visiting once epsilon fell (the other of
    the two symmetric routes) keep values from its exploring days, so unlike Q-learning it is not
    optimal in every state, and the test does not claim it."""
    env = make_env(FROZEN[0], **FROZEN[1])
    agent = SARSA(n_episodes=1000, learning_rate=0.5, gamma=0.9, epsilon=0.0, exploration_fraction=0.8, random_state=0)
    agent.fit(FROZEN[0], **FROZEN[1])
    path = greedy_path(env, agent.greedy_policy_, start=0)
    assert path[-1] == 15 and len(path) - 1 == 6  # the goal, in the fewest moves
    optimal = optimal_actions(env, 0.9)
    assert all(optimal[s, agent.greedy_policy_[s]] for s in path[:-1])


def test_q_learning_takes_the_optimal_cliff_edge_path():
    env = make_env("CliffWalking-v1")
    agent = QLearning(
        n_episodes=500, learning_rate=0.5, gamma=1.0, epsilon=0.1, exploration_fraction=0.2, random_state=0
    )
    agent.fit("CliffWalking-v1")
    optimal = optimal_actions(env, 1.0)
    assert all(optimal[s, agent.greedy_policy_[s]] for s in range(CLIFF_START + 1))  # every square off the cliff
    path = greedy_path(env, agent.greedy_policy_, CLIFF_START)
    assert path == [CLIFF_START, 24, *CLIFF_EDGE, 35, CLIFF_GOAL]  # 13 steps, along the edge


def test_sarsa_takes_the_safe_path_away_from_the_cliff():
    """With epsilon held at 0.1, a step along the edge risks a random move into the cliff (-100), and
    SARSA, valuing the policy it actually follows, walks a row higher (Sutton & Barto, Example 6.6):
    longer than the optimal 13 steps, never on the edge row. Its greedy policy is therefore *not*
    value iteration's, by design."""
    env = make_env("CliffWalking-v1")
    agent = SARSA(n_episodes=1000, learning_rate=0.1, gamma=1.0, epsilon=0.1, exploration_fraction=0.0, random_state=0)
    agent.fit("CliffWalking-v1")
    path = greedy_path(env, agent.greedy_policy_, CLIFF_START)
    assert path[-1] == CLIFF_GOAL and len(path) - 1 > 13
    assert not set(path) & set(CLIFF_EDGE)
    assert evaluate_policy("CliffWalking-v1", agent.act, episodes=1)["mean_return"] == -(len(path) - 1)


def test_tabular_agents_refuse_bad_input():
    with pytest.raises(NotFittedError):
        QLearning().act(0)
    with pytest.raises(ValueError, match="not tabular"):
        QLearning(n_episodes=1).fit("CartPole-v1")
    agent = QLearning(n_episodes=2, random_state=0).fit(FROZEN[0], **FROZEN[1])
    with pytest.raises(ValueError, match="state indices"):
        agent.act(np.array([16]))


# -- DQN parts ---------------------------------------------------------------------------------------
def test_replay_buffer_wraps_around_and_samples_only_what_it_holds():
    buffer = ReplayBuffer(capacity=3, observation_size=2)
    with pytest.raises(ValueError, match="empty"):
        buffer.sample(1, np.random.default_rng(0))
    for i in range(5):  # transitions 0..4; 3 and 4 overwrite 0 and 1
        buffer.add([i, -i], action=i % 2, reward=float(i), next_observation=[i + 1, -i - 1], terminated=i == 4)
    assert len(buffer) == 3 and buffer.position == 2
    assert buffer.rewards.tolist() == [3.0, 4.0, 2.0]
    assert buffer.terminated.tolist() == [0.0, 1.0, 0.0]
    batch = buffer.sample(200, np.random.default_rng(0))
    assert set(batch.rewards.tolist()) == {2.0, 3.0, 4.0}  # uniform over what it holds, with replacement
    np.testing.assert_array_equal(batch.observations[:, 0], batch.rewards)  # rows stay whole
    np.testing.assert_array_equal(batch.next_observations[:, 0], batch.rewards + 1)
    again = buffer.sample(200, np.random.default_rng(0))
    np.testing.assert_array_equal(batch.actions, again.actions)


def test_double_dqn_target_matches_a_hand_computation():
    import torch

    from models.phase6.dqn.network import QNetwork, QNetworkConfig, td_targets

    config = QNetworkConfig(observation_size=2, n_actions=2, hidden_sizes=())  # Q(s) = W s + b
    online, target = QNetwork(config), QNetwork(config)
    with torch.no_grad():
        online.net[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))  # Q_online(s') = s'
        target.net[0].weight.copy_(torch.tensor([[2.0, 0.0], [0.0, 0.5]]))  # Q_target(s') = (2 s'_0, s'_1 / 2)
        online.net[0].bias.zero_()
        target.net[0].bias.zero_()
    next_observations = torch.tensor([[1.0, 3.0], [1.0, 3.0]])  # Q_online = (1, 3), Q_target = (2, 1.5)
    rewards, terminated = torch.tensor([1.0, 1.0]), torch.tensor([0.0, 1.0])
    # DQN: 1 + 0.5 * max(2, 1.5) = 2. Double DQN: the online argmax is action 1, so 1 + 0.5 * 1.5 = 1.75.
    # A terminated transition is its reward alone.
    dqn = td_targets(online, target, rewards, next_observations, terminated, gamma=0.5, double_dqn=False)
    double = td_targets(online, target, rewards, next_observations, terminated, gamma=0.5, double_dqn=True)
    assert dqn.tolist() == [2.0, 1.0] and double.tolist() == [1.75, 1.0]
    # The loss is the Huber loss of the taken actions' values: |3 - 1.75| > 1 gives 1.25 - 0.5.
    _, loss = online(next_observations[:1], torch.tensor([1]), double[:1])
    assert loss.item() == pytest.approx(0.75)


def test_epsilon_schedule_matches_stable_baselines3():
    from stable_baselines3.common.utils import LinearSchedule

    theirs = LinearSchedule(1.0, 0.04, 0.16)  # takes the progress *remaining*
    for progress in [0.0, 0.01, 0.08, 0.159, 0.16, 0.5, 1.0]:
        assert linear_schedule(1.0, 0.04, 0.16, progress) == pytest.approx(theirs(1.0 - progress))
    assert linear_schedule(1.0, 0.04, 0.16, 0.08) == pytest.approx(0.52)
    assert linear_schedule(1.0, 0.1, 0.0, 0.0) == 0.1  # no exploration phase: the final value at once


# -- DQN end to end ----------------------------------------------------------------------------------
SMOKE = {
    "total_steps": 2000,
    "learning_starts": 500,
    "train_freq": 64,
    "gradient_steps": 64,
    "exploration_fraction": 0.3,
    "hidden_sizes": (64, 64),
    "device": "cpu",
}


@pytest.fixture(scope="module")
def smoke_agent():
    import torch

    torch.set_num_threads(1)
    return DQNAgent(random_state=0, **SMOKE).fit("CartPole-v1")


def test_dqn_smoke_run_beats_a_random_policy(smoke_agent):
    random_play = evaluate_policy("CartPole-v1", None, episodes=20, seed=0)["mean_return"]
    ours = evaluate_policy("CartPole-v1", smoke_agent.act, episodes=20, seed=0)["mean_return"]
    assert random_play < 30 and ours > 2 * random_play, (ours, random_play)
    assert len(smoke_agent.loss_history_) == (2000 - 512) // 64 + 1  # training rounds after learning_starts
    assert smoke_agent.steps_per_second_ == pytest.approx(2000 / smoke_agent.fit_seconds_)


def test_dqn_is_deterministic_for_a_seed(smoke_agent):
    import torch

    again = DQNAgent(random_state=0, **SMOKE).fit("CartPole-v1")
    assert again.episode_returns_ == smoke_agent.episode_returns_
    assert again.loss_history_ == smoke_agent.loss_history_
    for name, tensor in smoke_agent.module_.state_dict().items():
        assert torch.equal(tensor, again.module_.state_dict()[name]), name
    other = DQNAgent(random_state=1, **SMOKE).fit("CartPole-v1")
    assert other.episode_returns_ != smoke_agent.episode_returns_


def test_dqn_save_load_round_trip(smoke_agent, tmp_path):
    smoke_agent.save(tmp_path / "dqn")
    assert {p.name for p in (tmp_path / "dqn").iterdir()} == {"model.safetensors", "config.json"}
    loaded = DQNAgent.load(tmp_path / "dqn")
    observations = np.random.default_rng(0).uniform(-1, 1, size=(64, 4))
    np.testing.assert_array_equal(loaded.act(observations), smoke_agent.act(observations))
    assert loaded.get_params() == smoke_agent.get_params()
    assert loaded.episode_returns_ == smoke_agent.episode_returns_
    with pytest.raises(FileNotFoundError, match="DQNAgent"):
        DQNAgent.load(tmp_path / "missing")


def test_dqn_refuses_bad_input(smoke_agent):
    with pytest.raises(NotFittedError):
        DQNAgent().act(np.zeros((1, 4)))
    with pytest.raises(ValueError, match=r"shape \(n, 4\)"):
        smoke_agent.act(np.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        smoke_agent.act(np.full((1, 4), np.nan))
    with pytest.raises(ValueError, match="1-D Box observations"):
        DQNAgent(total_steps=10).fit("FrozenLake-v1")
    with pytest.raises(ValueError, match="train_freq"):
        DQNAgent(train_freq=0).fit("CartPole-v1")


def test_double_dqn_option_trains(smoke_agent):
    double = DQNAgent(random_state=0, double_dqn=True, **SMOKE).fit("CartPole-v1")
    assert double.loss_history_ != smoke_agent.loss_history_  # the targets differ, so the updates do
    assert np.isfinite(double.loss_history_).all()


# -- the reference ------------------------------------------------------------------------------------
def test_reference_fits_acts_and_round_trips(tmp_path):
    from models.phase6.dqn.reference import SB3DQN

    reference = SB3DQN(random_state=0, **SMOKE).fit("CartPole-v1")
    assert reference.episode_returns_ and reference.fit_seconds_ > 0
    observations = np.random.default_rng(0).uniform(-1, 1, size=(16, 4))
    actions = reference.act(observations)
    assert actions.shape == (16,) and set(actions.tolist()) <= {0, 1}
    reference.save(tmp_path / "sb3")
    loaded = SB3DQN.load(tmp_path / "sb3")
    np.testing.assert_array_equal(loaded.act(observations), actions)


@pytest.mark.slow
def test_ours_keeps_up_with_stable_baselines3_at_the_same_budget():
    """Oracle at a reduced budget (10,000 steps, rl-zoo hyperparameters otherwise): both learn well
    beyond random play, and ours is not far below the reference. RL returns at one seed are noisy,
    so the bound is loose; the 50,000-step, 3-seed comparison is benchmarks/bench_dqn.py's."""
    import torch

    from models.phase6.dqn.reference import SB3DQN

    torch.set_num_threads(1)
    settings = {"total_steps": 10_000, "device": "cpu", "random_state": 0}
    ours = evaluate_policy("CartPole-v1", DQNAgent(**settings).fit("CartPole-v1").act, seed=0)["mean_return"]
    theirs = evaluate_policy("CartPole-v1", SB3DQN(**settings).fit("CartPole-v1").act, seed=0)["mean_return"]
    assert ours > 100 and theirs > 100 and ours >= 0.5 * theirs, (ours, theirs)


def test_an_environment_id_that_does_not_exist_stops_at_validation_naming_it(stores):
    import dataclasses

    from pipeline.context import make_context
    from pipeline.environment import record
    from pipeline.validate import ValidationFailed
    from s2p import catalog
    from s2p.config import params_for

    misspelt = dataclasses.replace(catalog.get("dqn"), environment="CartPoel-v1")
    ctx = make_context(misspelt, params_for(stores.params_file, "dqn", "smoke"), stores)
    with pytest.raises(ValidationFailed) as stopped:
        record(ctx)
    detail = stopped.value.report.failures[0].detail
    assert "CartPoel-v1" in detail and "CartPole-v1" in detail  # the id, and the registered one it is close to
    assert not ctx.paths.rollouts.exists()


def test_rollouts_outside_the_observation_bounds_are_refused(stores):
    from pipeline.context import make_context
    from pipeline.environment import _candidate, record, validate_rollouts
    from pipeline.validate import ValidationFailed
    from s2p import catalog
    from s2p.config import params_for

    ctx = make_context(catalog.get("dqn"), params_for(stores.params_file, "dqn", "smoke"), stores)
    record(ctx)
    assert validate_rollouts(ctx).passed
    good = ctx.paths.rollouts.read_bytes()
    record(ctx)
    frame = pd.read_parquet(_candidate(ctx))
    frame.loc[3, "obs_1"] = 1e9  # a cart velocity no CartPole episode reaches: a unit or sign error upstream
    frame.to_parquet(_candidate(ctx), index=False)
    with pytest.raises(ValidationFailed) as stopped:
        validate_rollouts(ctx)
    assert [f.column for f in stopped.value.report.failures] == ["obs_1"]
    assert ctx.paths.rollouts.read_bytes() == good
