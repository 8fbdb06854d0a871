"""Oracle tests: every Phase 1 model against its reference library on the same data."""

import itertools

import numpy as np
import pytest
from scipy.cluster.hierarchy import linkage as scipy_linkage
from sklearn import cluster, datasets, decomposition, ensemble, linear_model, naive_bayes, neighbors, tree
from sklearn.base import clone
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import KFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from models.phase1.decision_tree.model import DecisionTreeClassifier, impurity
from models.phase1.hierarchical_clustering.model import AgglomerativeClustering, linkage_matrix
from models.phase1.kmeans.model import KMeans
from models.phase1.knn.model import KNeighborsClassifier
from models.phase1.linear_svm.model import TextLinearSVM
from models.phase1.logistic_regression.model import LogisticRegression
from models.phase1.naive_bayes.model import GaussianNB, TextNaiveBayes
from models.phase1.optimizers.model import MLPRegressor
from models.phase1.pca.model import PCA
from models.phase1.random_forest.model import RandomForestClassifier
from models.phase1.regularization.model import Lasso, Ridge
from s2p import catalog
from s2p.imports import import_object


def load(name):
    return getattr(datasets, f"load_{name}")(return_X_y=True)


def continuous(seed=0, n=400, classes=3):
    return datasets.make_classification(
        n_samples=n, n_features=8, n_informative=5, n_classes=classes, random_state=seed
    )


# -- scikit-learn's conventions: clone, cross_val_score and pipelines work on every model ----------
TABLES = [d for d in catalog.CATALOG if d.recipe == "supervised"]  # the other recipes' models read no table


@pytest.mark.parametrize("deliverable", TABLES, ids=lambda d: d.id)
def test_every_model_follows_scikit_learns_conventions(deliverable):
    from pipeline import kinds
    from s2p.sources import load as load_source

    rows = 1500 if deliverable.has_text else 600  # sentences carry less signal per row
    frame = load_source(deliverable.source).sample(frac=1.0, random_state=0).head(rows)
    X, y = kinds.inputs(deliverable, frame), kinds.targets(deliverable, frame)
    model = import_object(deliverable.model)()
    if "random_state" in model.get_params():  # a seeded fit: the score below is the same in every run
        model.set_params(random_state=0)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and copy is not model
    reference = import_object(deliverable.reference)()  # the reference too: parity and plots clone it
    assert repr(clone(reference)) == repr(reference)  # the same parameters, nested ones included
    if deliverable.task in ("regression", "classification"):
        scores = cross_val_score(copy, X, y, cv=KFold(3, shuffle=True, random_state=0))
        assert np.all(np.isfinite(scores))
        if deliverable.task == "classification":
            assert scores.mean() > 0.6  # the binary tasks' chance is 0.5
    else:
        assert len(kinds.outputs(deliverable, copy.fit(X, y), X)) == len(X)
    if all(column.dtype == "float" for column in deliverable.features):  # measurements: behind a scaler
        piped = make_pipeline(StandardScaler(), clone(model)).fit(X, y)
        assert len(kinds.outputs(deliverable, piped, X)) == len(X)


# -- logistic regression ------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["breast_cancer", "wine", "digits"])
def test_logistic_regression_matches_scikit_learn(name):
    X, y = load(name)
    ours = LogisticRegression(C=0.5).fit(X, y)
    scaled = StandardScaler().fit(X)
    reference = linear_model.LogisticRegression(C=0.5, tol=1e-12, max_iter=10000).fit(scaled.transform(X), y)
    np.testing.assert_allclose(ours.coef_ * scaled.scale_, reference.coef_, atol=2e-5)
    np.testing.assert_allclose(ours.predict_proba(X), reference.predict_proba(scaled.transform(X)), atol=1e-5)
    assert ours.n_epochs_ < 30  # Newton converges in a few steps


def test_logistic_regression_gradient_descent_reaches_the_newton_solution():
    X, y = load("breast_cancer")
    newton = LogisticRegression().fit(X, y)
    descent = LogisticRegression(solver="gd", learning_rate=1.0, max_epochs=20000, tol=1e-13).fit(X, y)
    assert descent.loss_history_[-1] == pytest.approx(newton.loss_history_[-1], rel=1e-4)
    assert np.all(np.diff(descent.loss_history_) <= 1e-12)  # monotone


def test_logistic_regression_refuses_a_single_class():
    with pytest.raises(ValueError, match="single class"):
        LogisticRegression().fit(np.ones((5, 2)) * np.arange(5)[:, None], np.zeros(5))


