//go:build !linux

package cli

import "os/exec"

// dieWithParent is Linux-only: elsewhere a child outlives a parent that dies abruptly.
func dieWithParent(*exec.Cmd) {}
