"""The look every figure shares: sizes, colours per format, line styles per implementation, bars.

A format's colour comes from its `Presentation` and stays the same in every figure and run; a
format without one takes a spare colour by name. An implementation's line style is fixed (fast
solid, tutorial dashed, documented dash-dotted, baseline dotted), and so is a codec's marker (raw
circles, PNG squares, QOI triangles, JPEG downward triangles; baselines diamonds); a format's own
marker, if it sets one, replaces its codec's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from matplotlib.colors import to_rgba
from matplotlib.patches import Patch

from imgbench.cells import BASELINE, Presentation, Series

FIGSIZE = (8.0, 4.5)
MAX_WIDTH = 13.0  # inches; wider figures do not fit a page or screen
DPI = 150
LIGHT = 0.35  # face alpha of hatched bars (variations, sync time)
NEUTRAL = "0.45"  # legend swatches that stand for a role, not a format
# A fixed hash salt makes SVG element ids stable; dropping dates/versions makes files byte-stable.
RC = {"svg.hashsalt": "imgbench", "hatch.linewidth": 0.8, "legend.fontsize": 9}
METADATA = {"png": {"Software": None}, "svg": {"Date": None}}

SPARE_COLOURS = tuple(f"tab:{name}" for name in ("red", "purple", "brown", "pink", "olive", "cyan"))
LineLook = tuple[object, str]  # (line style, marker)
IMPLEMENTATION_LOOKS: dict[str, LineLook] = {
    "tutorial": ("--", "s"),
    "fast": ("-", "o"),
    "documented": ("-.", "^"),
    BASELINE: (":", "D"),
}
SPARE_LOOKS: tuple[LineLook, ...] = (
    ((0, (5, 1, 1, 1, 1, 1)), "v"),
    ((0, (1, 2)), "P"),
    ((0, (8, 3)), "X"),
)
CODEC_MARKERS = {"raw": "o", "png": "s", "qoi": "^", "jpeg": "v", "zstd": "D"}


def format_colours(
    formats: Iterable[str], presentations: Mapping[str, Presentation]
) -> dict[str, str]:
    """Each format's own colour; formats without one take the spare colours by name."""
    formats = set(formats)
    own = {name: presentations[name].colour for name in formats if name in presentations}
    colours = {name: colour for name, colour in own.items() if colour}
    unknown = sorted(formats - set(colours))
    colours.update({n: SPARE_COLOURS[i % len(SPARE_COLOURS)] for i, n in enumerate(unknown)})
    return colours


def implementation_looks(implementations: Iterable[str]) -> dict[str, LineLook]:
    """Known implementations keep their looks; unknown ones take the spare looks by name."""
    implementations = set(implementations)
    looks = {name: look for name, look in IMPLEMENTATION_LOOKS.items() if name in implementations}
    unknown = sorted(implementations - set(looks))
    looks.update({n: SPARE_LOOKS[i % len(SPARE_LOOKS)] for i, n in enumerate(unknown)})
    return looks


def codec_marker(codec: str, fallback: str = "o") -> str:
    return CODEC_MARKERS.get(codec, fallback)


def line_style(series: Series, colour: str, look: LineLook) -> dict[str, object]:
    linestyle, marker = look
    if series.implementation != BASELINE:
        marker = codec_marker(series.codec, marker)
    return {
        "color": colour,
        "linestyle": linestyle,
        "marker": series.presentation.line_marker or marker,
        "markersize": 4.5,
        "linewidth": 1.6,
    }


def bar_look(colours: list[str], *, hatched: bool) -> dict[str, object]:
    """Solid bars in the format's colour, or pale hatched ones for the second bar of a pair."""
    if hatched:
        faces = [to_rgba(colour, LIGHT) for colour in colours]
        return {"color": faces, "edgecolor": colours, "hatch": "///", "linewidth": 0.8}
    return {"color": colours, "edgecolor": colours, "linewidth": 0.8}


def role_swatches(solid: str, hatched: str) -> list[Patch]:
    return [
        Patch(facecolor=NEUTRAL, edgecolor=NEUTRAL, label=solid),
        Patch(facecolor=to_rgba(NEUTRAL, LIGHT), edgecolor=NEUTRAL, hatch="///", label=hatched),
    ]
