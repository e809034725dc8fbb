//go:build race

package geofence

// raceDetector says the tests run under the race detector, which makes
// reading 100 MB take minutes; .ci/run also runs this package without it.
const raceDetector = true
