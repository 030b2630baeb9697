"""Trends: one patient's numeric values of one test over time, and the geometry of a small SVG chart.

The chart is drawn by the `trend` macro (templates/labs/_macros.html) from `chart()`'s numbers (no JavaScript library);
the same points are listed in a table beside it for screen readers and print.
"""
import math

from ...models import LabResult

MAX_POINTS = 60


def series(patient, test_id, limit=MAX_POINTS):
    """The patient's latest `limit` numeric results of the test, oldest first (one indexed query)."""
    docs = list(LabResult.objects(patient=patient, test_id=test_id, result_type="numeric")
                .order_by("-collected_at").limit(limit))
    return [d for d in reversed(docs) if d.value_num is not None]


def repeated_series(patient, limit=300, charts=6):
    """[(name, unit, points)] for numeric tests done more than once, from the patient's latest `limit`
    numeric results in one query; at most `charts` tests (the most recently done first), points oldest first."""
    by_test = {}
    for r in LabResult.objects(patient=patient, result_type="numeric").order_by("-collected_at").limit(limit):
        if r.value_num is not None:
            by_test.setdefault(r.test_id, []).append(r)
    repeated = [pts for pts in by_test.values() if len(pts) > 1][:charts]
    return [(pts[0].name, pts[0].unit, list(reversed(pts[:MAX_POINTS]))) for pts in repeated]


def chart(points, width=560, height=200, pad=(56, 16, 30, 12)):
    """Geometry for an SVG line chart of `points` (LabResults, oldest first) with the normal band.

    Returns None for fewer than 2 points. `pad` is (left, right, bottom, top). The band is the latest
    result's applied range (ranges can change with age); a missing side runs to the chart's edge.
    """
    if len(points) < 2:
        return None
    left, right, bottom, top = pad
    rng = points[-1].range
    low = getattr(rng, "low", None)
    high = getattr(rng, "high", None)
    values = [p.value_num for p in points]
    lo_v = min(values + [v for v in (low,) if v is not None])
    hi_v = max(values + [v for v in (high,) if v is not None])
    if hi_v == lo_v:
        lo_v, hi_v = lo_v - 1, hi_v + 1
    margin = (hi_v - lo_v) * 0.1
    lo_v, hi_v = lo_v - margin, hi_v + margin
    t0 = points[0].collected_at.timestamp()
    t1 = points[-1].collected_at.timestamp()
    span = (t1 - t0) or 1.0
    inner_w, inner_h = width - left - right, height - top - bottom

    def x(p):
        return round(left + (p.collected_at.timestamp() - t0) / span * inner_w, 1)

    def y(v):
        return round(top + (hi_v - v) / (hi_v - lo_v) * inner_h, 1)

    band = None
    if low is not None or high is not None:
        y_top = y(high) if high is not None else top
        y_bottom = y(low) if low is not None else top + inner_h
        band = {"x": left, "y": y_top, "width": inner_w, "height": round(y_bottom - y_top, 1),
                "low": low, "high": high}
    dots = [{"x": x(p), "y": y(p.value_num), "result": p} for p in points]
    ticks = [{"y": y(v), "value": v} for v in _ticks(lo_v, hi_v)]
    return {"width": width, "height": height, "left": left, "top": top, "bottom": top + inner_h,
            "right": left + inner_w, "band": band, "dots": dots, "ticks": ticks,
            "polyline": " ".join(f"{d['x']},{d['y']}" for d in dots)}


def _ticks(lo, hi, count=4):
    """About `count` round values between lo and hi for the y axis."""
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), default=raw)
    first = math.ceil(lo / step) * step
    out, v = [], first
    while v <= hi + 1e-9:
        out.append(round(v, 10))
        v += step
    return out
