"""The memorisation audit's figure: the histogram of reproduced suffix lengths and the
perplexity/zlib ranking of free generations, as a small PNG (matplotlib, the [plots] extra)."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from release.audit.untargeted import Generated
from release.pipeline.context import MemorizationSummary


def plots_unavailable() -> str | None:
    """Why no figure can be drawn here, or None."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return "matplotlib is not installed (pip install 'release[plots]')"
    return None


def render_png(summary: MemorizationSummary, generations: Sequence[Generated]) -> bytes:
    """Both panels side by side; numbers only, so nothing of the data or the generations shows.
    The same numbers give the same bytes (no timestamp or software tag in the file)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    panels = 2 if generations else 1
    figure = Figure(figsize=(4.2 * panels, 3.0), dpi=100)
    axes = figure.subplots(1, panels, squeeze=False)[0]
    histogram = summary.matched_length_histogram
    left = axes[0]
    left.bar(range(len(histogram)), histogram, color="#4477aa", width=0.9)
    if histogram:
        left.bar([len(histogram) - 1], [histogram[-1]], color="#cc3311", width=0.9)
    left.set_yscale("symlog", linthresh=1)
    left.set_xlabel(f"suffix tokens reproduced (of {summary.suffix_tokens})")
    left.set_ylabel("records")
    left.set_title(f"Prefix audit: {summary.extractable} of {summary.samples} extractable",
                   fontsize=9)
    if generations:
        right = axes[1]
        scored = [g for g in generations if g.tokens]
        hit = [g for g in scored if g.hit]
        missed = [g for g in scored if not g.hit]
        for group, color, label in ((missed, "#4477aa", "no training data"),
                                    (hit, "#cc3311", "holds training data")):
            if group:
                right.scatter([g.zlib_bytes for g in group],
                              [math.log(g.perplexity) for g in group],
                              s=8, color=color, label=label)
        right.set_xlabel("zlib bytes of the generation")
        right.set_ylabel("log perplexity")
        right.set_title(f"Free generations: {len(hit)} of {len(generations)} hold training "
                        "data", fontsize=9)
        if scored:
            right.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()
