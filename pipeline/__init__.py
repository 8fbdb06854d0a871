"""The plain functions behind every pipeline step.

Each step receives a RunContext (what to run, with which parameters, where to read and write)
and neither reads configuration nor builds paths. Prefect tasks (tasks/) and DVC stages
(`s2p stage`) are two thin entry points over these same functions.
"""
