"""The metrics of `clip`: retrieval recall both ways on held-out pairs, zero-shot classification from text
prompts, and a supervised linear probe on the same image embeddings.

Retrieval (held-out images X and their captions y; several images share a caption, 180 captions in all):

- image -> text: each image ranks the distinct held-out captions; a hit at k when its own caption is
  among the k most similar (recall_at_k_i2t);
- text -> image: each held-out caption ranks the held-out images; a hit at k when one of the k most
  similar images has that caption (recall_at_k_t2i).

Zero-shot and linear probe, per attribute (shape, colour, size, position; data.py), averaged over the four:

- zero-shot: each value's prompt is the mean embedding of the grammar's captions that state it (prompt
  ensembling, no image labels); an image takes the value whose prompt is most similar;
- linear probe: scikit-learn's LogisticRegression fitted on the embeddings of the model's training images
  (its ``image_bank_``) with the attribute their captions state, scored on the held-out images.
"""

from __future__ import annotations

import numpy as np

from models.phase3.clip.data import ATTRIBUTES, VALUES, all_captions, parse_caption

KS = (1, 5, 10)


def retrieval_ranks(image_embeddings: np.ndarray, text_embeddings: np.ndarray, captions) -> tuple[np.ndarray, ...]:
    """Per pair, the rank (0: first) of the first right answer: image -> distinct captions, text -> images."""
    captions = np.asarray([str(caption) for caption in captions])
    distinct, index = np.unique(captions, return_inverse=True)  # each pair's caption among the distinct ones
    first = np.array([np.flatnonzero(index == i)[0] for i in range(len(distinct))])
    similarity = image_embeddings @ text_embeddings[first].T  # (images, distinct captions)
    own = similarity[np.arange(len(captions)), index]
    image_to_text = (similarity > own[:, None]).sum(axis=1)  # captions ranked above the image's own
    scores = text_embeddings @ image_embeddings.T  # (texts, images)
    right = index[None, :] == index[:, None]  # image j has text i's caption
    best_right = np.where(right, scores, -np.inf).max(axis=1)
    text_to_image = (np.where(right, -np.inf, scores) > best_right[:, None]).sum(axis=1)  # wrong images above
    return image_to_text, text_to_image


def _ranks(y_true, X, model) -> tuple[np.ndarray, np.ndarray]:
    return retrieval_ranks(model.encode_images(X), model.encode_texts(y_true), y_true)


def _recall(k: int, direction: int):
    def recall(y_true, y_pred, X=None, model=None) -> float:
        return float(np.mean(_ranks(y_true, X, model)[direction] < k))

    recall.__name__ = f"recall_at_{k}_{('i2t', 't2i')[direction]}"
    return recall


def attribute_labels(captions, attribute: str) -> np.ndarray:
    """The class id (index in VALUES[attribute]) each caption states."""
    values = VALUES[attribute]
    return np.array([values.index(parse_caption(caption)[attribute]) for caption in captions])


def zero_shot_prompts(model, attribute: str) -> np.ndarray:
    """(values, dim): per value, the normalized mean embedding of every grammar caption stating it."""
    captions = all_captions()
    embeddings = model.encode_texts(captions)
    labels = attribute_labels(captions, attribute)
    prompts = np.stack([embeddings[labels == value].mean(axis=0) for value in range(len(VALUES[attribute]))])
    return prompts / np.linalg.norm(prompts, axis=1, keepdims=True)


def zero_shot_accuracies(y_true, X, model) -> dict[str, float]:
    """Per attribute, the share of held-out images whose most similar prompt states their value."""
    embeddings = model.encode_images(X)
    found = {}
    for attribute in ATTRIBUTES:
        guessed = (embeddings @ zero_shot_prompts(model, attribute).T).argmax(axis=1)
        found[attribute] = float(np.mean(guessed == attribute_labels(y_true, attribute)))
    return found


def linear_probe_accuracies(y_true, X, model) -> dict[str, float]:
    """Per attribute, the held-out accuracy of a logistic regression on the training images' embeddings."""
    from sklearn.linear_model import LogisticRegression

    embeddings = model.encode_images(X)
    found = {}
    for attribute in ATTRIBUTES:
        labels = attribute_labels(model.image_captions_, attribute)
        probe = LogisticRegression(max_iter=2000).fit(model.image_bank_, labels)
        found[attribute] = float(probe.score(embeddings, attribute_labels(y_true, attribute)))
    return found


def attribute_accuracies(y_true, X, model) -> dict[str, dict[str, float]]:
    """{"zero_shot": {attribute: accuracy}, "linear_probe": {...}} on the held-out images."""
    zero_shot, probe = zero_shot_accuracies(y_true, X, model), linear_probe_accuracies(y_true, X, model)
    return {"zero_shot": zero_shot, "linear_probe": probe}


def zero_shot_accuracy(y_true, y_pred, X=None, model=None) -> float:
    return float(np.mean(list(zero_shot_accuracies(y_true, X, model).values())))


def linear_probe_accuracy(y_true, y_pred, X=None, model=None) -> float:
    return float(np.mean(list(linear_probe_accuracies(y_true, X, model).values())))


METRICS = {
    **{f"recall_at_{k}_{way}": (_recall(k, i), True) for k in KS for i, way in enumerate(("i2t", "t2i"))},
    "zero_shot_accuracy": (zero_shot_accuracy, True),
    "linear_probe_accuracy": (linear_probe_accuracy, True),
}
