// Command sessiond is the sessiond gateway: secure sessions for any
// backend. See `sessiond -h`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sessiond/sessiond/gateway/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
