"""Yield and its confidence interval.

The interval is Clopper-Pearson's exact binomial interval (the conservative choice: its
coverage is at least the nominal 95 % for every true yield and every number of chips, which
matters at yields near 1 where the Wilson and normal intervals undercover).
"""
from __future__ import annotations

from scipy.stats import beta

CI_METHOD = "clopper-pearson"
CI_LEVEL = 0.95


def clopper_pearson(passed: int, n: int, level: float = CI_LEVEL) -> tuple[float, float]:
    """Exact two-sided interval of a binomial proportion (``(0, 1)`` when ``n == 0``)."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= passed <= n:
        raise ValueError(f"passed ({passed}) must be within 0..n ({n})")
    a = 1.0 - level
    low = 0.0 if passed == 0 else float(beta.ppf(a / 2, passed, n - passed + 1))
    high = 1.0 if passed == n else float(beta.ppf(1 - a / 2, passed + 1, n - passed))
    return low, high


def yield_summary(passes: list[bool]) -> dict:
    """``{"yield", "yield_ci", "passed", "chips", "ci_method", "ci_level"}``."""
    n, k = len(passes), int(sum(bool(p) for p in passes))
    low, high = clopper_pearson(k, n)
    return {"yield": (k / n) if n else None, "yield_ci": [low, high], "passed": k, "chips": n,
            "ci_method": CI_METHOD, "ci_level": CI_LEVEL}
