"""fairness_audit: the group-fairness audit of the ``income`` deliverable's champion (an audit: it trains nothing).

It reads the upstream champion and held-out rows of its table (``data.audit_split``), measures per
group (``sex``) the selection rate, TPR, FPR and accuracy, and disparate impact, demographic parity
and equalized-odds differences (``metrics``, equal to fairlearn.metrics); mitigates with per-group
thresholds of ours (``model.GroupThresholdClassifier``) against fairlearn's ThresholdOptimizer
(``reference``); writes tables, plots and an HTML page (``report.audit_report``); and ``model.gate``
decides whether the mitigated model becomes champion (disparate impact >= 0.8, accuracy down at most
2 points), saying why either way.
"""
