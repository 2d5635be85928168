"""Segmentation metrics: Dice overlap, and the distances between the surfaces (edge pixels) of a predicted and a true
mask, from scipy's distance transforms (Hausdorff, mean surface, root mean square surface distance)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from funcad.nn.metrics_base import Metric, _array, _check_bool, _check_choice, _is_real, rearrange_inputs

__all__ = ["Dice", "HausdorffDistance", "MeanSurfaceDistance", "RootMeanSquareDistance"]


class Dice(Metric):
    """The Dice coefficient 2 * <y_pred, y> / (<y_pred, y_pred> + <y, y> + smooth) of each batch as a whole (1 for a
    perfect overlap, 0 for none). ``update(y_pred, y)``: arrays of the same shape (N, ...). ``eval()`` divides the sum
    of the batches' coefficients by the number of samples, MindSpore's formula: with one sample per update it is the
    mean Dice per sample."""

    def __init__(self, smooth: float = 1e-5):
        if not _is_real(smooth) or not smooth > 0:
            raise ValueError(f"Dice: smooth must be a positive float, got {smooth!r}")
        self.smooth = float(smooth)
        super().__init__()

    def clear(self) -> None:
        self._dice_coeff_sum = 0.0
        self._samples_num = 0

    @rearrange_inputs
    def update(self, *inputs) -> None:
        self._need(2, inputs)
        y_pred, y = (_array(v, "Dice").astype(np.float64) for v in inputs)
        if y_pred.shape != y.shape or y.ndim == 0:
            raise ValueError(f"Dice: y_pred {y_pred.shape} and y {y.shape} must have the same shape (N, ...)")
        self._samples_num += y.shape[0]
        y_pred, y = y_pred.reshape(-1), y.reshape(-1)
        self._dice_coeff_sum += 2.0 * float(y_pred @ y) / float(y_pred @ y_pred + y @ y + self.smooth)

    def eval(self) -> float:
        self._nonempty(self._samples_num)
        return self._dice_coeff_sum / self._samples_num


_METRICS = ("euclidean", "chessboard", "taxicab")


class _SurfaceDistance(Metric):
    """Keeps the surfaces of the masks of ``label_idx`` in the last ``update(y_pred, y, label_idx)``: a distance is a
    per-image measure, so each update replaces the image, as in MindSpore. A surface is a mask minus its erosion;
    bool arrays are masks already."""

    def __init__(self, distance_metric: str = "euclidean"):
        self.distance_metric = _check_choice(type(self).__name__, "distance_metric", distance_metric, _METRICS)
        super().__init__()

    def clear(self) -> None:
        self._y_pred_edges = self._y_edges = None

    def _masks(self, inputs: tuple) -> tuple[np.ndarray, np.ndarray]:
        owner = type(self).__name__
        self._need(3, inputs)
        y_pred, y, label_idx = _array(inputs[0], owner), _array(inputs[1], owner), inputs[2]
        if not _is_real(label_idx):
            raise TypeError(f"{owner}: label_idx (input 2) must be an int or float, got {label_idx!r}")
        if y_pred.size == 0 or y_pred.shape != y.shape:
            raise ValueError(f"{owner}: y_pred {y_pred.shape} and y {y.shape} must be non-empty images of the same shape")
        if y_pred.dtype != bool and y.dtype != bool and not (np.any(y_pred == label_idx) or np.any(y == label_idx)):
            raise ValueError(f"{owner}: label_idx {label_idx} occurs in neither y_pred nor y")
        return tuple(v if v.dtype == bool else v == label_idx for v in (y_pred, y))

    @staticmethod
    def _surface(mask: np.ndarray) -> np.ndarray:
        return mask ^ ndimage.binary_erosion(mask)

    @rearrange_inputs
    def update(self, *inputs) -> None:
        y_pred, y = self._masks(inputs)
        self._y_pred_edges, self._y_edges = self._surface(y_pred), self._surface(y)

    def _distances(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        """The distance from each surface pixel of ``source`` to the nearest one of ``target`` (inf when it has none)."""
        if not np.any(source):
            return np.array([])
        if not np.any(target):
            return np.full(int(source.sum()), np.inf)
        if self.distance_metric == "euclidean":
            field = ndimage.distance_transform_edt(~target)
        else:
            field = ndimage.distance_transform_cdt(~target, metric=self.distance_metric)
        return field[source].astype(np.float64)

    def _edges(self) -> tuple[np.ndarray, np.ndarray]:
        self._nonempty(self._y_edges is not None)
        return self._y_pred_edges, self._y_edges


class HausdorffDistance(_SurfaceDistance):
    """The largest distance from a surface pixel of one mask to the nearest of the other, both ways (``directed``:
    from y_pred to y only); ``percentile`` (0..100) takes that percentile of the distances instead of the maximum.
    inf when a mask has no surface. ``update(y_pred, y, label_idx)``: the masks are ``== label_idx``. ``crop`` only
    limits the work to the masks' bounding box."""

    def __init__(self, distance_metric: str = "euclidean", percentile: float | None = None, directed: bool = False, crop: bool = True):
        if percentile is not None and (not _is_real(percentile) or not 0 <= percentile <= 100):
            raise ValueError(f"HausdorffDistance: percentile must be None or in [0, 100], got {percentile!r}")
        self.percentile = None if percentile is None else float(percentile)
        self.directed = _check_bool("HausdorffDistance", "directed", directed)
        self.crop = _check_bool("HausdorffDistance", "crop", crop)
        super().__init__(distance_metric)

    @rearrange_inputs
    def update(self, *inputs) -> None:
        y_pred, y = self._masks(inputs)
        if self.crop:
            found = np.nonzero(y_pred | y)
            if not found[0].size:
                self._y_pred_edges, self._y_edges = np.zeros_like(y_pred), np.zeros_like(y)
                return
            box = tuple(slice(int(ix.min()), int(ix.max()) + 1) for ix in found)
            y_pred, y = y_pred[box], y[box]
        self._y_pred_edges, self._y_edges = self._surface(y_pred), self._surface(y)

    def _directed(self, source: np.ndarray, target: np.ndarray) -> float:
        distances = self._distances(source, target)
        if distances.size == 0:
            return np.inf
        return float(distances.max() if not self.percentile else np.percentile(distances, self.percentile))

    def eval(self) -> float:
        y_pred_edges, y_edges = self._edges()
        forward = self._directed(y_pred_edges, y_edges)
        return forward if self.directed else max(forward, self._directed(y_edges, y_pred_edges))


