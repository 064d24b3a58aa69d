package drill

import (
	"image/color"
	"os"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var (
	colorOK     = color.RGBA{R: 30, G: 110, B: 200, A: 255}
	colorErr    = color.RGBA{R: 210, G: 40, B: 40, A: 255}
	colorLag    = color.RGBA{R: 40, G: 150, B: 60, A: 255}
	colorMissed = color.RGBA{R: 210, G: 40, B: 40, A: 255}
	colorFault  = color.NRGBA{R: 255, G: 170, B: 60, A: 70}
)

// writeChart draws ops/s and errors per second above the replication lag
// of each probe, with every injected fault shaded, as a PNG at path.
func writeChart(r Result, path string) error {
	end := max(r.WorkloadTime.Seconds(), 1)
	ops, err := opsPlot(r, end)
	if err != nil {
		return err
	}
	lag, err := lagPlot(r, end)
	if err != nil {
		return err
	}
	img := vgimg.New(vg.Points(900), vg.Points(620))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6),
		PadRight: vg.Points(12), PadY: vg.Points(18)}
	canvases := plot.Align([][]*plot.Plot{{ops}, {lag}}, tiles, dc)
	ops.Draw(canvases[0][0])
	lag.Draw(canvases[1][0])
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func opsPlot(r Result, end float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "drill " + r.Config.Drill + " (seed " + strconv.FormatInt(r.Config.Seed, 10) + "): " + r.Verdict()
	p.X.Label.Text = "seconds"
	p.Y.Label.Text = "ops/s"
	okXY, errXY := make(plotter.XYs, len(r.Throughput)), make(plotter.XYs, len(r.Throughput))
	top := 1.0
	for i, b := range r.Throughput {
		x := float64(b.Second) + 0.5
		okXY[i] = plotter.XY{X: x, Y: float64(b.OK)}
		errXY[i] = plotter.XY{X: x, Y: float64(b.Errors)}
		top = max(top, float64(b.OK), float64(b.Errors))
	}
	err := drawSeries(p, r, end, top, false, series{"ok", okXY, colorOK}, series{"errors", errXY, colorErr})
	return p, err
}

func lagPlot(r Result, end float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "replication lag of probe keys (missed probes at the top)"
	p.X.Label.Text = "seconds (probe written)"
	p.Y.Label.Text = "lag, ms"
	top := 10.0
	var seen, missed plotter.XYs
	for _, s := range r.Lag {
		ms := float64(s.Lag) / float64(time.Millisecond)
		if s.Seen {
			seen = append(seen, plotter.XY{X: s.At.Seconds(), Y: ms})
			top = max(top, ms)
		}
	}
	for _, s := range r.Lag {
		if !s.Seen {
			missed = append(missed, plotter.XY{X: s.At.Seconds(), Y: top})
		}
	}
	err := drawSeries(p, r, end, top, true, series{"seen", seen, colorLag}, series{"not seen", missed, colorMissed})
	return p, err
}

// series is one named, coloured set of points of a chart.
type series struct {
	name string
	xy   plotter.XYs
	c    color.Color
}

// drawSeries shades the faults of r, then draws each non-empty series as a
// line (or as points, with scatter) with its legend entry, on axes from 0
// to end seconds and from 0 to a little above top.
func drawSeries(p *plot.Plot, r Result, end, top float64, scatter bool, ss ...series) error {
	if err := shadeFaults(p, r, top*1.05); err != nil {
		return err
	}
	for _, s := range ss {
		if len(s.xy) == 0 {
			continue
		}
		if scatter {
			sc, err := plotter.NewScatter(s.xy)
			if err != nil {
				return err
			}
			sc.Color = s.c
			p.Add(sc)
			p.Legend.Add(s.name, sc)
			continue
		}
		l, err := plotter.NewLine(s.xy)
		if err != nil {
			return err
		}
		l.Color, l.Width = s.c, vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(s.name, l)
	}
	p.Legend.Top = true
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, end, 0, top*1.05
	return nil
}

// shadeFaults shades the time of every injected fault up to top.
func shadeFaults(p *plot.Plot, r Result, top float64) error {
	for _, ev := range r.Events {
		if ev.Skipped != "" {
			continue
		}
		x0, x1 := ev.Injected.Seconds(), max(ev.Healed.Seconds(), ev.Injected.Seconds()+0.05)
		poly, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: 0}, {X: x1, Y: 0}, {X: x1, Y: top}, {X: x0, Y: top}})
		if err != nil {
			return err
		}
		poly.Color = colorFault
		poly.Width = 0
		p.Add(poly)
	}
	return nil
}