# -- decision tree ------------------------------------------------------------------------------
def test_vectorized_split_search_equals_a_loop_over_every_threshold():
    X, y = continuous(seed=1, n=120)
    Y = np.eye(3)[y]
    model = DecisionTreeClassifier()
    _feature, _threshold, proxy = model._best_split(X, Y, np.arange(X.shape[1]))
    best = -np.inf
    for j in range(X.shape[1]):
        values = np.unique(X[:, j])
        for low, high in itertools.pairwise(values):
            left = X[:, j] <= (low + high) / 2
            score = -(left.sum() * impurity(Y[left].sum(0), "gini") + (~left).sum() * impurity(Y[~left].sum(0), "gini"))
            best = max(best, score)
    assert proxy == pytest.approx(best)


# Seeds where no two features tie for a split: scikit-learn breaks ties by a random feature order.
@pytest.mark.parametrize(("criterion", "seed"), [("gini", 2), ("entropy", 2), ("gini", 3)])
def test_tree_equals_scikit_learns_tree_node_for_node(criterion, seed):
    X, y = continuous(seed)
    settings = {"criterion": criterion, "max_depth": 4, "min_samples_leaf": 5}
    ours = DecisionTreeClassifier(**settings).fit(X, y)
    theirs = tree.DecisionTreeClassifier(**settings, random_state=0).fit(X, y).tree_
    np.testing.assert_array_equal(ours.feature_, np.where(theirs.feature < 0, -1, theirs.feature))
    np.testing.assert_allclose(ours.threshold_, theirs.threshold)
    np.testing.assert_allclose(ours.feature_importances_, tree.DecisionTreeClassifier(
        **settings, random_state=0).fit(X, y).feature_importances_, atol=1e-12)  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_pruning_path_and_pruned_tree_match_scikit_learn(seed):
    X, y = continuous(seed)
    settings = {"max_depth": 5, "min_samples_leaf": 3}
    ours = DecisionTreeClassifier(**settings).cost_complexity_pruning_path(X, y)
    theirs = tree.DecisionTreeClassifier(**settings, random_state=0).cost_complexity_pruning_path(X, y)
    np.testing.assert_allclose(ours["ccp_alphas"], theirs["ccp_alphas"], atol=1e-12)
    np.testing.assert_allclose(ours["impurities"], theirs["impurities"], atol=1e-12)
    alpha = float(np.mean(theirs["ccp_alphas"][3:5]))  # between two steps of the path
    pruned = DecisionTreeClassifier(**settings, ccp_alpha=alpha).fit(X, y)
    reference = tree.DecisionTreeClassifier(**settings, ccp_alpha=alpha, random_state=0).fit(X, y)
    assert pruned.get_n_leaves() == reference.get_n_leaves()


def test_tree_stopping_rules():
    X, y = load("breast_cancer")
    assert DecisionTreeClassifier(max_depth=3).fit(X, y).get_depth() == 3
    leaves = DecisionTreeClassifier(min_samples_leaf=20).fit(X, y)
    assert leaves.n_node_samples_[leaves.children_left_ == -1].min() >= 20
    stump = DecisionTreeClassifier(min_impurity_decrease=0.2).fit(X, y)
    assert stump.get_n_leaves() == 2


# -- random forest -------------------------------------------------------------------------------
def test_random_forest_matches_scikit_learns_accuracy_and_reports_out_of_bag():
    X, y = load("breast_cancer")
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    ours = RandomForestClassifier(n_estimators=60, random_state=0).fit(X_train, y_train)
    theirs = ensemble.RandomForestClassifier(n_estimators=60, random_state=0, oob_score=True).fit(X_train, y_train)
    assert ours.score(X_test, y_test) >= theirs.score(X_test, y_test) - 0.02
    assert abs(ours.oob_score_ - theirs.oob_score_) < 0.03
    assert ours.feature_importances_.sum() == pytest.approx(1.0)
    assert np.argmax(ours.feature_importances_) in np.argsort(theirs.feature_importances_)[-5:]


# -- k-nearest neighbours ------------------------------------------------------------------------
@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_knn_predicts_like_scikit_learn(weights):
    X, y = load("digits")
    X_train, X_test, y_train, _y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    ours = KNeighborsClassifier(weights=weights).fit(X_train, y_train)
    theirs = neighbors.KNeighborsClassifier(weights=weights).fit(X_train, y_train)
    np.testing.assert_array_equal(ours.predict(X_test), theirs.predict(X_test))
    np.testing.assert_allclose(ours.kneighbors(X_test)[0], theirs.kneighbors(X_test)[0], atol=1e-9)


