"""ImageNet-1k -> 16 model-vs-human categories: the shipped table and the probability-averaging map."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from scipy.special import softmax

from rdmetrics.label_maps import (
    ImageNetTo16Class,
    imagenet16_categories,
    imagenet16_class_indices,
    imagenet16_target_map,
    imagenet16_wnids,
    imagenet_to_16class,
)

# the category list of model-vs-human's get_human_object_recognition_categories()
PUBLISHED_CATEGORIES = sorted(
    "knife keyboard elephant bicycle airplane clock oven chair bear boat cat bottle truck car bird dog".split()
)


def test_sixteen_categories_in_published_order():
    assert imagenet16_categories() == PUBLISHED_CATEGORIES
    assert list(imagenet16_class_indices()) == PUBLISHED_CATEGORIES


def test_index_sets_disjoint_and_in_range():
    idx = imagenet16_class_indices()
    flat = [i for v in idx.values() for i in v]
    assert len(flat) == len(set(flat)) == 207
    assert all(0 <= i < 1000 for i in flat)


@pytest.mark.parametrize(
    ("category", "members"),
    [
        # values read in modelvshuman/helper/human_categories.py (HumanCategories.<cat>_indices)
        ("airplane", [404]),
        ("knife", [499]),
        ("oven", [766]),
        ("bear", [294, 295, 296, 297]),
        ("cat", [281, 282, 283, 284, 285, 286]),
        ("elephant", [385, 386]),
        ("keyboard", [508, 878]),
    ],
)
def test_known_members(category, members):
    assert imagenet16_class_indices()[category] == members


def test_set_sizes():
    sizes = {c: len(v) for c, v in imagenet16_class_indices().items()}
    assert sizes["dog"] == 109 and sizes["bird"] == 49 and sizes["truck"] == 8 and sizes["bottle"] == 7


def test_indices_agree_with_wnids_via_timm_synsets():
    """Independent cross-check: the ILSVRC-2012 synsets of each category's indices (timm's class list) are exactly
    the published WNIDs of that category that are ILSVRC-2012 classes."""
    timm = pytest.importorskip("timm")
    path = os.path.join(os.path.dirname(timm.__file__), "data", "_info", "imagenet_synsets.txt")
    if not os.path.exists(path):
        pytest.skip("timm ships no imagenet_synsets.txt")
    with open(path) as fh:
        synsets = fh.read().split()
    assert len(synsets) == 1000
    wnids = imagenet16_wnids()
    for cat, indices in imagenet16_class_indices().items():
        assert {synsets[i] for i in indices} == {w for w in wnids[cat] if w in set(synsets)}, cat


def test_one_hot_logit_maps_to_its_category():
    idx = imagenet16_class_indices()
    cats = imagenet16_categories()
    for c, name in enumerate(cats):
        for i in (idx[name][0], idx[name][-1]):
            logits = torch.full((1, 1000), -10.0)
            logits[0, i] = 30.0
            assert int(imagenet_to_16class(logits).argmax(1)) == c
            onehot = torch.zeros(1000)
            onehot[i] = 1.0
            out = imagenet_to_16class(onehot, inputs="probs")
            # closed form: probability 1 on one class of set I_c -> score 1/|I_c| for c, 0 elsewhere
            expected = torch.zeros(16, dtype=torch.float32)
            expected[c] = 1.0 / len(idx[name])
            torch.testing.assert_close(out, expected)


def test_matches_numpy_mean_of_softmax():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(7, 1000))
    probs = softmax(logits, axis=1)
    idx = imagenet16_class_indices()
    expected = np.stack([probs[:, idx[c]].mean(axis=1) for c in imagenet16_categories()], axis=1)
    out = imagenet_to_16class(torch.from_numpy(logits))
    assert out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-15)
    # probabilities in -> same answer ("auto" detects them, "probs" forces them)
    np.testing.assert_allclose(imagenet_to_16class(torch.from_numpy(probs)).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(imagenet_to_16class(torch.from_numpy(probs), inputs="probs").numpy(), expected)
    # float32 and the module form
    out32 = ImageNetTo16Class()(torch.from_numpy(logits).float())
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(out32.numpy(), expected, rtol=1e-5, atol=1e-9)


def test_target_map():
    m = imagenet16_target_map()
    idx = imagenet16_class_indices()
    for c, name in enumerate(imagenet16_categories()):
        assert (m[idx[name]] == c).all()
    assert int((m >= 0).sum()) == 207


def test_bad_inputs():
    with pytest.raises(ValueError, match="1000"):
        imagenet_to_16class(torch.zeros(2, 10))
    with pytest.raises(TypeError, match="floating"):
        imagenet_to_16class(torch.zeros(2, 1000, dtype=torch.long))
    with pytest.raises(ValueError, match="non-finite"):
        imagenet_to_16class(torch.full((2, 1000), float("nan")))
    with pytest.raises(ValueError, match="outside"):
        imagenet_to_16class(torch.full((2, 1000), 2.0), inputs="probs")
    with pytest.raises(ValueError, match="inputs"):
        imagenet_to_16class(torch.zeros(2, 1000), inputs="bogus")
