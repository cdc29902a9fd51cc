package report

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// The charts are drawn as inline SVG by hand: the page must open with no
// network and no scripts, and these few shapes (polylines, bars, lanes,
// markers) do not need a plotting library.

const (
	chartW, chartH       = 960.0, 230.0
	padL, padR, padT, pb = 64.0, 150.0, 28.0, 30.0
)

// palette colours series and lease owners (readable on white).
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"}

func colour(i int) string { return palette[i%len(palette)] }

// line is one series: a value per second.
type line struct {
	label  string
	values []float64
}

// marker is a fault drawn on the time axis.
type marker struct {
	at    float64 // seconds from the start
	label string
}

// frame draws the chart's box, title, axes and the fault markers, and
// returns the x and y mappings.
func frame(b *strings.Builder, name, title string, seconds, ymax float64, yfmt func(float64) string, markers []marker) (func(float64) float64, func(float64) float64) {
	seconds = math.Max(seconds, 1)
	if ymax <= 0 {
		ymax = 1
	}
	x := func(s float64) float64 { return padL + s/seconds*(chartW-padL-padR) }
	y := func(v float64) float64 { return chartH - pb - v/ymax*(chartH-pb-padT) }
	fmt.Fprintf(b, `<svg class="chart" data-chart="%s" viewBox="0 0 %g %g" width="%g" height="%g" role="img" aria-label="%s">`,
		name, chartW, chartH, chartW, chartH, html.EscapeString(title))
	fmt.Fprintf(b, `<text class="title" x="%g" y="16">%s</text>`, padL, html.EscapeString(title))
	fmt.Fprintf(b, `<rect class="plot" x="%g" y="%g" width="%g" height="%g"/>`, padL, padT, chartW-padL-padR, chartH-pb-padT)
	for i := 0; i <= 4; i++ {
		v := ymax * float64(i) / 4
		fmt.Fprintf(b, `<line class="grid" x1="%g" x2="%g" y1="%.1f" y2="%.1f"/><text class="tick" x="%g" y="%.1f" text-anchor="end">%s</text>`,
			padL, chartW-padR, y(v), y(v), padL-6, y(v)+4, yfmt(v))
	}
	step := math.Max(1, math.Ceil(seconds/10))
	for s := 0.0; s <= seconds; s += step {
		fmt.Fprintf(b, `<text class="tick" x="%.1f" y="%g" text-anchor="middle">%gs</text>`, x(s), chartH-pb+16, s)
	}
	for i, m := range markers {
		fmt.Fprintf(b, `<g class="fault"><line x1="%.1f" x2="%.1f" y1="%g" y2="%g"/><text x="%.1f" y="%g">%s</text><title>%s</title></g>`,
			x(m.at), x(m.at), padT, chartH-pb, x(m.at)+3, padT+10+float64(i%4)*11, html.EscapeString(shorten(m.label, 28)), html.EscapeString(m.label))
	}
	return x, y
}

// lineChart draws series over seconds.
func lineChart(name, title string, lines []line, markers []marker, yfmt func(float64) string) string {
	var b strings.Builder
	seconds, ymax := 0.0, 0.0
	for _, l := range lines {
		seconds = math.Max(seconds, float64(len(l.values)))
		for _, v := range l.values {
			ymax = math.Max(ymax, v)
		}
	}
	x, y := frame(&b, name, title, seconds, ymax*1.1, yfmt, markers)
	for i, l := range lines {
		var pts []string
		for s, v := range l.values {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(float64(s)+0.5), y(v)))
		}
		if len(pts) == 1 {
			pts = append(pts, pts[0])
		}
		fmt.Fprintf(&b, `<polyline class="series" stroke="%s" points="%s"><title>%s</title></polyline>`, colour(i), strings.Join(pts, " "), html.EscapeString(l.label))
		fmt.Fprintf(&b, `<rect x="%g" y="%g" width="10" height="10" fill="%s"/><text class="legend" x="%g" y="%g">%s</text>`,
			chartW-padR+10, padT+float64(i)*16, colour(i), chartW-padR+24, padT+9+float64(i)*16, html.EscapeString(shorten(l.label, 20)))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// lanesChart draws each shard's lease holders as coloured spans.
