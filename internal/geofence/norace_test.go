//go:build !race

package geofence

const raceDetector = false
