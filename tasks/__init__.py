"""The pipeline steps as Prefect tasks: thin wrappers over the plain functions in pipeline/.

They add what orchestration gives: names, logging, and Prefect artifacts (the validation report,
the metrics table, the registry decision, the drift summary).
"""
