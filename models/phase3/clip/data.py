"""Paired images and captions made offline: coloured shapes with compositional captions.

Each image is 32 x 32 RGB (values 0-1): one axis-aligned shape on a dark, slightly noisy background.
The generator draws four attributes and records them beside the image and its caption:

    shape     circle | square | triangle
    colour    red | green | blue | yellow | cyan | magenta   (and a brightness of 0.8-1)
    size      small (radius 3.5-4.5 px) | large (radius 6-7.5 px)
    position  top left | top right | bottom left | bottom right | center   (jittered inside its region)

    caption   "a small red circle at the top left", "a large cyan triangle in the center"

180 distinct captions, so a batch holds images that share a caption (both are right answers: the
metrics count a retrieved caption or image as right when its caption text is the query's).

``measure`` reads the four attributes back from an image alone (the shape's bounding box, its best
fit among the three rasterized shapes, its mean colour), and ``check_pairs`` refuses pairs whose
caption says something else than the image shows, or than the attributes the generator recorded:
the source refuses them before anything is written, and the estimator before it trains.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from s2p.sources import DataError

IMAGE_SIZE = 32
CHANNELS = 3
SHAPES = ("circle", "square", "triangle")
COLOURS = {
    "red": (1.0, 0.15, 0.15),
    "green": (0.15, 0.9, 0.15),
    "blue": (0.2, 0.35, 1.0),
    "yellow": (1.0, 0.9, 0.1),
    "cyan": (0.1, 0.9, 0.95),
    "magenta": (0.95, 0.2, 0.9),
}
SIZES = {"small": (3.5, 4.5), "large": (6.0, 7.5)}  # radius (half the side), pixels
POSITIONS = ("top left", "top right", "bottom left", "bottom right", "center")
ATTRIBUTES = ("shape", "colour", "size", "position")
#: Every value of each attribute, in a fixed order (class ids for zero-shot and linear probes).
VALUES = {"shape": SHAPES, "colour": tuple(COLOURS), "size": tuple(SIZES), "position": POSITIONS}
ROWS = 6000  # the source's rows; a run's ``size`` samples from them
SEED = 2024
NOISE = 0.03  # standard deviation of the background noise
INK = 0.45  # a pixel whose brightest channel exceeds this belongs to the shape
_CAPTION = re.compile(
    r"a (?P<size>small|large) (?P<colour>\w+) (?P<shape>\w+) (?:at the (?P<corner>[a-z ]+)|in the (?P<center>center))"
)


class CaptionMismatch(DataError):
    """Captions that do not say what their images show (or what the generator recorded)."""


def caption_of(shape: str, colour: str, size: str, position: str) -> str:
    where = "in the center" if position == "center" else f"at the {position}"
    return f"a {size} {colour} {shape} {where}"


def all_captions() -> list[str]:
    """The 180 captions of the grammar, in attribute order."""
    return [
        caption_of(shape, colour, size, position)
        for shape in SHAPES
        for colour in COLOURS
        for size in SIZES
        for position in POSITIONS
    ]


def parse_caption(caption: str) -> dict[str, str] | None:
    """The four attributes a caption states, or None when it is not a caption of the grammar."""
    match = _CAPTION.fullmatch(str(caption).strip())
    if match is None:
        return None
    position = match["center"] or match["corner"]
    found = {"shape": match["shape"], "colour": match["colour"], "size": match["size"], "position": position}
    return found if all(found[name] in VALUES[name] for name in ATTRIBUTES) else None


# -- drawing ------------------------------------------------------------------------------------------
def _grid() -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres: rows (y) and columns (x), each (IMAGE_SIZE, IMAGE_SIZE)."""
    return np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float64)


