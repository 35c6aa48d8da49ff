"""The simulation machinery of benchmarks/rd_calibration.py on a tiny configuration: generating channels, their exact
rates (independent numpy MI; the symmetric family against the closed-form Hamming bound), the multinomial simulator,
and one small coverage run."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "rd_calibration.py"


@pytest.fixture(scope="module")
def cal():
    spec = importlib.util.spec_from_file_location("rd_calibration", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _np_mi_uniform(channel: np.ndarray) -> float:
    """I(X;Y) in bits of a row-stochastic channel with a uniform prior, as a plain double loop."""
    c = channel.shape[0]
    p_y = channel.mean(0)
    total = 0.0
    for x in range(c):
        for y in range(channel.shape[1]):
            if channel[x, y] > 0:
                total += channel[x, y] / c * math.log2(channel[x, y] / p_y[y])
    return total


@pytest.mark.parametrize("family", ["symmetric", "human", "model"])
def test_channels_and_true_rates(cal, family: str) -> None:
    ch = cal.make_channels(family)
    assert ch.shape == (8, 16, 16) and ch.dtype == torch.float64
    torch.testing.assert_close(ch.sum(-1), torch.ones(8, 16, dtype=torch.float64), atol=1e-12, rtol=0)
    assert bool((ch >= 0).all())
    acc = torch.tensor(cal.ACCURACY, dtype=torch.float64)
    torch.testing.assert_close(ch.diagonal(dim1=-2, dim2=-1), acc[:, None].expand(8, 16), atol=1e-12, rtol=0)
    rates = cal.channel_rate(ch)
    expected = [_np_mi_uniform(m) for m in ch.numpy()]
    np.testing.assert_allclose(rates.numpy(), expected, rtol=1e-12, atol=1e-12)
    if family == "symmetric":  # the M-ary symmetric channel meets the Hamming bound: log2 M − h2(D) − D log2(M − 1)
        d = 1 - acc.numpy()
        bound = 4 - (-(d * np.log2(d) + (1 - d) * np.log2(1 - d))) - d * np.log2(15)
        np.testing.assert_allclose(rates.numpy(), bound, rtol=1e-12, atol=1e-12)
    if family == "model":  # errors collapse: the two sink columns take most of the wrong answers at the last level
        wrong = ch[-1] * (1 - torch.eye(16, dtype=torch.float64))
        assert float(wrong[:, [3, 11]].sum() / wrong.sum()) > 0.9


def test_simulate_is_multinomial(cal) -> None:
    ch = cal.make_channels("human")[[0, 5]]
    cms = cal.simulate(ch, 40, 300, seed=0)
    assert cms.shape == (300, 2, 16, 16) and cms.dtype == torch.int64
    assert bool((cms.sum(-1) == 40).all())
    assert bool((cms[:, ch == 0] == 0).all()) if bool((ch == 0).any()) else True
    mean = cms.double().mean(0) / 40
    sd = (ch * (1 - ch) / 40 / 300).sqrt()
    assert bool(((mean - ch).abs() <= 5 * sd + 1e-12).all())
    assert torch.equal(cms, cal.simulate(ch, 40, 300, seed=0))


def test_tiny_coverage_run(cal) -> None:
    res = cal.run_config("symmetric", 40, sims=6, n_boot=20, corrections=["none"], fit="quadratic", seed=1)
    truth = res["truth"]
    d = 1 - np.asarray(cal.ACCURACY)
    assert res["at"] == pytest.approx((d.min() + d.max()) / 2)
    assert truth["rate"].shape == (8,)
    est = res["est"]["none"]
    assert est["bias"] > 0  # the plug-in rate is biased upwards
    assert est["rmse"] >= abs(est["bias"])
    for key, cov in res["cov"].items():
        assert 0.0 <= cov <= 1.0, key
        assert res["inside"][key] == 1.0, key  # the reported value always lies inside its interval
    assert set(cal.available_corrections()) >= {"none", "miller_madow"}
