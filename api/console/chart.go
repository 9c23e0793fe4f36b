package console

import (
	"fmt"
	"html/template"
	"strings"

	"github.com/connector-gateway/connector/portal/traffic"
)

// Chart geometry (SVG user units).
const (
	chartW, chartH         = 640, 150
	chartLeft, chartRight  = 40, 10
	chartTop, chartBottom  = 22, 20
	chartPlotW, chartPlotH = chartW - chartLeft - chartRight, chartH - chartTop - chartBottom
)

// The chart's series: name, colour (presentation attributes only: the
// console's policy allows no inline styles).
var chartSeries = []struct{ name, color string }{
	{"in", "#1f6feb"}, {"delivered", "#1a7f37"}, {"failed", "#cf222e"}, {"waiting", "#8c959f"},
}

// trafficChart draws a portal's last hour as a small SVG: events in,
// delivered and failed per minute as lines, the queue depth as a grey area,
// on one scale. It is drawn on the server, with no script.
func trafficChart(portalName string, series []traffic.Minute) template.HTML {
	if len(series) == 0 {
		return ""
	}
	var top int64 = 1
	var in, delivered, failed int
	for _, m := range series {
		for _, v := range []int64{int64(m.In), int64(m.Delivered), int64(m.Failed), m.Depth} {
			top = max(top, v)
		}
		in, delivered, failed = in+m.In, delivered+m.Delivered, failed+m.Failed
	}
	x := func(i int) float64 { return chartLeft + float64(i)*chartPlotW/float64(max(len(series)-1, 1)) }
	y := func(v int64) float64 { return chartTop + chartPlotH - float64(v)*chartPlotH/float64(top) }
	var b strings.Builder
	title := fmt.Sprintf("%s, last hour: %d in, %d delivered, %d failed; at most %d waiting", portalName, in, delivered, failed, maxDepth(series))
	fmt.Fprintf(&b, `<svg class="traffic" viewBox="0 0 %d %d" width="100%%" role="img" aria-label="%s" data-in="%d" data-delivered="%d" data-failed="%d" xmlns="http://www.w3.org/2000/svg">`,
		chartW, chartH, template.HTMLEscapeString(title), in, delivered, failed)
	fmt.Fprintf(&b, `<title>%s</title>`, template.HTMLEscapeString(title))
	// Axes and the scale.
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#d0d7de"/>`, chartLeft, chartTop+chartPlotH, chartW-chartRight, chartTop+chartPlotH)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#eaeef2"/>`, chartLeft, chartTop, chartW-chartRight, chartTop)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10" text-anchor="end" fill="#57606a">%d</text>`, chartLeft-4, chartTop+4, top)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10" text-anchor="end" fill="#57606a">0</text>`, chartLeft-4, chartTop+chartPlotH+4)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10" fill="#57606a">−60 min</text>`, chartLeft, chartH-4)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10" text-anchor="end" fill="#57606a">now</text>`, chartW-chartRight, chartH-4)
	// Depth: an area.
	var area strings.Builder
	fmt.Fprintf(&area, "%.1f,%.1f ", x(0), y(0))
	for i, m := range series {
		fmt.Fprintf(&area, "%.1f,%.1f ", x(i), y(m.Depth))
	}
	fmt.Fprintf(&area, "%.1f,%.1f", x(len(series)-1), y(0))
	fmt.Fprintf(&b, `<polygon data-series="waiting" points="%s" fill="#8c959f" fill-opacity="0.25" stroke="none"/>`, area.String())
	// In, delivered, failed: lines.
	for si, s := range chartSeries[:3] {
		var pts strings.Builder
		for i, m := range series {
			v := [...]int{m.In, m.Delivered, m.Failed}[si]
			fmt.Fprintf(&pts, "%.1f,%.1f ", x(i), y(int64(v)))
		}
		fmt.Fprintf(&b, `<polyline data-series="%s" points="%s" fill="none" stroke="%s" stroke-width="1.5"/>`, s.name, strings.TrimSpace(pts.String()), s.color)
	}
	// Legend.
	lx := chartLeft
	for _, s := range chartSeries {
		fmt.Fprintf(&b, `<rect x="%d" y="6" width="10" height="10" fill="%s"/><text x="%d" y="15" font-size="11" fill="#24292f">%s</text>`, lx, s.color, lx+14, s.name)
		lx += 24 + 7*len(s.name)
	}
	fmt.Fprintf(&b, `<text x="%d" y="15" font-size="11" text-anchor="end" fill="#57606a">events per minute, last hour</text>`, chartW-chartRight)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func maxDepth(series []traffic.Minute) int64 {
	var m int64
	for _, s := range series {
		m = max(m, s.Depth)
	}
	return m
}
