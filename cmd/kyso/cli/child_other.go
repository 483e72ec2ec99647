//go:build !linux

package cli

import "os/exec"

// dieWithParent is Linux-only: elsewhere a child outlives a parent that dies abruptly.
func dieWithParent(*exec.Cmd) {}

// execSelf is Linux-only: elsewhere kyso bench runs with the environment it was given.
func execSelf(string, []string, []string) error { return nil }
