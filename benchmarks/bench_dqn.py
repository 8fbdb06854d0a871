"""DQN benchmark: our DQNAgent against stable-baselines3's DQN on CartPole-v1, same budget and seeds.

    nice -n 15 .venv/bin/python benchmarks/bench_dqn.py [--steps 50000] [--seeds 3] [--double]
        [--threads 1] [--device cpu|cuda|auto] [--eval-episodes 20]

Both take rl-zoo's CartPole-v1 hyperparameters (models/phase6/dqn/model.py's defaults) and the same
seed; runs are interleaved, the order alternating from seed to seed, so that a change in the
machine's load falls on both. Per run: mean return over the greedy evaluation episodes (seeded
apart from training), fit wall time, environment steps/s. Then the mean over seeds of each and
the ratios ours / reference. The issue's target: mean return >= 475 within 50,000 steps.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.phase6.dqn.data import evaluate_policy
from models.phase6.dqn.model import DQNAgent
from models.phase6.dqn.reference import SB3DQN

ENV_ID = "CartPole-v1"
TARGET = 475.0
EVAL_SEED_OFFSET = 10_000  # evaluation episodes start from other seeds than training's


def run_one(name: str, estimator, seed: int, eval_episodes: int) -> dict:
    estimator.fit(ENV_ID)
    result = evaluate_policy(ENV_ID, estimator.act, episodes=eval_episodes, seed=EVAL_SEED_OFFSET + seed)
    row = {
        "name": name,
        "seed": seed,
        "mean_return": result["mean_return"],
        "std_return": result["std_return"],
        "fit_seconds": estimator.fit_seconds_,
        "steps_per_second": estimator.steps_per_second_,
        "last_training_returns": statistics.fmean(estimator.episode_returns_[-10:]),
        "best_training_return": max(estimator.episode_returns_),
    }
    print(
        f"{name:>10} seed {seed}: mean return {row['mean_return']:6.1f} +- {row['std_return']:5.1f}  "
        f"wall {row['fit_seconds']:6.1f} s  {row['steps_per_second']:7.0f} env steps/s  "
        f"(training: last 10 episodes {row['last_training_returns']:5.1f}, best {row['best_training_return']:.0f})",
        flush=True,
    )
    return row


def summarize(rows: list[dict], names: tuple[str, str]) -> None:
    def mean(name: str, key: str) -> float:
        return statistics.fmean(r[key] for r in rows if r["name"] == name)

    print()
    for name in names:
        returns = [r["mean_return"] for r in rows if r["name"] == name]
        spread = statistics.stdev(returns) if len(returns) > 1 else 0.0
        print(
            f"{name:>10}: mean return {mean(name, 'mean_return'):6.1f} (sd over seeds {spread:5.1f}, "
            f"{sum(r >= TARGET for r in returns)}/{len(returns)} seeds >= {TARGET:.0f})  "
            f"wall {mean(name, 'fit_seconds'):6.1f} s  {mean(name, 'steps_per_second'):7.0f} env steps/s"
        )
    ours, reference = names
    print(
        f"ratio ours/reference: mean return {mean(ours, 'mean_return') / mean(reference, 'mean_return'):.3f}  "
        f"env steps/s {mean(ours, 'steps_per_second') / mean(reference, 'steps_per_second'):.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50_000, help="environment steps per fit")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1")
    parser.add_argument("--double", action="store_true", help="ours as Double DQN (the reference has none)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto")
    parser.add_argument("--eval-episodes", type=int, default=20)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    ours_name = "double-dqn" if args.double else "ours"
    print(
        f"{ENV_ID}: {args.steps} env steps, seeds 0..{args.seeds - 1}, device {args.device}, {args.threads} thread(s)"
    )
    rows = []
    for seed in range(args.seeds):
        settings = {"total_steps": args.steps, "device": args.device, "random_state": seed}
        runs = [
            (ours_name, DQNAgent(double_dqn=args.double, **settings)),
            ("sb3", SB3DQN(**settings)),
        ]
        for name, estimator in runs if seed % 2 == 0 else runs[::-1]:
            rows.append(run_one(name, estimator, seed, args.eval_episodes))
    summarize(rows, (ours_name, "sb3"))


if __name__ == "__main__":
    main()
