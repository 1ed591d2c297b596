// Package browsertest holds end-to-end tests that drive a real browser
// (headless Chromium through chromedp) against session.Manager. It has no
// code of its own: everything is in _test.go files, so nothing here is ever
// linked into a program, and package session stays standard-library only.
//
// The tests need /usr/bin/chromium (Debian's "chromium" package). Without
// it they skip on a developer's machine and fail under CI=true
// (internal/testenv).
package browsertest
