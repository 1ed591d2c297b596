//go:build !unix

package sqlite

import "os"

// unlinked reports whether f's file has been deleted. Elsewhere than on
// Unix an open file cannot be deleted, so it never is.
func unlinked(*os.File) bool { return false }
