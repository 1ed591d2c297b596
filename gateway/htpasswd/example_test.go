package htpasswd_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/sessiond/sessiond/gateway/htpasswd"
)

func Example() {
	dir, _ := os.MkdirTemp("", "htpasswd-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "users.htpasswd")

	// What `sessiond passwd` does (cost 0 means bcrypt's default).
	if err := htpasswd.Add(path, "alice", "alice-demo", 0); err != nil {
		fmt.Println(err)
		return
	}

	users, err := htpasswd.Open(htpasswd.Config{Path: path})
	if err != nil {
		fmt.Println(err)
		return
	}
	ok, legacy := users.Verify("alice", "alice-demo")
	fmt.Println(ok, legacy)
	ok, _ = users.Verify("mallory", "alice-demo")
	fmt.Println(ok)
	// Output:
	// true false
	// false
}

func ExampleFile_Upgrade() {
	dir, _ := os.MkdirTemp("", "htpasswd-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "users.htpasswd")
	// An old file made with `htpasswd -m` (Apache MD5).
	os.WriteFile(path, []byte("bob:$apr1$9RJIaeD9$pwPreZwaLseafmKYwe7eX/\n"), 0o600)

	users, _ := htpasswd.Open(htpasswd.Config{Path: path})
	if ok, legacy := users.Verify("bob", "pw"); ok && legacy {
		if err := users.Upgrade("bob", "pw"); err != nil {
			fmt.Println("not upgraded:", err) // the login still succeeds
		}
	}
	ok, legacy := users.Verify("bob", "pw")
	fmt.Println(ok, legacy, len(users.Warnings()))
	// Output: true false 0
}
