"""The scheduler core: graph algorithms against networkx, and the executor's failure isolation."""

import functools
import itertools
import threading
import time

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler import DAG, CycleError
from scheduler.executor import CACHED, COMPLETED, FAILED, SKIPPED, Ref, Step, ThreadEngine, execute


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


@settings(max_examples=100, deadline=None)
@given(random_dags(), st.sampled_from([1, 10**9]))
def test_bulk_array_path_agrees_with_networkx(case, scale):
    _, edges, _ = case
    if not edges:
        return
    array = np.array(edges, dtype=np.int64) * scale  # scale 10**9: sparse ids take the np.unique path
    dag = DAG.from_edges(array)
    graph = nx.DiGraph([tuple(edge) for edge in array.tolist()])
    assert [set(w) for w in dag.generations()] == [set(w) for w in nx.topological_generations(graph)]
    assert sorted(dag.nodes) == sorted(graph.nodes)


@settings(max_examples=100, deadline=None)
@given(random_dags(), st.data())
def test_critical_path_is_the_heaviest_path(case, data):
    n, edges, order = case
    dag, graph = build(n, edges, order)
    weight = {node: data.draw(st.integers(1, 9)) for node in order}
    total, path = dag.critical_path(weight=weight.__getitem__)
    best = {}
    for node in nx.topological_sort(graph):
        best[node] = weight[node] + max((best[p] for p in graph.predecessors(node)), default=0)
    assert total == max(best.values())
    assert sum(weight[node] for node in path) == total
    assert all(graph.has_edge(a, b) for a, b in itertools.pairwise(path))
    assert not list(graph.predecessors(path[0])) and not list(graph.successors(path[-1]))


class Recorder:
    """Counts what runs at the same time: concurrency and resource use, under a lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.active, self.peak, self.gpu, self.peak_gpu, self.memory, self.peak_memory = 0, 0, 0, 0, 0, 0
        self.started = []

    def step(self, name, gpu=0, memory=0):
        def run():
            with self.lock:
                self.started.append(name)
                self.active += 1
                self.gpu += gpu
                self.memory += memory
                self.peak = max(self.peak, self.active)
                self.peak_gpu = max(self.peak_gpu, self.gpu)
                self.peak_memory = max(self.peak_memory, self.memory)
            time.sleep(0.01)
            with self.lock:
                self.active -= 1
                self.gpu -= gpu
                self.memory -= memory

        return Step(name, run, resources={"gpu": gpu, "memory_gb": memory})


def test_concurrency_and_resource_limits_are_never_exceeded():
    recorder = Recorder()
    steps = [recorder.step(f"train{i}", gpu=1, memory=4) for i in range(4)]
    steps += [recorder.step(f"etl{i}", memory=6) for i in range(4)]
    steps += [recorder.step(f"light{i}") for i in range(6)]
    outcomes = execute(steps, ThreadEngine(max_workers=8), max_concurrency=3, capacity={"gpu": 1, "memory_gb": 10})
    assert all(o.state == COMPLETED for o in outcomes.values())
    assert recorder.peak <= 3 and recorder.peak_gpu == 1 and recorder.peak_memory <= 10
    assert recorder.peak >= 2  # it did run things in parallel


def test_a_step_needing_more_than_the_capacity_is_refused_upfront():
    with pytest.raises(ValueError, match="needs 2 gpu, more than the capacity"):
        execute([Step("big", lambda: 1, resources={"gpu": 2})], ThreadEngine(), capacity={"gpu": 1})


def test_ready_steps_start_longest_remaining_path_first_and_deterministically():
    def chain(prefix, length):
        return [Step(f"{prefix}{i}", lambda: None, after=(f"{prefix}{i - 1}",) if i else ()) for i in range(length)]

    recorded = []
    for _ in range(2):
        started = []
        steps = [
            Step(s.name, functools.partial(started.append, s.name), after=s.after)
            for s in chain("short", 2) + chain("long", 5) + chain("mid", 3)
        ]
        execute(steps, ThreadEngine(max_workers=1), max_concurrency=1)
        recorded.append(started)
    assert recorded[0] == recorded[1]
    assert recorded[0][0] == "long0"  # heaviest remaining path first
    assert recorded[0].index("mid0") < recorded[0].index("short0")


def test_hash_cache_skips_unchanged_steps_and_reruns_on_any_changed_input(tmp_path):
    from scheduler.cache import HashCache

    data, out = tmp_path / "data.txt", tmp_path / "out.txt"
    data.write_text("1")
    calls = []

    def produce(scale):
        calls.append("produce")
        out.write_text(str(int(data.read_text()) * scale))
        return int(out.read_text())

    def consume(value):
        calls.append("consume")
        return value + 1

    def run(scale=2, threshold=0):
        steps = [
            Step("produce", produce, {"scale": scale}, deps=(data,), outs=(out,)),
            Step("consume", consume, {"value": Ref("produce")}, params={"threshold": threshold}),
        ]
        calls.clear()
        return execute(steps, ThreadEngine(), cache=HashCache(tmp_path / "cache"))

    first = run()
    assert calls == ["produce", "consume"] and first["consume"].result == 3
    second = run()
    assert calls == [] and {o.state for o in second.values()} == {CACHED}
    assert second["consume"].result == 3 and "unchanged" in second["produce"].reason
    run(threshold=1)
    assert calls == ["consume"]  # a parameter of consume changed
    data.write_text("5")
    assert run()["consume"].result == 11 and calls == ["produce", "consume"]  # a dependency file changed
    out.write_text("tampered")
    run()
    assert calls == ["produce"]  # an output changed: rerun; same result, so consume stays cached
    run(scale=3)
    assert calls == ["produce", "consume"]  # an argument changed


def test_cross_deliverable_dependencies_wire_register_to_train():
    import dataclasses

    from pipeline.stages import step_dag
    from s2p import catalog

    base = catalog.get("linear_regression")
    downstream = dataclasses.replace(base, id="downstream", depends_on=("linear_regression",))
    dag = step_dag([base, downstream])
    assert "linear_regression.register" in dag.predecessors("downstream.train")
    assert "downstream.etl" in dag.generations()[0]  # its data preparation does not wait
    assert dag.critical_path()[1][-1] == "downstream.package"
