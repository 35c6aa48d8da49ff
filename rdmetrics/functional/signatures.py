"""Rate–distortion signatures: slope β, curvature κ, area (efficiency) and excess rate of an empirical frontier.

rdmetrics' definitions (the source paper's exact estimator is not public; these are documented, configurable
reconstructions — see the README):

* the points ``(x_ℓ, R_ℓ)`` of one system (one per perturbation condition ``ℓ``), with ``x = D`` (distortion) by
  default or ``x`` = the severity values (``axis_values``; :func:`rdmetrics.functional.rate_distortion_signature`
  uses ``axis="severity"``), are summarised by a fitted frontier ``R̂(x)``:

  - ``"quadratic"``: least-squares ``R̂ = a₀ + a₁x + a₂x²``;
  - ``"exponential"``: least-squares ``R̂ = a·exp(−b x) + c`` (``b`` by grid search + golden section on the
    variable-projection residual, ``a, c`` in closed form);
  - ``"pchip"``: the monotone piecewise-cubic Hermite interpolant through the points (distinct ``x`` required);
  - ``"hull"``: the lower convex envelope of the points (piecewise linear). Its slope at ``x*`` is the slope of the
    segment containing ``x*`` (the mean of both sides at a vertex) and its second derivative is the discrete one
    at the interior hull vertex nearest ``x*``: ``(s_right − s_left) / ((x_{i+1} − x_{i−1}) / 2)`` (0 when the hull
    is a single segment);

* ``β = −R̂'(x*)`` (bits per unit of ``x``; positive when the rate falls as distortion grows);
* ``κ = r̂''(u*) / (1 + r̂'(u*)²)^{3/2}``, the **signed** curvature of the graph (positive = convex) in normalised
  coordinates ``u = (x − x_min)/(x_max − x_min)``, ``r = R / log2 C``: unit-free (unchanged by affine rescaling of
  ``x``, by the unit of the rate and, for the same curve in units of ``log2 C``, by the class count);
  ``curvature = R̂''(x*)`` is the raw second derivative and ``beta_normalized = −r̂'(u*)`` the normalised slope;
* ``x*`` (``at``) defaults to the midpoint of the observed ``x`` range (``at_accuracy``: where the frontier reaches
  a given accuracy, see :func:`rd_signatures`);
* ``auc`` = mean height of ``R̂`` over the observed ``x`` range ÷ ``log2 C`` (``∫ R̂ dx / (x_max − x_min) / log2 C``;
  in bits when ``num_classes`` is None);
* ``secant_slope = −(R_last − R_first) / (x_last − x_first)`` over the observed points sorted by ``x`` (the
  Δx-weighted mean of the consecutive secant slopes);
* ``excess_rate`` = mean over points of ``R_ℓ − R_H(D_ℓ)`` with the uniform ``C``-ary Hamming bound ``R_H``
  (always in the ``D`` coordinates; NaN when ``num_classes`` is None).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from rdmetrics.functional.rate_distortion import hamming_rd_bound
from rdmetrics.utilities.checks import _check_finite, _check_tensor

MethodType = Literal["quadratic", "exponential", "pchip", "hull"]
_METHODS = ("quadratic", "exponential", "pchip", "hull")
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


# ---------------------------------------------------------------------------------------------------------------------
# frontier fits: each works on flattened curves x, y [N, L] (float64) and exposes
#   derivs(at [N]) -> (f, f', f'') [N],  mean_height() -> [N],  values(grid [N, Q]) -> [N, Q]


class _Quadratic:
    def __init__(self, x: Tensor, y: Tensor) -> None:
        lo, hi = x.min(-1).values, x.max(-1).values
        self.mid, self.half = (lo + hi) / 2, ((hi - lo) / 2).clamp_min(1e-300)
        u = (x - self.mid[:, None]) / self.half[:, None]
        vander = torch.stack([torch.ones_like(u), u, u * u], dim=-1)  # [N, L, 3]
        driver = "gelsd" if vander.device.type == "cpu" else None  # CUDA supports only the default QR driver
        self.coef = torch.linalg.lstsq(vander, y.unsqueeze(-1), driver=driver).solution.squeeze(-1)  # [N, 3]

    def _u(self, xq: Tensor) -> Tensor:
        return (xq - self.mid.reshape(-1, *([1] * (xq.ndim - 1)))) / self.half.reshape(-1, *([1] * (xq.ndim - 1)))

    def values(self, grid: Tensor) -> Tensor:
        u = self._u(grid)
        a0, a1, a2 = (self.coef[:, i : i + 1] for i in range(3))
        return a0 + a1 * u + a2 * u * u

    def derivs(self, at: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        u = self._u(at)
        a0, a1, a2 = self.coef.unbind(-1)
        return a0 + a1 * u + a2 * u * u, (a1 + 2 * a2 * u) / self.half, 2 * a2 / self.half**2

    def mean_height(self) -> Tensor:  # mean of a0 + a1 u + a2 u² over u ∈ [−1, 1]
        return self.coef[:, 0] + self.coef[:, 2] / 3.0


class _Exponential:
    """``R̂ = a exp(−b u) + c`` in the scaled coordinate ``u = (x − mid) / half ∈ [−1, 1]``."""

    def __init__(self, x: Tensor, y: Tensor, b_max: float = 40.0, grid_size: int = 400, golden_iter: int = 80) -> None:
        lo, hi = x.min(-1).values, x.max(-1).values
        self.mid, self.half = (lo + hi) / 2, ((hi - lo) / 2).clamp_min(1e-300)
        u = (x - self.mid[:, None]) / self.half[:, None]
        grid = torch.linspace(-b_max, b_max, grid_size, dtype=torch.float64, device=x.device)  # even size: no b = 0
        sse = self._sse(u.unsqueeze(1), y.unsqueeze(1), grid.unsqueeze(0).expand(x.shape[0], -1))  # [N, G]
        best = sse.argmin(dim=-1)
        step = grid[1] - grid[0]
        left = grid[best] - step
        right = grid[best] + step
        for _ in range(golden_iter):  # vectorised golden-section search on [left, right]
            c1 = right - _GOLDEN * (right - left)
            c2 = left + _GOLDEN * (right - left)
            f1 = self._sse(u, y, c1)
            f2 = self._sse(u, y, c2)
            go_left = f1 < f2
            right = torch.where(go_left, c2, right)
            left = torch.where(go_left, left, c1)
        self.b = (left + right) / 2
        self.a, self.c = self._linear(u, y, self.b)

    @staticmethod
    def _linear(u: Tensor, y: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        e = torch.exp(-b.unsqueeze(-1) * u)
        e_mean, y_mean = e.mean(-1, keepdim=True), y.mean(-1, keepdim=True)
        cov = ((e - e_mean) * (y - y_mean)).sum(-1)
        var = ((e - e_mean) ** 2).sum(-1).clamp_min(1e-300)
        a = cov / var
        return a, y_mean.squeeze(-1) - a * e_mean.squeeze(-1)

    @classmethod
    def _sse(cls, u: Tensor, y: Tensor, b: Tensor) -> Tensor:
        a, c = cls._linear(u, y, b)
        pred = a.unsqueeze(-1) * torch.exp(-b.unsqueeze(-1) * u) + c.unsqueeze(-1)
        return ((pred - y) ** 2).sum(-1)

    def values(self, grid: Tensor) -> Tensor:
        u = (grid - self.mid[:, None]) / self.half[:, None]
        return self.a[:, None] * torch.exp(-self.b[:, None] * u) + self.c[:, None]

    def derivs(self, at: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        u = (at - self.mid) / self.half
        e = self.a * torch.exp(-self.b * u)
        return e + self.c, -self.b * e / self.half, self.b**2 * e / self.half**2

    def mean_height(self) -> Tensor:  # (1/2) ∫_{-1}^{1} a e^{-bu} du + c = a sinh(b)/b + c
        return self.a * torch.sinh(self.b) / self.b + self.c


class _Pchip:
    def __init__(self, x: Tensor, y: Tensor) -> None:
        from scipy.interpolate import PchipInterpolator

        order = x.argsort(dim=-1)
        xs, ys = x.gather(-1, order).cpu().numpy(), y.gather(-1, order).cpu().numpy()
        self.device = x.device
        self.lo, self.hi = xs[:, 0], xs[:, -1]
        self.splines = [PchipInterpolator(xs[i], ys[i]) for i in range(xs.shape[0])]

    def values(self, grid: Tensor) -> Tensor:
        g = grid.cpu().numpy()
        rows = [torch.as_tensor(s(g[i])) for i, s in enumerate(self.splines)]
        return torch.stack(rows).to(device=self.device, dtype=torch.float64)

    def derivs(self, at: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        a = at.cpu().numpy()
        out = [[float(s(a[i], nu)) for nu in (0, 1, 2)] for i, s in enumerate(self.splines)]
        t = torch.tensor(out, dtype=torch.float64, device=self.device).reshape(-1, 3)
        return t[:, 0], t[:, 1], t[:, 2]

    def mean_height(self) -> Tensor:
        vals = [float(s.integrate(lo, hi)) / (hi - lo) for s, lo, hi in zip(self.splines, self.lo, self.hi)]
        return torch.tensor(vals, dtype=torch.float64, device=self.device)


def _lower_hull(xs: list[float], ys: list[float]) -> tuple[list[float], list[float]]:
    """Monotone-chain lower convex hull of points sorted by x (ties: keep the lowest y)."""
    hx: list[float] = []
    hy: list[float] = []
    for px, py in zip(xs, ys):
        if hx and px == hx[-1]:
            if py >= hy[-1]:
                continue
            hx.pop()
            hy.pop()
        while len(hx) >= 2 and (hx[-1] - hx[-2]) * (py - hy[-2]) - (hy[-1] - hy[-2]) * (px - hx[-2]) <= 0:
            hx.pop()
            hy.pop()
        hx.append(px)
        hy.append(py)
    return hx, hy


class _Hull:
    def __init__(self, x: Tensor, y: Tensor) -> None:
        order = x.argsort(dim=-1, stable=True)
        xs, ys = x.gather(-1, order).tolist(), y.gather(-1, order).tolist()
        self.device = x.device
        self.hulls = [_lower_hull(a, b) for a, b in zip(xs, ys)]

    def values(self, grid: Tensor) -> Tensor:
        import numpy as np

        g = grid.cpu().numpy()
        rows = [np.interp(g[i], hx, hy) for i, (hx, hy) in enumerate(self.hulls)]
        return torch.as_tensor(np.stack(rows), dtype=torch.float64, device=self.device)

    def derivs(self, at: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        import numpy as np

        out = []
        for a, (hx, hy) in zip(at.tolist(), self.hulls):
            hxa, hya = np.asarray(hx), np.asarray(hy)
            slopes = np.diff(hya) / np.diff(hxa)
            f = float(np.interp(a, hxa, hya))
            seg = int(np.clip(np.searchsorted(hxa, a, side="right") - 1, 0, len(slopes) - 1))
            on_vertex = 0 < seg and math.isclose(a, hxa[seg], rel_tol=0, abs_tol=1e-12 * (hxa[-1] - hxa[0]))
            f1 = float((slopes[seg - 1] + slopes[seg]) / 2) if on_vertex else float(slopes[seg])
            if len(hxa) < 3:
                f2 = 0.0
            else:
                interior = np.arange(1, len(hxa) - 1)
                i = int(interior[np.argmin(np.abs(hxa[interior] - a))])
                f2 = float((slopes[i] - slopes[i - 1]) / ((hxa[i + 1] - hxa[i - 1]) / 2))
            out.append((f, f1, f2))
        t = torch.tensor(out, dtype=torch.float64, device=self.device).reshape(-1, 3)
        return t[:, 0], t[:, 1], t[:, 2]

    def mean_height(self) -> Tensor:
        import numpy as np

        vals = [float(np.trapezoid(hy, hx)) / (hx[-1] - hx[0]) for hx, hy in self.hulls]
        return torch.tensor(vals, dtype=torch.float64, device=self.device)


_FITS = {"quadratic": _Quadratic, "exponential": _Exponential, "pchip": _Pchip, "hull": _Hull}


# ---------------------------------------------------------------------------------------------------------------------


def _as_curves(distortion: Tensor, rate: Tensor, axis_values: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
    _check_tensor(distortion, "distortion")
    _check_tensor(rate, "rate")
    d = distortion.detach().to(torch.float64)
    r = rate.detach().to(device=d.device, dtype=torch.float64)
    if d.shape != r.shape:
        raise ValueError(f"`distortion` and `rate` must have the same shape, got {tuple(d.shape)} and {tuple(r.shape)}")
    if d.ndim == 0:
        raise ValueError("`distortion` and `rate` must be [..., L] tensors (one point per condition)")
    _check_finite(d, "distortion")
    _check_finite(r, "rate")
    if d.shape[-1] < 3:
        raise ValueError(f"a frontier needs at least 3 conditions (points), got {d.shape[-1]}")
    if axis_values is None:
        x = d
    else:
        _check_tensor(axis_values, "axis_values")
        x = axis_values.detach().to(device=d.device, dtype=torch.float64)
        _check_finite(x, "axis_values")
        if x.shape[-1] != d.shape[-1]:
            raise ValueError(f"`axis_values` must have {d.shape[-1]} entries (one per condition), got {tuple(x.shape)}")
        x = torch.broadcast_to(x, d.shape)
    return x, d, r


def _num_distinct(x: Tensor) -> Tensor:
    xs = x.sort(dim=-1).values
    span = (xs[:, -1] - xs[:, 0]).abs().clamp_min(1e-300)
    return 1 + (xs.diff(dim=-1) > 1e-12 * span[:, None]).sum(-1)


def _accuracy_crossing(x: Tensor, acc: Tensor, method: str, target: float, num: int = 4001) -> Tensor:
    """x where the fitted accuracy curve ``acc(x)`` (same frontier method) first reaches ``target``, per curve.

    The fit is evaluated on ``num`` points over each curve's observed x range; the first grid interval (from the low
    end) where ``fit − target`` changes sign (or touches 0) is linearly interpolated. NaN where the fitted curve never
    reaches ``target`` inside the observed range.
    """
    lo, hi = x.min(-1).values, x.max(-1).values
    t = torch.linspace(0.0, 1.0, num, dtype=torch.float64, device=x.device)
    grid = lo[:, None] + (hi - lo)[:, None] * t[None, :]
    vals = _FITS[method](x, acc).values(grid) - target  # [N, Q]
    sign_change = (vals[:, :-1] * vals[:, 1:] <= 0) & ~(torch.isnan(vals[:, :-1]) | torch.isnan(vals[:, 1:]))
    has = sign_change.any(-1)
    j = sign_change.to(torch.int64).argmax(-1)
    v0, v1 = vals.gather(-1, j[:, None])[:, 0], vals.gather(-1, (j + 1)[:, None])[:, 0]
    g0, g1 = grid.gather(-1, j[:, None])[:, 0], grid.gather(-1, (j + 1)[:, None])[:, 0]
    denom = v0 - v1
    frac = torch.where(denom != 0, v0 / torch.where(denom != 0, denom, torch.ones_like(denom)), torch.zeros_like(v0))
    root = g0 + frac.clamp(0.0, 1.0) * (g1 - g0)
    return torch.where(has, root, torch.full_like(root, float("nan")))


def _fit_signatures(
    x: Tensor,
    d: Tensor,
    r: Tensor,
    method: str,
    at: float | Tensor | None,
    num_classes: int | None,
    strict: bool,
    at_accuracy: float | None = None,
    distortion_axis: bool = True,
) -> dict[str, Tensor]:
    """Signatures of flattened curves ``[N, L]``; ``strict=False`` turns per-curve failures into NaN.

    ``at_accuracy``: read β and κ where the fit reaches that accuracy: ``x* = 1 − a`` on the distortion axis
    (``distortion_axis=True``), else where the accuracy-vs-x fit (``1 − d``, same method) first reaches ``a``.
    """
    n = x.shape[0]
    nan = torch.full((n,), float("nan"), dtype=torch.float64, device=x.device)
    distinct = _num_distinct(x)
    need = x.shape[-1] if method == "pchip" else 3
    ok = distinct >= need
    if strict and not bool(ok.all()):
        raise ValueError(
            f"method={method!r} needs {'all' if method == 'pchip' else 'at least 3'} distinct x values"
            f" (got {int(distinct.min())} distinct out of {x.shape[-1]})"
        )
    lo, hi = x.min(-1).values, x.max(-1).values
    if at_accuracy is not None:
        if distortion_axis:
            at_t = torch.full((n,), 1.0 - float(at_accuracy), dtype=torch.float64, device=x.device)
        else:
            at_t = nan.clone()
            if bool(ok.any()):
                idx = ok.nonzero().squeeze(-1)
                at_t[idx] = _accuracy_crossing(x[idx], 1.0 - d[idx], method, float(at_accuracy))
            if strict and bool(torch.isnan(at_t).any()):
                raise ValueError(
                    f"the fitted accuracy-vs-severity curve never reaches at_accuracy={at_accuracy} inside the observed"
                    f" range (observed accuracy {float((1 - d).min()):.4g} .. {float((1 - d).max()):.4g})"
                )
        outside = ~((at_t >= lo - 1e-12) & (at_t <= hi + 1e-12))
        if strict and bool(outside.any()):
            raise ValueError(
                f"at_accuracy={at_accuracy} gives x*={at_t[outside][0].item():.6g}, outside the observed x range"
                f" [{lo[outside][0].item():.6g}, {hi[outside][0].item():.6g}]"
            )
        ok = ok & ~outside
    elif at is None:
        at_t = (lo + hi) / 2
    else:
        at_t = torch.broadcast_to(torch.as_tensor(at, dtype=torch.float64, device=x.device).reshape(-1), (n,)).clone()
        _check_finite(at_t, "at")
        outside = (at_t < lo - 1e-12) | (at_t > hi + 1e-12)
        if strict and bool(outside.any()):
            raise ValueError(
                f"`at`={at_t[outside][0].item()} lies outside the observed x range"
                f" [{lo[outside][0].item()}, {hi[outside][0].item()}]"
            )
        ok = ok & ~outside
    keys = ("beta", "beta_normalized", "kappa", "curvature", "auc", "secant_slope", "excess_rate")
    out = {k: nan.clone() for k in keys}
    norm = math.log2(num_classes) if num_classes is not None and num_classes > 1 else 1.0
    if bool(ok.any()):
        idx = ok.nonzero().squeeze(-1)
        fit = _FITS[method](x[idx], r[idx])
        _, f1, f2 = fit.derivs(at_t[idx])
        width = (hi - lo)[idx]
        g1 = f1 * width / norm  # slope in normalised coordinates: x in [0, 1], rate / log2 C
        g2 = f2 * width * width / norm
        out["beta"][idx] = -f1
        out["beta_normalized"][idx] = -g1
        out["curvature"][idx] = f2
        out["kappa"][idx] = g2 / (1 + g1 * g1) ** 1.5
        out["auc"][idx] = fit.mean_height() / norm
    order = x.argsort(dim=-1, stable=True)
    xs, rs = x.gather(-1, order), r.gather(-1, order)
    width = xs[:, -1] - xs[:, 0]
    out["secant_slope"] = torch.where(width > 0, -(rs[:, -1] - rs[:, 0]) / width.clamp_min(1e-300), nan)
    if num_classes is not None:
        out["excess_rate"] = (r - hamming_rd_bound(d.clamp(0.0, 1.0), num_classes)).mean(-1)
    out["at"] = at_t
    return out


def rd_signatures(
    distortion: Tensor,
    rate: Tensor,
    method: MethodType = "quadratic",
    at: float | Tensor | None = None,
    axis_values: Tensor | None = None,
    num_classes: int | None = None,
    strict: bool = True,
    at_accuracy: float | None = None,
) -> dict[str, Tensor]:
    r"""Slope, curvature, area and excess rate of the frontier through ``(x_ℓ, R_ℓ)`` points.

    .. math::
        \beta = -\hat R'(x^*),\qquad \kappa = \frac{\hat r''(u^*)}{(1 + \hat r'(u^*)^2)^{3/2}},\qquad
        \mathrm{AUC} = \frac{1}{(x_{max}-x_{min})\log_2 C}\int_{x_{min}}^{x_{max}} \hat R(x)\,dx

    with ``u = (x − x_min)/(x_max − x_min)`` and ``r = R / log2 C`` (normalised coordinates: ``κ`` is unit-free, the
    same for any affine rescaling of ``x`` and any unit of the rate; ``log2 C`` is replaced by 1 when ``num_classes``
    is None). ``κ`` is signed (positive for a convex frontier). ``curvature`` is the raw second derivative
    ``R̂''(x*)`` (bits per unit x²) and ``beta_normalized`` the slope in the normalised coordinates
    ``−r̂'(u*) = β (x_max − x_min) / log2 C``. See the module docstring for each ``method``.

    Args:
        distortion: ``[..., L]`` distortions ``D_ℓ`` (leading dims = independent curves, e.g. bootstrap replicates).
        rate: ``[..., L]`` rates ``R_ℓ`` in bits.
        method: ``"quadratic"``, ``"exponential"``, ``"pchip"`` or ``"hull"``.
        at: reference point ``x*`` (float or tensor broadcastable to the batch); default: midpoint of each curve's
            observed ``x`` range. Must lie inside the observed range.
        axis_values: ``[L]`` (or ``[..., L]``) x-coordinates to use instead of ``D`` (e.g. perturbation severities).
        num_classes: ``C``; normalises ``auc`` by ``log2 C`` and enables ``excess_rate`` (NaN otherwise).
        strict: if ``False``, a curve whose frontier is undefined (too few distinct x, ``at`` outside its range)
            gets NaN ``beta`` / ``kappa`` / ``auc`` instead of raising.
        at_accuracy: read β and κ where the frontier reaches accuracy ``a`` instead of at ``at``: on the distortion
            axis (``axis_values`` None) ``x* = 1 − a``; with ``axis_values`` the x where the accuracy-vs-x curve
            ``1 − D``, fitted with the same ``method``, first reaches ``a`` (scanning from the low end of the range).

    Returns:
        dict of float64 tensors shaped like the batch dims: ``beta`` (bits per unit x), ``beta_normalized``,
        ``kappa`` (unit-free), ``curvature`` (bits per unit x²), ``auc``, ``secant_slope``, ``excess_rate`` (bits)
        and ``at`` (the reference point used).

    Raises:
        ValueError: fewer than 3 points, shape mismatch, NaN/inf, too few distinct x, ``at`` outside the range,
            unknown method.

    Example:
        >>> import torch
        >>> D = torch.tensor([0.1, 0.3, 0.5, 0.7])
        >>> R = 2.0 - 4.0 * D + 3.0 * D**2  # exact quadratic: R' = -4 + 6D, R'' = 6
        >>> s = rd_signatures(D, R, at=0.5)
        >>> round(float(s["beta"]), 4), round(float(s["curvature"]), 4)  # β = −R'(0.5) = 1, R'' = 6
        (1.0, 6.0)
        >>> # κ in normalised coordinates (x range 0.6, no class count: rate unit 1): r' = −0.6, r'' = 6 · 0.36
        >>> round(float(s["kappa"]), 4) == round(6 * 0.36 / (1 + 0.36) ** 1.5, 4)
        True
    """
    if method not in _METHODS:
        raise ValueError(f"`method` must be one of {_METHODS}, got {method!r}")
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2
    ):
        raise ValueError(f"`num_classes` must be an integer >= 2 or None, got {num_classes!r}")
    x, d, r = _as_curves(distortion, rate, axis_values)
    batch = x.shape[:-1]
    length = x.shape[-1]
    at_flat = at
    if isinstance(at, Tensor):
        at_flat = torch.broadcast_to(at.to(torch.float64), batch).reshape(-1)
    if at_accuracy is not None:
        _check_at_accuracy(at, at_accuracy)
    out = _fit_signatures(
        x.reshape(-1, length),
        d.reshape(-1, length),
        r.reshape(-1, length),
        method,
        at_flat,
        num_classes,
        strict,
        at_accuracy=at_accuracy,
        distortion_axis=axis_values is None,
    )
    return {k: v.reshape(batch) for k, v in out.items()}


def _frontier_curve(x: Tensor, rate: Tensor, method: str, num: int = 200) -> tuple[Tensor, Tensor]:
    """Fitted frontier of one curve (``x, rate [L]``) sampled on ``num`` points over the observed range (plotting)."""
    grid = torch.linspace(float(x.min()), float(x.max()), num, dtype=torch.float64)
    fit = _FITS[method](x.to(torch.float64)[None], rate.to(torch.float64)[None])
    return grid, fit.values(grid[None])[0]


def _check_at_accuracy(at: object, at_accuracy: object) -> None:
    if at is not None:
        raise ValueError("pass either `at` (an x value) or `at_accuracy` (an accuracy), not both")
    if isinstance(at_accuracy, bool) or not isinstance(at_accuracy, (int, float)) or not 0.0 <= at_accuracy <= 1.0:
        raise ValueError(f"`at_accuracy` must be a number in [0, 1], got {at_accuracy!r}")


def __getattr__(name: str) -> object:  # the RD functional moved to rdmetrics.functional.rate_distortion
    if name == "rate_distortion_signature":
        from rdmetrics.functional.rate_distortion import rate_distortion_signature

        return rate_distortion_signature
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["rd_signatures"]
