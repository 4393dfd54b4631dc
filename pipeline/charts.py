"""The report's charts: accessible SVG (a title, a description and the numbers as text),
drawn with ElementTree: stacked bars of pieces per team and issue, and plain bars.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from markupsafe import Markup


def _svg(width: int, height: int, title: str, description: str) -> ET.Element:
    svg = ET.Element("svg", {
        "xmlns": "http://www.w3.org/2000/svg", "viewBox": f"0 0 {width} {height}",
        "width": "100%", "role": "img", "aria-label": title,
        "font-family": "Arial, Helvetica, sans-serif", "font-size": "13",
    })
    ET.SubElement(svg, "title").text = title
    ET.SubElement(svg, "desc").text = description
    ET.SubElement(svg, "rect", {"width": str(width), "height": str(height),
                                "fill": BACKGROUND})
    return svg

#: Bar colours: each has a contrast of at least 4.5:1 with white (the labels written on the
#: bars and the chart's background), so bars and labels are readable; a white gap separates
#: neighbouring segments, so no two colours need to be told apart by contrast alone.
PALETTE = ("#1d5e9e", "#b42318", "#2f6b3a", "#6f42a8", "#8a4b08", "#0f6570", "#a3306a",
           "#4d5358", "#3f4ba8", "#6b5a00")
INK, MUTED, BACKGROUND = "#1f2328", "#4a5057", "#ffffff"



def _text(parent: ET.Element, x: float, y: float, text: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, "text", {"x": _n(x), "y": _n(y), "fill": INK, **attrs})
    element.text = text
    return element


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _markup(svg: ET.Element) -> Markup:
    return Markup(ET.tostring(svg, encoding="unicode"))  # built as XML here: escaped


LABEL_WIDTH, CHART_WIDTH, ROW, BAR = 150, 640, 34, 22


def team_colours(teams: Sequence[str]) -> dict[str, str]:
    """One colour per team, the same in every chart of the page."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(teams)}


def _units(count: int, unit: str) -> str:
    """``1 piece``, ``2 pieces``: ``unit`` is the plural."""
    return f"{count} {unit[:-1] if count == 1 and unit.endswith('s') else unit}"


def stacked_chart(title: str, rows: Sequence[tuple[str, Sequence[tuple[str, int]]]],
                  series: Sequence[str], unit: str, colours: dict[str, str]) -> Markup:
    """Horizontal stacked bars: one row per issue, one segment per team, each labelled."""
    totals = [sum(v for _, v in values) for _, values in rows]
    scale = (CHART_WIDTH - LABEL_WIDTH - 50) / max(max(totals, default=0), 1)
    columns = 3
    legend_rows = -(-len(series) // columns)
    height = 16 + ROW * len(rows) + 16 + 22 * legend_rows
    summary = "; ".join(
        f"{label}: {_units(total, unit)}"
        + (" (" + ", ".join(f"{name} {v}" for name, v in values if v) + ")" if total else "")
        for (label, values), total in zip(rows, totals, strict=True))
    svg = _svg(CHART_WIDTH, height, title, summary)
    for index, ((label, values), total) in enumerate(zip(rows, totals, strict=True)):
        y = 16 + ROW * index
        row = ET.SubElement(svg, "g", {"class": "row", "data-issue": label})
        _text(row, LABEL_WIDTH - 8, y + BAR / 2 + 4, label, **{"text-anchor": "end"})
        x = float(LABEL_WIDTH)
        for name, value in values:
            if not value:
                continue
            width = value * scale
            segment = ET.SubElement(row, "g", {"class": "segment", "data-team": name,
                                               "data-value": str(value)})
            ET.SubElement(segment, "title").text = f"{label}, {name}: {_units(value, unit)}"
            ET.SubElement(segment, "rect", {
                "x": _n(x), "y": _n(y), "width": _n(width), "height": str(BAR),
                "fill": colours[name], "stroke": BACKGROUND, "stroke-width": "1.5"})
            if width >= 16:
                _text(segment, x + width / 2, y + BAR / 2 + 4, str(value),
                      fill=BACKGROUND, **{"text-anchor": "middle", "font-weight": "700"})
            x += width
        _text(row, x + 6, y + BAR / 2 + 4, str(total), **{"class": "total"})
    legend = ET.SubElement(svg, "g", {"class": "legend"})
    top = 16 + ROW * len(rows) + 8
    for index, name in enumerate(series):
        lx = 10 + (index % columns) * ((CHART_WIDTH - 20) / columns)
        ly = top + 22 * (index // columns)
        ET.SubElement(legend, "rect", {"x": _n(lx), "y": _n(ly), "width": "14",
                                       "height": "14", "fill": colours[name]})
        _text(legend, lx + 20, ly + 12, name)
    return _markup(svg)


def bar_chart(title: str, rows: Sequence[tuple[str, float, str]], maximum: float,
              description: str) -> Markup:
    """Horizontal bars, one per issue, each with its value written beside it."""
    height = 16 + ROW * len(rows) + 6
    svg = _svg(CHART_WIDTH, height, title, description)
    scale = (CHART_WIDTH - LABEL_WIDTH - 130) / (maximum or 1)
    ET.SubElement(svg, "line", {"x1": str(LABEL_WIDTH), "x2": str(LABEL_WIDTH), "y1": "10",
                                "y2": str(height - 4), "stroke": MUTED})
    for index, (label, value, shown) in enumerate(rows):
        y = 16 + ROW * index
        row = ET.SubElement(svg, "g", {"class": "row", "data-issue": label,
                                       "data-value": _n(value)})
        ET.SubElement(row, "title").text = f"{label}: {shown}"
        _text(row, LABEL_WIDTH - 8, y + BAR / 2 + 4, label, **{"text-anchor": "end"})
        width = value * scale
        if width > 0:
            ET.SubElement(row, "rect", {"x": str(LABEL_WIDTH), "y": _n(y), "width": _n(width),
                                        "height": str(BAR), "fill": PALETTE[0]})
        _text(row, LABEL_WIDTH + width + 6, y + BAR / 2 + 4, shown, **{"class": "value"})
    return _markup(svg)
