package cli

import (
	"context"
	"errors"
	"io"
)

// runServe and runCheckConfig are completed with gateway/config.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not yet available")
}

func runCheckConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not yet available")
}
