package report

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"time"
)

// Simulate writes readings of a device that drives west to east along
// 47.6398° N, through the demo's 500 m circle and campus polygon, and back,
// reporting temperature and humidity. count 0 means without end.
func Simulate(ctx context.Context, w io.Writer, deviceID string, rate float64, count int) error {
	if rate <= 0 {
		rate = 10
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
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