def test_kd_tree_finds_the_same_neighbours_as_brute_force():
    rng = np.random.default_rng(0)
    X, queries = rng.normal(size=(500, 4)), rng.normal(size=(60, 4))
    y = (X[:, 0] > 0).astype(int)
    brute = KNeighborsClassifier(n_neighbors=7).fit(X, y).kneighbors(queries)
    kd = KNeighborsClassifier(n_neighbors=7, algorithm="kd_tree", leaf_size=10).fit(X, y).kneighbors(queries)
    reference = neighbors.NearestNeighbors(n_neighbors=7).fit(X).kneighbors(queries)
    np.testing.assert_array_equal(kd[1], brute[1])
    np.testing.assert_array_equal(kd[1], reference[1])
    np.testing.assert_allclose(kd[0], reference[0], atol=1e-12)


# -- clustering ----------------------------------------------------------------------------------
def test_kmeans_finds_scikit_learns_solution_on_iris():
    X, _y = load("iris")
    ours = KMeans(n_clusters=3, n_init=10, random_state=0).fit(X)
    theirs = cluster.KMeans(n_clusters=3, n_init=10, random_state=0).fit(X)
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-9)
    assert adjusted_rand_score(ours.labels_, theirs.labels_) == 1.0
    assert ours.score(X) == pytest.approx(theirs.score(X))
    np.testing.assert_array_equal(ours.predict(X), ours.labels_)


def test_kmeans_plus_plus_seeding_beats_random_seeding_on_average():
    X, _ = datasets.make_blobs(n_samples=600, centers=12, cluster_std=0.5, random_state=3)
    plus = [KMeans(12, random_state=s, max_iter=1).fit(X).inertia_ for s in range(10)]
    random = [KMeans(12, init="random", random_state=s, max_iter=1).fit(X).inertia_ for s in range(10)]
    assert np.mean(plus) < np.mean(random)


@pytest.mark.parametrize("method", ["ward", "complete", "average", "single"])
def test_linkage_matches_scipy_and_labels_match_scikit_learn(method):
    X = np.random.default_rng(1).normal(size=(90, 4))
    ours = linkage_matrix(X, method)
    np.testing.assert_allclose(ours[:, 2:], scipy_linkage(X, method)[:, 2:], atol=1e-10)
    labels = AgglomerativeClustering(n_clusters=4, linkage=method).fit(X).labels_
    theirs = cluster.AgglomerativeClustering(n_clusters=4, linkage=method).fit(X).labels_
    assert adjusted_rand_score(labels, theirs) == 1.0


# -- PCA -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("solver", ["svd", "eigh"])
@pytest.mark.parametrize("whiten", [False, True])
def test_pca_matches_scikit_learn(solver, whiten):
    X, _ = load("digits")
    ours = PCA(n_components=12, solver=solver, whiten=whiten).fit(X)
    theirs = decomposition.PCA(n_components=12, whiten=whiten, svd_solver="full").fit(X)
    np.testing.assert_allclose(np.abs(ours.components_), np.abs(theirs.components_), atol=1e-6)
    np.testing.assert_allclose(ours.explained_variance_ratio_, theirs.explained_variance_ratio_, atol=1e-9)
    signs = np.sign((ours.components_ * theirs.components_).sum(axis=1))
    np.testing.assert_allclose(ours.transform(X) * signs, theirs.transform(X), atol=1e-6)
    reconstructed = theirs.inverse_transform(theirs.transform(X))
    np.testing.assert_allclose(ours.inverse_transform(ours.transform(X)), reconstructed, atol=1e-6)


def test_pca_with_every_component_reconstructs_exactly():
    X, _ = load("wine")
    model = PCA().fit(X)
    np.testing.assert_allclose(model.inverse_transform(model.transform(X)), X, atol=1e-8)
    assert model.explained_variance_ratio_.sum() == pytest.approx(1.0)


# -- regularization ------------------------------------------------------------------------------
def test_ridge_closed_form_and_gradient_descent_match_scikit_learn():
    X, y = datasets.load_diabetes(return_X_y=True, scaled=False)
    reference = linear_model.Ridge(alpha=2.0).fit(X, y)
    closed = Ridge(alpha=2.0).fit(X, y)
    np.testing.assert_allclose(closed.coef_, reference.coef_, rtol=1e-6, atol=1e-6)
    assert closed.intercept_ == pytest.approx(reference.intercept_, rel=1e-6)
    descent = Ridge(alpha=2.0, solver="gd", max_epochs=50000, tol=1e-18).fit(X, y)
    np.testing.assert_allclose(descent.coef_, reference.coef_, rtol=1e-4, atol=1e-3)


