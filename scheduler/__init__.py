"""The project's own topological scheduler (the syllabus's DSA interlude)."""

from scheduler.dag import DAG, CycleError

__all__ = ["DAG", "CycleError"]
