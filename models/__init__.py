"""From-scratch models, grouped by syllabus phase.

Pure NumPy / PyTorch with scikit-learn estimator conventions; nothing here imports an
orchestration, tracking or serving library.
"""
