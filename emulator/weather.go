package emulator

import (
	"math"
	"net/http"
	"time"
)

// unitValue is a measurement as Weather answers it; the unit types are
// the service's numbers (17 °C, 18 °F, 7 km/h, 9 mi/h, 6 km, 2 mi,
// 14 mb, 12 inHg).
type unitValue struct {
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	UnitType int     `json:"unitType"`
}

// currentConditions answers Get Current Conditions 1.1 with the same
// canned weather everywhere, a cloudy day, stamped in the local time of
// the longitude's canned time zone.
func (s *Server) currentConditions(w http.ResponseWriter, r *http.Request, _ caller) {
	q, lon, ok := byCoordinates(w, r, "Weather", "1.1")
	if !ok {
		return
	}
	imperial := false
	switch q.Get("unit") {
	case "", "metric":
	case "imperial":
		imperial = true
	default:
		badRequest(w, "unit %q is not one of metric and imperial.", q.Get("unit"))
		return
	}
	details := true
	switch q.Get("details") {
	case "", "true":
	case "false":
		details = false
	default:
		badRequest(w, "details must be true or false.")
		return
	}
	switch q.Get("duration") {
	case "", "0", "6", "24":
	default:
		badRequest(w, "duration must be 0, 6 or 24.")
		return
	}
	local := time.Now().In(zoneFor(lon).location()).Truncate(time.Minute)
	temp := func(c float64) unitValue {
		if imperial {
			return unitValue{math.Round((c*9/5+32)*10) / 10, "F", 18}
		}
		return unitValue{c, "C", 17}
	}
	speed := func(kmh float64) unitValue {
		if imperial {
			return unitValue{math.Round(kmh/1.609344*10) / 10, "mi/h", 9}
		}
		return unitValue{kmh, "km/h", 7}
	}
	result := map[string]any{
		"dateTime":         local.Format("2006-01-02T15:04:05-07:00"),
		"phrase":           "Cloudy",
		"iconCode":         7,
		"hasPrecipitation": false,
		"isDayTime":        local.Hour() >= 7 && local.Hour() < 17,
		"temperature":      temp(12),
	}
	if details {
		visibility, pressure := unitValue{16, "km", 6}, unitValue{1015, "mb", 14}
		if imperial {
			visibility, pressure = unitValue{9.9, "mi", 2}, unitValue{29.97, "inHg", 12}
		}
		result["realFeelTemperature"] = temp(11)
		result["realFeelTemperatureShade"] = temp(11)
		result["relativeHumidity"] = 75
		result["dewPoint"] = temp(7.7)
		result["wind"] = map[string]any{
			"direction": map[string]any{"degrees": 315, "localizedDescription": "NW"},
			"speed":     speed(9.3),
		}
		result["windGust"] = map[string]any{"speed": speed(14.8)}
		result["uvIndex"] = 1
		result["uvIndexPhrase"] = "Low"
		result["visibility"] = visibility
		result["obstructionsToVisibility"] = ""
		result["cloudCover"] = 95
		result["pressure"] = pressure
		result["pressureTendency"] = map[string]string{"localizedDescription": "Steady", "code": "S"}
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": []any{result}})
}
