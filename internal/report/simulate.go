package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"
)

// Simulate writes readings of a device that drives west to east along
// 47.6398° N, through the demo's 500 m circle and campus polygon, and back,
// reporting temperature and humidity, rate readings a second. count 0
// means without end.
func Simulate(ctx context.Context, w io.Writer, deviceID string, rate float64, count int) error {
	if math.IsNaN(rate) || rate <= 0 || math.IsInf(rate, 0) {
		return fmt.Errorf("rate %g: must be a positive number of readings a second", rate)
	}
	interval := time.Duration(float64(time.Second) / rate)
	if interval <= 0 {
		return fmt.Errorf("rate %g: must be at most %d readings a second", rate, int(time.Second))
	}
	if count < 0 {
		return fmt.Errorf("count %d: must not be negative", count)
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	const west, east, lat = -122.15, -122.10, 47.6398
	for i := 0; count == 0 || i < count; i++ {
		// 200 steps from west to east, then back.
		phase := float64(i%400) / 200
		if phase > 1 {
			phase = 2 - phase
		}
		line, _ := json.Marshal(map[string]any{
			"time":        time.Now().UTC().Format(time.RFC3339Nano),
			"lat":         lat,
			"lon":         west + (east-west)*phase,
			"deviceId":    deviceID,
			"temperature": math.Round((18+4*math.Sin(float64(i)/50))*10) / 10,
			"humidity":    math.Round((45+10*math.Cos(float64(i)/70))*10) / 10,
			"seq":         i,
		})
		if _, err := w.Write(append(line, '\n')); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
	return nil
}