def masks(shape: np.ndarray, cy: np.ndarray, cx: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Boolean masks (n, H, W) of n shapes (names in ``shape``), centred at (cy, cx) with radius r: a disc, an
    axis-aligned square of side 2r, a triangle of base 2r and height 2r pointing up."""
    y, x = _grid()
    dy, dx = y[None] - cy[:, None, None], x[None] - cx[:, None, None]  # (n, H, W)
    r = r[:, None, None]
    circle = dy**2 + dx**2 <= r**2
    square = (np.abs(dy) <= r) & (np.abs(dx) <= r)
    # apex (cy - r, cx), base from (cy + r, cx - r) to (cy + r, cx + r): |dx| <= (dy + r) / 2
    triangle = (dy <= r) & (dy >= -r) & (np.abs(dx) <= (dy + r) / 2)
    kind = np.asarray(shape)[:, None, None]
    return np.where(kind == "circle", circle, np.where(kind == "square", square, triangle))


def _centres(position: np.ndarray, r: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A centre inside each position's region, the whole shape inside the image."""
    half = IMAGE_SIZE / 2
    low, high = r + 0.5, half - 0.5 - r  # a corner's quadrant, in the near half of each axis
    along = low + rng.random((2, len(r))) * np.maximum(high - low, 0.0)  # (2, n): y, x
    cy = np.where(np.char.startswith(position.astype(str), "bottom"), IMAGE_SIZE - 1 - along[0], along[0])
    cx = np.where(np.char.endswith(position.astype(str), "right"), IMAGE_SIZE - 1 - along[1], along[1])
    centre = position == "center"
    jitter = rng.uniform(-1.5, 1.5, size=(2, len(r)))
    cy = np.where(centre, (IMAGE_SIZE - 1) / 2 + jitter[0], cy)
    cx = np.where(centre, (IMAGE_SIZE - 1) / 2 + jitter[1], cx)
    return cy, cx


def generate(n: int, seed: int = SEED) -> pd.DataFrame:
    """n images (float32, flat H*W*C, channels last) with their captions and recorded attributes."""
    rng = np.random.default_rng(seed)
    attributes = {name: rng.choice(np.array(VALUES[name]), size=n) for name in ATTRIBUTES}
    low = np.array([SIZES[size][0] for size in attributes["size"]])
    high = np.array([SIZES[size][1] for size in attributes["size"]])
    r = rng.uniform(low, high)
    cy, cx = _centres(attributes["position"], r, rng)
    ink = masks(attributes["shape"], cy, cx, r)  # (n, H, W)
    colour = np.array([COLOURS[name] for name in attributes["colour"]]) * rng.uniform(0.8, 1.0, size=(n, 1))
    background = 0.05 + NOISE * rng.standard_normal((n, IMAGE_SIZE, IMAGE_SIZE, CHANNELS))
    images = np.where(ink[..., None], colour[:, None, None, :], background)
    images = np.clip(images, 0.0, 1.0).astype(np.float32)
    captions = [caption_of(*values) for values in zip(*(attributes[name] for name in ATTRIBUTES), strict=True)]
    recorded = {name: values.astype(object) for name, values in attributes.items()}
    return pd.DataFrame({"image": list(images.reshape(n, -1)), "caption": captions, **recorded})


def shape_captions() -> pd.DataFrame:
    """The source of `clip`: ``ROWS`` generated images, captions and attributes, each pair checked."""
    frame = generate(ROWS)
    check_pairs(np.stack(frame["image"].to_numpy()), frame["caption"].tolist(), frame[list(ATTRIBUTES)])
    return frame


# -- reading attributes back ------------------------------------------------------------------------
def as_images(images) -> np.ndarray:
    """Images as float64 (n, H, W, C), from that shape or flat rows of H*W*C values."""
    array = np.asarray(images, dtype=np.float64)
    size = IMAGE_SIZE * IMAGE_SIZE * CHANNELS
    if array.ndim == 2 and array.shape[1] == size:
        array = array.reshape(-1, IMAGE_SIZE, IMAGE_SIZE, CHANNELS)
    if array.ndim != 4 or array.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, CHANNELS):
        raise ValueError(f"images must be (n, {IMAGE_SIZE}, {IMAGE_SIZE}, {CHANNELS}), got shape {array.shape}")
    return array


