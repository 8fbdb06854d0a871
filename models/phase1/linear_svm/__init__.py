"""Linear SVM: primal hinge loss by Pegasos subgradient steps, against naive Bayes."""
