"""The field's measures of a rig, as RigNet defines them (Xu et al., "RigNet: Neural Rigging for
Articulated Characters", SIGGRAPH 2020, section 6), and the accuracy the geometric binding is judged by.

* ``joint_chamfer`` (RigNet's CD-J2J): the symmetric Chamfer distance between two skeletons' joints,
  the mean over each set of the distance to the nearest joint of the other, averaged over both ways.
* ``skin_precision_recall``: per vertex, the bones that influence it significantly (weight above
  ``INFLUENCE``, 1e-4 as we read RigNet's text) in the prediction and in the reference; precision is the
  share of the predicted ones that the reference has, recall the share of the reference's that were
  predicted, each averaged over vertices. The reference's bones are the columns of the prediction:
  both skins must be over the same skeleton.
* ``skin_l1``: the L1 norm of the difference of the two weight vectors, averaged over vertices.
* ``strongest_bone_accuracy``: the share of vertices whose strongest bone is their true one.
"""

from __future__ import annotations

import numpy as np

INFLUENCE = 1e-4


def joint_chamfer(predicted: np.ndarray, reference: np.ndarray) -> float:
    predicted, reference = np.asarray(predicted, float), np.asarray(reference, float)
    distances = np.linalg.norm(predicted[:, None, :] - reference[None, :, :], axis=2)
    return float((distances.min(axis=1).mean() + distances.min(axis=0).mean()) / 2)


def skin_precision_recall(predicted: np.ndarray, reference: np.ndarray,
                          threshold: float = INFLUENCE) -> tuple[float, float]:
    """Mean per-vertex precision and recall of the influencing bones, (V, J) dense weights each."""
    guess, truth = np.asarray(predicted) > threshold, np.asarray(reference) > threshold
    both = (guess & truth).sum(axis=1)
    precision = both / np.maximum(guess.sum(axis=1), 1)
    recall = both / np.maximum(truth.sum(axis=1), 1)
    return float(precision.mean()), float(recall.mean())


def skin_l1(predicted: np.ndarray, reference: np.ndarray) -> float:
    return float(np.abs(np.asarray(predicted, float) - np.asarray(reference, float)).sum(axis=1).mean())


def strongest_bone_accuracy(strongest: np.ndarray, truth: np.ndarray) -> float:
    return float((np.asarray(strongest) == np.asarray(truth)).mean())