def test_lasso_coordinate_descent_matches_scikit_learn_and_zeros_coefficients():
    X, y = datasets.load_diabetes(return_X_y=True, scaled=False)
    reference = linear_model.Lasso(alpha=10.0, tol=1e-14, max_iter=200000).fit(X, y)
    ours = Lasso(alpha=10.0, tol=1e-12, max_epochs=100000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, reference.coef_, atol=1e-5)
    assert (ours.coef_ == 0).sum() == (reference.coef_ == 0).sum() > 0
    assert np.all(np.diff(ours.loss_history_) <= 1e-9)  # coordinate descent never increases the objective


def test_dropout_is_active_in_training_and_off_at_prediction():
    X, y = datasets.load_diabetes(return_X_y=True)
    net = MLPRegressor(hidden=64, activation="relu", dropout=0.5, max_epochs=30, random_state=0).fit(X, y)
    np.testing.assert_array_equal(net.predict(X), net.predict(X))  # no dropout at inference
    plain = MLPRegressor(hidden=64, activation="relu", dropout=0.0, max_epochs=30, random_state=0).fit(X, y)
    assert not np.allclose(net.predict(X), plain.predict(X))
    train_error = lambda model: np.mean((model.predict(X) - y) ** 2)  # noqa: E731
    assert train_error(net) > train_error(plain)  # dropout regularizes: a worse fit of the training set
    with pytest.raises(ValueError, match="dropout"):
        MLPRegressor(dropout=1.0).fit(X, y)


def test_same_seed_same_model_bytes():
    import pickle

    X, y = load("breast_cancer")
    for make in (lambda: RandomForestClassifier(n_estimators=5, random_state=3), lambda: KMeans(3, random_state=3)):
        assert pickle.dumps(make().fit(X, y)) == pickle.dumps(make().fit(X, y))


# -- naive Bayes and the linear SVM on text ------------------------------------------------------
@pytest.fixture(scope="module")
def reviews():
    from s2p.sources import movie_reviews

    frame = movie_reviews().sample(3000, random_state=0)
    X, y = frame[["text"]].to_numpy(dtype=object), frame["sentiment"].to_numpy()
    return train_test_split(X, y, test_size=0.25, random_state=0)


def test_our_counts_equal_scikit_learns_count_vectorizer(reviews):
    from sklearn.feature_extraction.text import CountVectorizer

    from models.text import Counts

    texts = reviews[0][:, 0].tolist()
    ours = Counts(texts, min_df=2)
    theirs = CountVectorizer(min_df=2).fit(texts)
    assert ours.vocabulary == theirs.vocabulary_
    assert (ours.transform(texts) != theirs.transform(texts)).nnz == 0


def test_gaussian_naive_bayes_matches_scikit_learn():
    X, y = load("wine")
    ours, theirs = GaussianNB().fit(X, y), naive_bayes.GaussianNB().fit(X, y)
    np.testing.assert_allclose(ours.theta_, theirs.theta_, rtol=1e-12)
    np.testing.assert_allclose(ours.var_, theirs.var_, rtol=1e-12)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-9)


def test_text_naive_bayes_matches_scikit_learns_pipeline(reviews):
    from models.phase1.naive_bayes.reference import text_multinomial_nb

    X_train, X_test, y_train, _ = reviews
    ours = TextNaiveBayes(alpha=0.5).fit(X_train, y_train)
    theirs = text_multinomial_nb(alpha=0.5).fit(X_train, y_train)
    np.testing.assert_allclose(ours.predict_proba(X_test), theirs.predict_proba(X_test), atol=1e-9)
    assert {word for word, _ in ours.top_words(5)["last"]}  # words exist for the plot


def test_pegasos_approaches_linear_svcs_optimum(reviews):
    from models.phase1.linear_svm.reference import text_linear_svc

    X_train, X_test, y_train, y_test = reviews
    ours = TextLinearSVM(batch_size=32, max_epochs=60, eta0=30.0, random_state=0).fit(X_train, y_train)
    reference = text_linear_svc(max_iter=20000).fit(X_train, y_train)
    Z = reference[:-1].transform(X_train)
    signs = np.where(y_train == 1, 1.0, -1.0)
    w = np.r_[reference[-1].coef_.ravel(), reference[-1].intercept_]
    features = np.c_[Z.toarray(), np.ones(len(signs))]
    optimum = w @ w / (2 * len(signs)) + np.maximum(0.0, 1.0 - signs * (features @ w)).mean()  # lambda = 1/(C n)
    assert ours.loss_history_[-1] == pytest.approx(optimum, rel=0.05)
    assert ours.score(X_test, y_test) >= reference.score(X_test, y_test) - 0.015
    assert np.mean(ours.loss_history_[-5:]) < np.mean(ours.loss_history_[:5])
