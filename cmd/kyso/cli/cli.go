// Package cli implements the kyso command line: serve, admin and device. Run returns the
// process exit code, so tests drive the real commands in-process.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kyso-dev/kyso/apiclient"
)

const usage = `kyso — remote signing without a USB token

Usage:
  kyso serve  --data DIR [--addr HOST:PORT] [--public-url URL]
  kyso admin  --server URL --token-file FILE <resource> <verb> [flags]
  kyso device <enroll|pending|approve|decline|run> --state FILE [flags]
  kyso audit verify --server URL --token-file FILE
  kyso kek    --server URL --token-file FILE <status|rotate|rewrap|disable KEY_ID>
  kyso bench  [--hold] [flags]   load test on loopback against the machine's own limit
  kyso help

Run "kyso <command> -h" for a command's flags.
`

// Run runs the kyso command with args (without the program name) and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = runServe(ctx, args[1:], stderr)
	case "admin":
		err = runAdmin(ctx, args[1:], stdout, stderr)
	case "device":
		err = runDevice(ctx, args[1:], stdout, stderr)
	case "audit":
		err = runAudit(ctx, args[1:], stdout, stderr)
	case "kek":
		err = runKEK(ctx, args[1:], stdout, stderr)
	case "bench":
		err = runBench(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "kyso: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "kyso: %v\n", err)
		return 2
	default:
		// An error from the server's API already says where it comes from ("kyso: 404 …").
		fmt.Fprintf(stderr, "kyso: %s\n", strings.TrimPrefix(err.Error(), "kyso: "))
		return 1
	}
}

// usageError is a mistake in the command line itself (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args, allowing flags after positional arguments, and returns the positionals.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// flagsOnly parses args for a command that takes flags and nothing else.
func flagsOnly(fs *flag.FlagSet, args []string) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	return noMoreThan(fs.Name(), pos, 0)
}

// noMoreThan fails when cmd was given more than n positional arguments.
func noMoreThan(cmd string, pos []string, n int) error {
	if len(pos) > n {
		return usagef("%s: unexpected argument %q (see --help)", cmd, pos[n])
	}
	return nil
}

// atLeast fails when one of the named integer flags is below least.
func atLeast(fs *flag.FlagSet, least int, names ...string) error {
	for _, n := range names {
		v := fs.Lookup(n).Value.(flag.Getter).Get().(int)
		switch {
		case v < 0 && least == 0:
			return usagef("%s: --%s must not be negative, not %d", fs.Name(), n, v)
		case v < least:
			return usagef("%s: --%s must be at least %d, not %d", fs.Name(), n, least, v)
		}
	}
	return nil
}

// notNegative fails when one of the named duration flags is negative.
func notNegative(fs *flag.FlagSet, names ...string) error {
	for _, n := range names {
		if v := fs.Lookup(n).Value.(flag.Getter).Get().(time.Duration); v < 0 {
			return usagef("%s: --%s must not be negative, not %v", fs.Name(), n, v)
		}
	}
	return nil
}

func required(fs *flag.FlagSet, names ...string) error {
	for _, n := range names {
		if f := fs.Lookup(n); f == nil || strings.TrimSpace(f.Value.String()) == "" {
			return usagef("%s: --%s is required", fs.Name(), n)
		}
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// operatorClient returns a client of server authenticated with the token in tokenFile.
func operatorClient(server, tokenFile string) (*apiclient.Client, error) {
	token, err := readSecret(tokenFile, "", "--token-file")
	if err != nil {
		return nil, err
	}
	return apiclient.New(server, token), nil
}
