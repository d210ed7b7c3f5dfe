"""Server-side SVG charts: one bar per unit, the target line, suppressed bars kept visible."""

import re
import xml.etree.ElementTree as ET

from hub.web.charts import Bar, bar_chart, range_strip

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def test_one_bar_per_unit_with_the_target_line_at_its_value():
    """Bars scale to the largest value; the target line sits where the target is."""
    bars = [
        Bar("u1", "Alpha skole", 0.5, "0.50", good=False),
        Bar("u2", "Beta skole", 1.0, "1.00", good=True),
        Bar("u3", "Gamma & Co", None, "suppressed"),
    ]
    svg = parse(bar_chart(bars, css_class="coverage", title="t", target=1.0, scale=2.0))
    rects = svg.findall(f"{SVG}rect")
    assert ["u1", "u2", "u3"] == [r.get("data-key") for r in rects]
    assert ["bar below", "bar meets", "bar suppressed"] == [r.get("class") for r in rects]
    widths = [float(r.get("width")) for r in rects[:2]]
    assert 2 * widths[0] == widths[1]
    x_of_target = float(svg.find(f"{SVG}line[@class='target']").get("x1"))
    x_start = float(rects[0].get("x"))
    assert x_start + widths[1] == x_of_target  # 1.0 on a scale of 2.0: half the plot
    texts = [t.text for t in svg.findall(f"{SVG}text")]
    assert "Gamma & Co" in texts and "suppressed" in texts


def test_labels_are_escaped():
    """A unit name with markup stays text."""
    markup = str(bar_chart([Bar("k", "<script>x</script>", 1.0, "1")], css_class="c", title="t"))
    assert "<script>" not in markup and "&lt;script&gt;" in markup


def test_a_chart_without_units_says_so():
    """An empty chart is still a valid SVG that says there is nothing to show."""
    svg = parse(bar_chart([], css_class="c", title="t"))
    assert [] == svg.findall(f"{SVG}rect")
    assert "no units" in [t.text for t in svg.findall(f"{SVG}text")]


def test_range_strip_places_the_median_between_min_and_max():
    """The spread line runs from min to max and the median dot lies between."""
    markup = str(range_strip(0.2, 0.5, 0.9, target=1.0))
    low, high = map(
        float, re.search(r'class="spread" x1="([\d.]+)" y1="9" x2="([\d.]+)"', markup).groups()
    )
    median = float(re.search(r'class="median" cx="([\d.]+)"', markup).group(1))
    assert low < median < high