func lanesChart(name, title string, spans []leaseSpan, shards, owners []string, start time.Time, seconds float64, markers []marker) string {
	var b strings.Builder
	x, _ := frame(&b, name, title, seconds, 1, func(float64) string { return "" }, markers)
	lane := (chartH - pb - padT) / float64(max(len(shards), 1))
	row := map[string]int{}
	for i, sh := range shards {
		row[sh] = i
		fmt.Fprintf(&b, `<text class="tick" x="%g" y="%.1f" text-anchor="end">%s</text>`, padL-6, padT+lane*(float64(i)+0.5)+4, html.EscapeString(shortShard(sh)))
	}
	ownerIdx := map[string]int{}
	for i, o := range owners {
		ownerIdx[o] = i
		fmt.Fprintf(&b, `<rect x="%g" y="%g" width="10" height="10" fill="%s"/><text class="legend" x="%g" y="%g">%s</text>`,
			chartW-padR+10, padT+float64(i)*16, colour(i), chartW-padR+24, padT+9+float64(i)*16, html.EscapeString(tail(o, 20)))
	}
	for _, sp := range spans {
		x0, x1 := x(sp.from.Sub(start).Seconds()), x(sp.to.Sub(start).Seconds())
		fmt.Fprintf(&b, `<rect class="lease" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s held by %s, %s – %s</title></rect>`,
			x0, padT+lane*float64(row[sp.shard])+2, math.Max(x1-x0, 1), math.Max(lane-4, 1), colour(ownerIdx[sp.owner]),
			html.EscapeString(sp.shard), html.EscapeString(sp.owner), sp.from.Sub(start).Round(time.Millisecond), sp.to.Sub(start).Round(time.Millisecond))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// barChart draws labelled horizontal bars (e.g. duplicates by cause).
func barChart(name, title string, labels []string, values []int) string {
	var b strings.Builder
	h := padT + 24*float64(max(len(labels), 1)) + 10
	fmt.Fprintf(&b, `<svg class="chart" data-chart="%s" viewBox="0 0 %g %g" width="%g" height="%g" role="img" aria-label="%s">`,
		name, chartW, h, chartW, h, html.EscapeString(title))
	fmt.Fprintf(&b, `<text class="title" x="%g" y="16">%s</text>`, padL, html.EscapeString(title))
	most := 1
	for _, v := range values {
		most = max(most, v)
	}
	if len(labels) == 0 {
		fmt.Fprintf(&b, `<text class="legend" x="%g" y="%g">none</text>`, padL, padT+14)
	}
	for i, l := range labels {
		w := float64(values[i]) / float64(most) * (chartW - 2*padL - 200)
		y := padT + 24*float64(i)
		fmt.Fprintf(&b, `<text class="tick" x="%g" y="%g">%s</text><rect class="bar" x="%g" y="%g" width="%.1f" height="16" fill="%s"/><text class="legend" x="%.1f" y="%g">%d</text>`,
			padL, y+12, html.EscapeString(shorten(l, 26)), padL+190, y, math.Max(w, 1), colour(i), padL+196+w, y+12, values[i])
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// tail keeps the end of s, where worker names differ ("…-r0", "…-r1").
func tail(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return "…" + string(r[len(r)-n+1:])
	}
	return s
}

// shortShard is "shardId-000000000007" → "shard 7".
func shortShard(id string) string {
	if d, ok := strings.CutPrefix(id, "shardId-"); ok {
		d = strings.TrimLeft(d, "0")
		if d == "" {
			d = "0"
		}
		return "shard " + d
	}
	return id
}

func count(v float64) string { return fmt.Sprintf("%.0f", v) }

func millis(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.1fs", v/1000)
	}
	return fmt.Sprintf("%.0fms", v)
}
