"""The catalog: one declaration per deliverable.

Flows, DVC stages, Feast feature views, Great Expectations suites and BentoML services are all
derived from these declarations; adding a deliverable means adding a model and an entry here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Literal

#: What a model's output is: a number (regression), a class (classification), a cluster id
#: (clustering), a vector of components (decomposition), a sequence of token ids (encoding) or
#: the ids of the nearest indexed rows (retrieval), or something the model makes for each row: a
#: continuation of a text, an image of a class, a transformed sequence (generation).
#: pipeline/kinds.py acts on it.
TaskType = Literal["regression", "classification", "clustering", "decomposition", "encoding", "retrieval", "generation"]


@dataclass(frozen=True)
class Column:
    """A column of a deliverable's data, with the range its values must lie in.

    A ``tensor`` column holds one array per row (an image, a sequence), stored flat; ``shape`` is
    its shape and ``min`` / ``max`` bound every element (pipeline/tensors.py).
    """

    name: str
    dtype: Literal["float", "int", "text", "tensor"] = "float"
    min: float | None = None  # for text: the shortest allowed length in characters
    max: float | None = None  # for text: the longest
    description: str = ""
    values: tuple[int, ...] | None = None  # the known label set of a class column
    varies: bool = True  # False for a column that may be constant (a border pixel of a digit, say)
    shape: tuple[int, ...] | None = None  # of each row's array, for a tensor column
    #: Class balance: the largest KL divergence (nats) of the class shares from uniform.
    max_imbalance: float | None = None

    def __post_init__(self) -> None:
        if (self.dtype == "tensor") != (self.shape is not None):
            raise ValueError(f"column {self.name}: a shape is given exactly for a tensor column")


@dataclass(frozen=True)
class Gate:
    """How a challenger is judged: the metric, its direction and an optional absolute bar."""

    metric: str
    greater_is_better: bool
    threshold: float | None = None

    def better(self, challenger: float, champion: float, margin: float) -> bool:
        if self.greater_is_better:
            return challenger > champion + margin
        return challenger < champion - margin

    def passes_threshold(self, value: float) -> bool:
        if self.threshold is None:
            return True
        return value >= self.threshold if self.greater_is_better else value <= self.threshold


@dataclass(frozen=True)
class Deliverable:
    id: str
    phase: str
    title: str
    task: TaskType
    source: str  # import path of a loader returning a DataFrame of features and target
    features: tuple[Column, ...]
    target: Column
    model: str  # import path "module:Class" of the from-scratch estimator
    reference: str  # import path of the reference implementation it is compared with
    metrics: tuple[str, ...]
    gate: Gate
    plots: tuple[str, ...] = ()  # names in pipeline/plots.py, drawn by evaluate, logged to MLflow
    framework: Literal["numpy", "torch"] = "numpy"
    min_rows: int = 50
    depends_on: tuple[str, ...] = field(default_factory=tuple)
    #: A method that labels the rows it is fitted on and has no predict (AgglomerativeClustering):
    #: it is scored by fit_predict on the held-out rows, ours and the reference alike.
    transductive: bool = False
    #: The fit-time ratio (ours / reference) the parity table holds it to; None where the reference is
    #: another kind of model (a VAE against PCA): the ratio is reported, not held to a budget.
    fit_time_budget: float | None = 3.0

    @property
    def feature_names(self) -> list[str]:
        return [column.name for column in self.features]

    @property
    def has_text(self) -> bool:
        return any(column.dtype == "text" for column in self.features)

    @property
    def tensor_columns(self) -> list[Column]:
        """Feature and target columns that hold an array per row."""
        return [column for column in (*self.features, self.target) if column.dtype == "tensor"]

    def summary(self) -> dict:
        """What `s2p list --json` prints."""
        return {
            "id": self.id,
            "phase": self.phase,
            "title": self.title,
            "task": self.task,
            "model": self.model,
            "reference": self.reference,
            "metrics": list(self.metrics),
            "gate": asdict(self.gate),
            "plots": list(self.plots),
            "source": self.source,
            "features": self.feature_names,
            "target": self.target.name,
            "depends_on": list(self.depends_on),
        }


def _diabetes_columns() -> tuple[Column, ...]:
    # Ranges are physiological bounds, wider than the data: they catch unit mistakes and garbage.
    bounds = {
        "age": (0, 120, "age in years"),
        "sex": (1, 2, "sex, coded 1 or 2"),
        "bmi": (10, 80, "body mass index"),
        "bp": (40, 250, "average blood pressure"),
        "s1": (50, 500, "tc, total serum cholesterol"),
        "s2": (10, 400, "ldl, low-density lipoproteins"),
        "s3": (5, 200, "hdl, high-density lipoproteins"),
        "s4": (0, 20, "tch, total cholesterol / HDL"),
        "s5": (0, 10, "ltg, log of serum triglycerides"),
        "s6": (30, 400, "glu, blood sugar level"),
    }
    return tuple(Column(name, "float", lo, hi, text) for name, (lo, hi, text) in bounds.items())


def _breast_cancer_columns() -> tuple[Column, ...]:
    stats = ("radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
             "concave_points", "symmetry", "fractal_dimension")  # fmt: skip
    names = [f"mean_{s}" for s in stats] + [f"{s}_error" for s in stats] + [f"worst_{s}" for s in stats]
    return tuple(Column(name, "float", 0, None, "cell nucleus measurement from a breast mass image") for name in names)


def _wine_columns() -> tuple[Column, ...]:
    names = ("alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols", "flavanoids",
             "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue", "od280_od315_of_diluted_wines",
             "proline")  # fmt: skip
    return tuple(Column(name, "float", 0, None, "chemical analysis of the wine") for name in names)


def _iris_columns() -> tuple[Column, ...]:
    names = ("sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm")
    return tuple(Column(name, "float", 0, 30, "flower measurement in cm") for name in names)


def _digit_columns() -> tuple[Column, ...]:
    # Border pixels are blank in most images: they may be constant in a sample.
    return tuple(
        Column(f"pixel_{r}_{c}", "float", 0, 16, f"ink in 8x8 cell ({r}, {c}), 0-16", varies=False)
        for r in range(8)
        for c in range(8)
    )


def _image(side: int, description: str) -> tuple[Column, ...]:
    return (Column("image", "tensor", 0, 1, description, shape=(side, side)),)


FASHION = _image(28, "a 28x28 greyscale photo of a garment, ink 0-1")
FASHION_CLASS = Column(
    "label", "int", 0, 9, "0 t-shirt/top, 1 trouser, 2 pullover, 3 dress, 4 coat, 5 sandal, 6 shirt, 7 sneaker, "
    "8 bag, 9 ankle boot", values=tuple(range(10)), max_imbalance=0.1,
)  # fmt: skip
DIGIT_IMAGE = _image(8, "an 8x8 handwritten digit, ink 0-1")
REVIEW = (Column("text", "text", 1, 2000, "a movie-review sentence"),)
SENTIMENT = Column("sentiment", "int", 0, 1, "1 positive, 0 negative", values=(0, 1))
PAIR = (
    Column("text_a", "text", 1, 2000, "a sentence"),
    Column("text_b", "text", 1, 2000, "a sentence that may be a near-duplicate of text_a"),
)
DUPLICATE = Column("is_duplicate", "int", 0, 1, "1 when text_b is a near-duplicate of text_a", values=(0, 1))
DIAGNOSIS = Column("diagnosis", "int", 0, 1, "0 malignant, 1 benign", values=(0, 1))
DIGIT = Column("digit", "int", 0, 9, "the digit drawn", values=tuple(range(10)), max_imbalance=0.1)
SPECIES = Column("species", "int", 0, 2, "iris species (scored against clusters, never trained on)", values=(0, 1, 2))
CLASSIFICATION_METRICS = ("accuracy", "f1_macro")

CATALOG: tuple[Deliverable, ...] = (
    Deliverable(
        id="linear_regression",
        phase="1",
        title="Linear regression: closed-form OLS, batch GD, SGD and mini-batch SGD",
        task="regression",
        source="s2p.sources:diabetes",
        features=_diabetes_columns(),
        target=Column("progression", "float", 0, 400, "disease progression one year after baseline"),
        model="models.phase1.linear_regression:LinearRegression",
        reference="sklearn.linear_model:LinearRegression",
        metrics=("rmse", "mae", "r2"),
        gate=Gate(metric="rmse", greater_is_better=False),
        plots=("loss_curve", "residuals"),
        min_rows=50,
    ),
    Deliverable(
        id="logistic_regression",
        phase="1",
        title="Logistic regression: binary and softmax, L2, Newton or gradient descent on the log-loss",
        task="classification",
        source="s2p.sources:breast_cancer",
        features=_breast_cancer_columns(),
        target=DIAGNOSIS,
        model="models.phase1.logistic_regression:LogisticRegression",
        reference="s2p.references:scaled_logistic_regression",
        metrics=(*CLASSIFICATION_METRICS, "log_loss"),
        gate=Gate(metric="accuracy", greater_is_better=True),
        plots=("loss_curve", "roc", "calibration", "decision_boundary"),
    ),
    Deliverable(
        id="decision_tree",
        phase="1",
        title="Decision tree: CART with gini or entropy, vectorized split search, cost-complexity pruning",
        task="classification",
        source="s2p.sources:breast_cancer",
        features=_breast_cancer_columns(),
        target=DIAGNOSIS,
        model="models.phase1.decision_tree:DecisionTreeClassifier",
        reference="sklearn.tree:DecisionTreeClassifier",
        metrics=CLASSIFICATION_METRICS,
        gate=Gate(metric="accuracy", greater_is_better=True),
        plots=("confusion_matrix", "feature_importance", "pruning_path"),
        fit_time_budget=10.0,
    ),
    Deliverable(
        id="random_forest",
        phase="1",
        title="Random forest: bootstrap and feature subsampling over our trees, out-of-bag score",
        task="classification",
        source="s2p.sources:breast_cancer",
        features=_breast_cancer_columns(),
        target=DIAGNOSIS,
        model="models.phase1.random_forest:RandomForestClassifier",
        reference="sklearn.ensemble:RandomForestClassifier",
        metrics=CLASSIFICATION_METRICS,
        gate=Gate(metric="accuracy", greater_is_better=True),
        plots=("confusion_matrix", "feature_importance"),
        fit_time_budget=10.0,
    ),
    Deliverable(
        id="knn",
        phase="1",
        title="k-nearest neighbours: vectorized brute force and a KD-tree, distance weighting",
        task="classification",
        source="s2p.sources:digits",
        features=_digit_columns(),
        target=DIGIT,
        model="models.phase1.knn:KNeighborsClassifier",
        reference="sklearn.neighbors:KNeighborsClassifier",
        metrics=CLASSIFICATION_METRICS,
        gate=Gate(metric="accuracy", greater_is_better=True),
        plots=("confusion_matrix",),
        fit_time_budget=10.0,
    ),
    Deliverable(
        id="kmeans",
        phase="1",
        title="k-means: Lloyd's algorithm with k-means++ seeding, elbow and silhouette",
        task="clustering",
        source="s2p.sources:iris",
        features=_iris_columns(),
        target=SPECIES,
        model="models.phase1.kmeans:KMeans",
        reference="sklearn.cluster:KMeans",
        metrics=("ari", "silhouette", "inertia"),
        gate=Gate(metric="silhouette", greater_is_better=True),
        plots=("elbow", "silhouette", "clusters_2d"),
    ),
    Deliverable(
        id="hierarchical_clustering",
        phase="1",
        title="Hierarchical clustering: agglomerative with single, complete, average and ward linkage",
        task="clustering",
        source="s2p.sources:iris",
        features=_iris_columns(),
        target=SPECIES,
        model="models.phase1.hierarchical:AgglomerativeClustering",
        reference="sklearn.cluster:AgglomerativeClustering",
        metrics=("ari", "silhouette"),
        gate=Gate(metric="silhouette", greater_is_better=True),
        plots=("dendrogram", "clusters_2d"),
        transductive=True,
        fit_time_budget=10.0,
    ),
    Deliverable(
        id="naive_bayes",
        phase="1",
        title="Naive Bayes: Gaussian, and multinomial on our own tokenization and word counts",
        task="classification",
        source="s2p.sources:movie_reviews",
        features=REVIEW,
        target=SENTIMENT,
        model="models.phase1.naive_bayes:TextNaiveBayes",
        reference="s2p.references:text_multinomial_nb",
        metrics=(*CLASSIFICATION_METRICS, "log_loss"),
        gate=Gate(metric="accuracy", greater_is_better=True),
        plots=("confusion_matrix", "top_words"),
    ),
    Deliverable(
        id="linear_svm",
        phase="1",
        title="Linear SVM: primal hinge loss by Pegasos subgradient steps, against naive Bayes",
        task="classification",
        source="s2p.sources:movie_reviews",
        features=REVIEW,
        target=SENTIMENT,
        model="models.phase1.linear_svm:TextLinearSVM",
        reference="s2p.references:text_linear_svc",
        metrics=CLASSIFICATION_METRICS,
        gate=Gate(metric="accuracy", greater_is_better=True),
        plots=("loss_curve", "confusion_matrix", "vs_naive_bayes"),
    ),
    Deliverable(
        id="pca",
        phase="1",
        title="PCA: via SVD and via eigendecomposition, explained variance, whitening",
        task="decomposition",
        source="s2p.sources:digits",
        features=_digit_columns(),
        target=DIGIT,
        model="models.phase1.pca:PCA",
        reference="sklearn.decomposition:PCA",
        metrics=("explained_variance", "reconstruction_rmse"),
        gate=Gate(metric="explained_variance", greater_is_better=True),
        plots=("explained_variance", "projection_2d"),
    ),
    Deliverable(
        id="regularization",
        phase="1",
        title="Regularization: ridge (closed form, gradient), lasso (coordinate descent), dropout",
        task="regression",
        source="s2p.sources:diabetes",
        features=_diabetes_columns(),
        target=Column("progression", "float", 0, 400, "disease progression one year after baseline"),
        model="models.phase1.regularization:Lasso",
        reference="sklearn.linear_model:Lasso",
        metrics=("rmse", "mae", "r2"),
        gate=Gate(metric="rmse", greater_is_better=False),
        plots=("residuals", "penalty_ablation", "dropout_ablation"),
        fit_time_budget=10.0,  # coordinate descent visits coefficients one at a time, in Python
    ),
    Deliverable(
        id="optimizers",
        phase="1",
        title="Optimizers: GD, momentum, Nesterov, RMSProp and Adam in NumPy, step for step as torch.optim",
        task="regression",
        source="s2p.sources:diabetes",
        features=_diabetes_columns(),
        target=Column("progression", "float", 0, 400, "disease progression one year after baseline"),
        model="models.phase1.mlp:MLPRegressor",
        reference="s2p.references:TorchMLPRegressor",
        metrics=("rmse", "mae", "r2"),
        gate=Gate(metric="rmse", greater_is_better=False),
        plots=("loss_curve", "optimizer_paths", "optimizer_race"),
    ),
    Deliverable(
        id="text_similarity",
        phase="DSA",
        title="Text similarity: edit distance and LCS by dynamic programming, a near-duplicate detector",
        task="classification",
        source="s2p.sources:review_pairs",
        features=PAIR,
        target=DUPLICATE,
        model="models.dsa.text_similarity:DuplicateDetector",
        reference="s2p.references:FuzzyDuplicateDetector",
        metrics=("f1", "precision", "recall", "accuracy"),
        gate=Gate(metric="f1", greater_is_better=True),
        plots=("similarity_histogram", "corpus_duplicates", "confusion_matrix"),
        fit_time_budget=100.0,  # pure-Python bit vectors against rapidfuzz's C++: a DSA lesson, not a race
    ),
    Deliverable(
        id="tokenizer",
        phase="DSA",
        title="Tokenizer: byte-pair encoding trained on offline text, and a trie for autocomplete",
        task="encoding",
        source="s2p.sources:movie_reviews",
        features=(Column("text", "text", 1, 2000, "a movie-review sentence"),),
        target=Column("sentiment", "int", 0, 1, "carried with the text; a tokenizer never reads it", values=(0, 1)),
        model="models.dsa.tokenizer:BPETokenizer",
        reference="s2p.references:HuggingFaceBPE",
        metrics=("compression", "roundtrip"),
        gate=Gate(metric="compression", greater_is_better=True),
        plots=("compression_by_vocab", "tokens_per_text"),
        fit_time_budget=100.0,  # Python dictionaries against a Rust trainer
    ),
    Deliverable(
        id="tree_structures",
        phase="DSA",
        title="Tree structures: a B-tree of order m with disk-style pages, a heap for top-k and beam search",
        task="regression",
        source="s2p.sources:diabetes",
        features=_diabetes_columns(),
        target=Column("progression", "float", 0, 400, "disease progression one year after baseline"),
        model="models.dsa.tree_structures:BTreeNeighboursRegressor",
        reference="s2p.references:single_feature_knn",
        metrics=("rmse", "mae", "r2"),
        gate=Gate(metric="rmse", greater_is_better=False),
        plots=("residuals", "btree_io"),
        fit_time_budget=100.0,  # Python pages against a C k-d tree: the lesson is the page count
    ),
    Deliverable(
        id="knn_search",
        phase="DSA",
        title="Nearest-neighbour search: brute force, a ball tree and out-of-core search, custom metrics",
        task="retrieval",
        source="s2p.sources:digits",
        features=_digit_columns(),
        target=Column("digit", "int", 0, 9, "carried with the vectors; search never reads it", values=tuple(range(10))),
        model="models.dsa.knn_search:NeighbourIndex",
        reference="s2p.references:FaissIndex",
        metrics=("recall_at_k", "query_ms"),
        gate=Gate(metric="recall_at_k", greater_is_better=True),
        plots=("recall_latency",),
        fit_time_budget=100.0,  # fit stores the vectors; the race is query time (query_ms, the plot)
    ),
    Deliverable(
        id="mlp",
        phase="2",
        title="Feedforward network in NumPy: dense layers, ReLU / sigmoid / tanh, He / Xavier, mini-batch SGD",
        task="classification",
        source="s2p.sources:fashion_mnist",
        features=FASHION,
        target=FASHION_CLASS,
        model="models.phase2.mlp:MLPClassifier",
        reference="models.phase2.mlp:TorchMLPClassifier",
        metrics=("accuracy", "f1_macro", "log_loss"),
        gate=Gate(metric="accuracy", greater_is_better=True),
        plots=("loss_curve", "confusion_matrix", "image_predictions"),
    ),
    Deliverable(
        id="backprop",
        phase="2",
        title="Backpropagation by hand: gradients checked against autograd, gradient flow per layer",
        task="classification",
        source="s2p.sources:digit_images",
        features=DIGIT_IMAGE,
        target=DIGIT,
        model="models.phase2.mlp:MLPClassifier",
        reference="models.phase2.mlp:TorchMLPClassifier",
        metrics=("accuracy", "f1_macro", "log_loss"),
        gate=Gate(metric="accuracy", greater_is_better=True),
        plots=("gradient_norms", "gradient_histograms", "gradient_depth"),
    ),
    Deliverable(
        id="cnn",
        phase="2",
        title="Convolutional network: convolution, padding, stride, max / average pooling by hand (im2col)",
        task="classification",
        source="s2p.sources:fashion_mnist",
        features=FASHION,
        target=FASHION_CLASS,
        model="models.phase2.cnn:CNNClassifier",
        reference="models.phase2.cnn:TorchCNNClassifier",
        metrics=("accuracy", "f1_macro", "log_loss"),
        gate=Gate(metric="accuracy", greater_is_better=True),
        plots=("loss_curve", "confusion_matrix", "conv_filters", "image_predictions"),
        fit_time_budget=10.0,  # im2col and matrix products in NumPy against torch's convolution kernels
    ),
    Deliverable(
        id="rnn",
        phase="2",
        title="RNN, GRU and LSTM cells in NumPy: a character-level language model, truncated BPTT",
        task="generation",
        source="s2p.sources:movie_reviews",
        features=(Column("text", "text", 1, 2000, "a movie-review sentence; served: a prompt to continue"),),
        target=replace(SENTIMENT, description="carried with the text; a language model never reads it"),
        model="models.phase2.rnn:CharLanguageModel",
        reference="models.phase2.rnn:TorchCharLanguageModel",
        metrics=("perplexity",),
        gate=Gate(metric="perplexity", greater_is_better=False),
        plots=("loss_curve", "generated_text"),
        fit_time_budget=10.0,  # a Python loop over time steps against torch's fused recurrent kernels
    ),
    Deliverable(
        id="attention",
        phase="2",
        title="Attention: scaled dot-product and multi-head attention, a toy sorting task, attention maps",
        task="generation",
        source="s2p.sources:sort_sequences",
        features=(Column("sequence", "tensor", 0, 9, "8 digits", values=tuple(range(10)), shape=(8,)),),
        target=Column("answer", "tensor", 0, 9, "the same digits sorted", values=tuple(range(10)), shape=(8,)),
        model="models.phase2.attention:SequenceTransformer",
        reference="models.phase2.attention:TorchAttentionTransformer",
        metrics=("sequence_accuracy", "token_accuracy"),
        gate=Gate(metric="token_accuracy", greater_is_better=True),
        plots=("loss_curve", "attention_maps"),
        framework="torch",
    ),
    Deliverable(
        id="autoencoder",
        phase="2",
        title="Autoencoder and VAE: reparameterization, ELBO, latent traversals",
        task="decomposition",
        source="s2p.sources:digit_images",
        features=DIGIT_IMAGE,
        target=replace(DIGIT, description="carried with the image; the autoencoder never reads it"),
        model="models.phase2.autoencoder:VAE",
        reference="s2p.references:ImagePCA",
        metrics=("reconstruction_rmse", "elbo", "explained_variance"),
        gate=Gate(metric="reconstruction_rmse", greater_is_better=False),
        plots=("loss_curve", "reconstructions", "latent_traversal"),
        framework="torch",
        fit_time_budget=None,  # a network trained for 150 epochs against one SVD: another kind of model
    ),
    Deliverable(
        id="gan",
        phase="2",
        title="Conditional GAN: generator against discriminator, label smoothing, gradient penalty, FID-like score",
        task="generation",
        source="s2p.sources:digit_images",
        features=(replace(DIGIT, description="the digit to draw"),),
        target=replace(DIGIT_IMAGE[0], description="an 8x8 handwritten digit, ink 0-1: what the model draws"),
        model="models.phase2.gan:ConditionalGAN",
        reference="s2p.references:ClassConditionalGMM",
        metrics=("fid", "class_accuracy"),
        gate=Gate(metric="fid", greater_is_better=False),
        plots=("loss_curve", "gan_progress", "generated_samples"),
        framework="torch",
        fit_time_budget=None,  # two networks trained for 150 epochs against EM: another kind of model
    ),
)


class UnknownDeliverable(KeyError):
    def __str__(self) -> str:
        known = ", ".join(d.id for d in CATALOG)
        return f"unknown deliverable {self.args[0]!r}; known: {known}"


def get(deliverable_id: str) -> Deliverable:
    for deliverable in CATALOG:
        if deliverable.id == deliverable_id:
            return deliverable
    raise UnknownDeliverable(deliverable_id)


def select(phase: str | None = None) -> list[Deliverable]:
    return [d for d in CATALOG if phase in (None, "all", d.phase)]