def measure(images) -> pd.DataFrame:
    """The four attributes each image shows (a row of None where it shows no shape): the bounding box of
    its bright pixels gives the size and position; the best-overlapping of the three shapes drawn in that
    box gives the shape; the nearest colour of the palette to its mean hue gives the colour."""
    images = as_images(images)
    ink = images.max(axis=-1) > INK  # (n, H, W)
    found = ink.any(axis=(1, 2))
    rows, columns = ink.any(axis=2), ink.any(axis=1)  # (n, H), (n, W)
    top, bottom = rows.argmax(axis=1), IMAGE_SIZE - 1 - rows[:, ::-1].argmax(axis=1)
    left, right = columns.argmax(axis=1), IMAGE_SIZE - 1 - columns[:, ::-1].argmax(axis=1)
    cy, cx = (top + bottom) / 2, (left + right) / 2
    r = np.maximum(bottom - top, right - left) / 2
    overlap = []
    for shape in SHAPES:  # the box holds pixel centres: the drawn radius lies in [r, r + 1)
        best = np.zeros(len(images))
        for grow in (0.0, 0.5, 0.95):
            drawn = masks(np.full(len(images), shape), cy, cx, r + grow)
            best = np.maximum(best, (drawn & ink).sum(axis=(1, 2)) / np.maximum((drawn | ink).sum(axis=(1, 2)), 1))
        overlap.append(best)
    shape = np.array(SHAPES)[np.argmax(overlap, axis=0)]
    size = np.where(r >= 5.0, "large", "small")
    middle = (IMAGE_SIZE - 1) / 2
    vertical = np.where(cy < middle, "top", "bottom")
    horizontal = np.where(cx < middle, "left", "right")
    centred = (np.abs(cy - middle) < 2.5) & (np.abs(cx - middle) < 2.5)
    position = np.where(centred, "center", np.char.add(np.char.add(vertical, " "), horizontal))
    mean = (images * ink[..., None]).sum(axis=(1, 2)) / np.maximum(ink.sum(axis=(1, 2)), 1)[:, None]  # (n, C)
    palette = np.array(list(COLOURS.values()))
    hue = mean / np.maximum(mean.max(axis=1, keepdims=True), 1e-9)
    colour = np.array(list(COLOURS))[np.argmin(((hue[:, None, :] - palette[None]) ** 2).sum(axis=2), axis=1)]
    measured = pd.DataFrame({"shape": shape, "colour": colour, "size": size, "position": position}, dtype=object)
    measured.loc[~found] = None
    return measured


def caption_problems(images, captions, recorded: pd.DataFrame | None = None) -> list[str]:
    """One line per pair whose caption is not of the grammar, or states an attribute other than the one
    the image shows (``measure``) or the generator recorded (``recorded``, columns ``ATTRIBUTES``)."""
    captions = [str(caption) for caption in captions]
    measured = measure(images)
    if len(captions) != len(measured) or (recorded is not None and len(recorded) != len(captions)):
        raise ValueError(f"{len(measured)} images, {len(captions)} captions: one caption per image is needed")
    problems = []
    for row, caption in enumerate(captions):
        stated = parse_caption(caption)
        if stated is None:
            problems.append(f"row {row}: {caption!r} is not a caption 'a <size> <colour> <shape> at the <where>'")
            continue
        sources = [("the image shows", measured.iloc[row])]
        if recorded is not None:
            sources.append(("the generator recorded", recorded.iloc[row]))
        for what, attributes in sources:
            wrong = [name for name in ATTRIBUTES if attributes[name] != stated[name]]
            if wrong:
                said = ", ".join(f"{name} {stated[name]!r} but {what} {attributes[name]!r}" for name in wrong)
                problems.append(f"row {row}: {caption!r} says {said}")
    return problems


def check_pairs(images, captions, recorded: pd.DataFrame | None = None) -> None:
    """Refuse (CaptionMismatch, naming the first rows) captions that do not match their images."""
    problems = caption_problems(images, captions, recorded)
    if problems:
        rows = len({problem.split(":")[0] for problem in problems})
        shown = "; ".join(problems[:5])
        raise CaptionMismatch(f"{rows} of {len(captions)} captions do not match their images' attributes: {shown}")
