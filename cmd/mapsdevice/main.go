// Command mapsdevice signs a device with no keyboard or browser in to
// Microsoft Entra ID and works with Azure Maps on its own.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/mapsdevice/mapsdevice/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.OSStdio())
	stop()
	os.Exit(code)
}
