"""Server-side SVG charts: geometry computed here, drawn by templates/includes/*_chart.html."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    css_class: str
    y: int
    width: int


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars scaled to the largest value; no JavaScript, no CDN."""

    title: str
    bars: list[Bar] = field(default_factory=list)
    row_height: int = 30
    label_width: int = 120
    bar_area: int = 420

    @classmethod
    def build(cls, title: str, items: list[tuple[str, int, str]], **kwargs) -> BarChart:
        chart = cls(title=title, **kwargs)
        top = max((value for _, value, _ in items), default=0) or 1
        chart.bars.extend(
            Bar(
                label=label,
                value=value,
                css_class=css,
                y=i * chart.row_height,
                width=round(value * chart.bar_area / top),
            )
            for i, (label, value, css) in enumerate(items)
        )
        return chart

    @property
    def height(self) -> int:
        return len(self.bars) * self.row_height

    @property
    def width(self) -> int:
        return self.label_width + self.bar_area + 80
