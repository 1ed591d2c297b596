package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
)

// newLogger is sessiond's one log stream: text for a person at a
// terminal, JSON lines for everything else (journald, files, collectors),
// or as --log-format says.
func newLogger(format string, w io.Writer) (*slog.Logger, error) {
	if format == "auto" {
		format = "json"
		if isTerminal(w) {
			format = "text"
		}
	}
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("%w: --log-format %q: want auto, text or json", errUsage, format)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