class _AveragedSurfaceDistance(_SurfaceDistance):
    """A mean of the surface distances from y_pred to y (``symmetric``: and back), each way reduced by ``_way``."""

    def __init__(self, symmetric: bool = False, distance_metric: str = "euclidean"):
        self.symmetric = _check_bool(type(self).__name__, "symmetric", symmetric)
        super().__init__(distance_metric)

    def _ways(self, way) -> list[float] | None:
        """``way(distances)`` for y_pred -> y (and y -> y_pred when symmetric); None when a mask has no surface."""
        y_pred_edges, y_edges = self._edges()
        values = []
        for source, target in [(y_pred_edges, y_edges)] + ([(y_edges, y_pred_edges)] if self.symmetric else []):
            distances = self._distances(source, target)
            if distances.size == 0:
                return None
            values.append(way(distances))
        return values


class MeanSurfaceDistance(_AveragedSurfaceDistance):
    """The mean distance from the surface pixels of y_pred to the nearest of y's (``symmetric``: the mean of that and
    the y -> y_pred mean). inf when a mask has no surface. ``update(y_pred, y, label_idx)``."""

    def eval(self) -> float:
        means = self._ways(np.mean)
        return np.inf if means is None else float(np.mean(means))


class RootMeanSquareDistance(_AveragedSurfaceDistance):
    """The root of the mean squared distance from the surface pixels of y_pred to the nearest of y's (``symmetric``:
    the root of the mean of both ways' mean squares). inf when a mask has no surface. ``update(y_pred, y, label_idx)``.
    MindSpore's one-way result omits the root (its mean square); here it is taken both ways, as the name says."""

    def eval(self) -> float:
        squares = self._ways(lambda distances: np.mean(distances ** 2))
        return np.inf if squares is None else float(np.sqrt(np.mean(squares)))
