//go:build unix

package sqlite

import (
	"os"
	"syscall"
)

// unlinked reports whether f's file has been deleted (no name left).
func unlinked(f *os.File) bool {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return true
	}
	return st.Nlink == 0
}
