"""The columns of datasets several deliverables share (their physical ranges and meaning)."""

from __future__ import annotations

from s2p.catalog import Column


def diabetes_columns() -> tuple[Column, ...]:
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


def breast_cancer_columns() -> tuple[Column, ...]:
    stats = ("radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
             "concave_points", "symmetry", "fractal_dimension")  # fmt: skip
    names = [f"mean_{s}" for s in stats] + [f"{s}_error" for s in stats] + [f"worst_{s}" for s in stats]
    return tuple(Column(name, "float", 0, None, "cell nucleus measurement from a breast mass image") for name in names)


def wine_columns() -> tuple[Column, ...]:
    names = ("alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols", "flavanoids",
             "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue", "od280_od315_of_diluted_wines",
             "proline")  # fmt: skip
    return tuple(Column(name, "float", 0, None, "chemical analysis of the wine") for name in names)


def iris_columns() -> tuple[Column, ...]:
    names = ("sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm")
    return tuple(Column(name, "float", 0, 30, "flower measurement in cm") for name in names)


def digit_columns() -> tuple[Column, ...]:
    # Border pixels are blank in most images: they may be constant in a sample.
    return tuple(
        Column(f"pixel_{r}_{c}", "float", 0, 16, f"ink in 8x8 cell ({r}, {c}), 0-16", varies=False)
        for r in range(8)
        for c in range(8)
    )


def image(side: int, description: str) -> tuple[Column, ...]:
    return (Column("image", "tensor", 0, 1, description, shape=(side, side)),)


FASHION = image(28, "a 28x28 greyscale photo of a garment, ink 0-1")
FASHION_CLASS = Column(
    "label", "int", 0, 9, "0 t-shirt/top, 1 trouser, 2 pullover, 3 dress, 4 coat, 5 sandal, 6 shirt, 7 sneaker, "
    "8 bag, 9 ankle boot", values=tuple(range(10)), max_imbalance=0.1,
)  # fmt: skip
DIGIT_IMAGE = image(8, "an 8x8 handwritten digit, ink 0-1")
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
