"""Small statistics helpers: medians and percentiles of timings."""

import statistics


def percentile(values, pct):
    """Linear-interpolated percentile (pct in 0..100)."""
    data = sorted(values)
    if not data:
        return float("nan")
    if len(data) == 1:
        return data[0]
    k = (len(data) - 1) * pct / 100.0
    lo = int(k)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def median(values):
    return statistics.median(values)


def ms(seconds):
    return f"{seconds * 1000:8.2f} ms"
