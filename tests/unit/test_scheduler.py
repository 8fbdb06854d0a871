"""The scheduler core: graph algorithms against networkx, and the executor's failure isolation."""

import threading
import time

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler import DAG, CycleError
from scheduler.executor import COMPLETED, FAILED, SKIPPED, Ref, Step, ThreadEngine, execute


@st.composite
def random_dags(draw):
    n = draw(st.integers(min_value=1, max_value=40))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=120))
    edges = [(min(a, b), max(a, b)) for a, b in pairs if a != b]  # low -> high: acyclic
    order = draw(st.permutations(range(n)))  # node names unrelated to the acyclic order
    return n, [(order[a], order[b]) for a, b in edges], order


def build(n, edges, order):
    dag, graph = DAG(), nx.DiGraph()
    for node in order:
        dag.add_node(node)
        graph.add_node(node)
    for upstream, downstream in edges:
        dag.add_edge(upstream, downstream)
        graph.add_edge(upstream, downstream)
    return dag, graph


@settings(max_examples=150, deadline=None)
@given(random_dags())
def test_order_and_generations_agree_with_networkx(case):
    dag, graph = build(*case)
    order = dag.topological_order()
    position = {node: i for i, node in enumerate(order)}
    assert sorted(order) == sorted(graph.nodes)
    assert all(position[u] < position[v] for u, v in graph.edges)
    ours = [set(wave) for wave in dag.generations()]
    theirs = [set(wave) for wave in nx.topological_generations(graph)]
    assert ours == theirs
    node = order[len(order) // 2]
    assert dag.ancestors(node) == nx.ancestors(graph, node)
    assert dag.descendants(node) == nx.descendants(graph, node)
    assert sorted(map(sorted, dag.weakly_connected_components())) == sorted(
        map(sorted, nx.weakly_connected_components(graph))
    )


@settings(max_examples=150, deadline=None)
@given(random_dags(), st.data())
def test_a_cycle_is_reported_as_a_real_cycle(case, data):
    n, edges, order = case
    if not edges:
        return
    upstream, downstream = data.draw(st.sampled_from(edges))
    dag, graph = build(n, edges, order)
    path = nx.shortest_path(graph, upstream, downstream)
    dag.add_edge(downstream, upstream)  # closes a cycle through path
    with pytest.raises(CycleError) as caught:
        dag.topological_order()
    cycle = caught.value.cycle
    assert len(cycle) == len(set(cycle)) >= 2
    for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=False):
        assert b in dag.successors(a), f"{a}->{b} is not an edge"
    assert len(path) >= 2
    with pytest.raises(CycleError):
        dag.generations()


def test_order_is_deterministic_by_insertion():
    dag = DAG.from_edges([("etl", "validate"), ("validate", "train"), ("validate", "reference")])
    dag.add_edge("train", "evaluate")
    dag.add_edge("reference", "evaluate")
    assert dag.topological_order() == ["etl", "validate", "train", "reference", "evaluate"]
    assert dag.generations() == [["etl"], ["validate"], ["train", "reference"], ["evaluate"]]
    assert "n0 --> n1" in dag.to_mermaid()


def test_self_loop_is_a_cycle():
    dag = DAG.from_edges([("a", "b"), ("b", "b")])
    with pytest.raises(CycleError) as caught:
        dag.topological_order()
    assert caught.value.cycle == ["b"]


def test_executor_isolates_failures_and_runs_independent_branches():
    ran = []

    def ok(name, **_):
        ran.append(name)
        return name

    def boom(**_):
        raise RuntimeError("broken step")

    steps = [
        Step("a", ok, {"name": "a"}),
        Step("bad", boom, {"upstream": Ref("a")}),
        Step("after_bad", ok, {"name": "after_bad", "upstream": Ref("bad")}),
        Step("deeper", ok, {"name": "deeper"}, after=("after_bad",)),
        Step("independent", ok, {"name": "independent", "upstream": Ref("a")}),
        Step("last", ok, {"name": "last"}, after=("independent",)),
    ]
    outcomes = execute(steps, ThreadEngine(max_workers=2))
    states = {name: outcome.state for name, outcome in outcomes.items()}
    assert states == {
        "a": COMPLETED,
        "bad": FAILED,
        "after_bad": SKIPPED,
        "deeper": SKIPPED,
        "independent": COMPLETED,
        "last": COMPLETED,
    }
    assert "broken step" in str(outcomes["bad"].error)
    assert outcomes["deeper"].reason == "upstream after_bad skipped"
    assert "after_bad" not in ran and "deeper" not in ran


def test_executor_runs_independent_steps_in_parallel_and_passes_results():
    barrier = threading.Barrier(2, timeout=5)

    def meet(value):
        barrier.wait()  # only returns if both branches run at the same time
        return value

    steps = [
        Step("left", meet, {"value": 1}),
        Step("right", meet, {"value": 2}),
        Step("total", lambda a, b: a + b, {"a": Ref("left"), "b": Ref("right")}),
    ]
    started = time.perf_counter()
    outcomes = execute(steps, ThreadEngine(max_workers=2))
    assert outcomes["total"].result == 3
    assert time.perf_counter() - started < 5


def test_unknown_upstream_and_cycles_fail_before_running():
    with pytest.raises(KeyError, match="unknown step 'nope'"):
        execute([Step("a", lambda: 1, after=("nope",))], ThreadEngine())
    with pytest.raises(CycleError):
        execute([Step("a", lambda: 1, after=("b",)), Step("b", lambda: 1, after=("a",))], ThreadEngine())
