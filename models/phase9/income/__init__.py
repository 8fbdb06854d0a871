"""income: a supervised income classifier (income above 50K dollars) on the UCI adult census data.

Ours is the project's from-scratch logistic regression (models/phase1, standardized features, Newton's
method); the reference is scikit-learn's StandardScaler + LogisticRegression. Its champion is the
upstream model that the ``fairness_audit`` deliverable audits (the sensitive attribute is ``sex``).
"""
