package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

const kekUsage = `kyso kek --server URL --token-file FILE <command>

  status          the KEK keys and how many wrapped blobs each holds (JSON)
  rotate          add a new primary KEK key; new wraps use it at once
  rewrap [--wait] re-wrap every blob under the primary key, in the background; --wait
                  follows it to the end (it resumes where it stopped if run again)
  disable KEY_ID  disable a KEK key that no blob uses any more

All talk to the running server through the operator API (admin role).

kyso kek rotate-master --data DIR ...   re-encrypt the KEK keyset under a new master key
                                        (server stopped; see kyso kek rotate-master -h)
`

func runKEK(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "rotate-master" {
		return runRotateMaster(args[1:], stdout, stderr)
	}
	fs := newFlags("kek", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, kekUsage) }
	server := fs.String("server", "http://127.0.0.1:8080", "Kyso server URL")
	tokenFile := fs.String("token-file", "", "file holding an admin operator token")
	wait := fs.Bool("wait", false, "rewrap: wait until it finishes")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := required(fs, "token-file"); err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return usagef("kek: give a command")
	}
	takes := 1 // the command; disable also takes the key id
	if pos[0] == "disable" {
		takes = 2
	}
	if err := noMoreThan("kek "+pos[0], pos, takes); err != nil {
		return err
	}
	c, err := operatorClient(*server, *tokenFile)
	if err != nil {
		return err
	}
	var out map[string]any
	switch pos[0] {
	case "status":
		err = c.Do(ctx, http.MethodGet, "/admin/v1/kek", nil, &out, nil)
	case "rotate":
		err = c.Do(ctx, http.MethodPost, "/admin/v1/kek/rotate", nil, &out, nil)
	case "disable":
		if len(pos) < 2 {
			return usagef("kek disable: give the KEK key id")
		}
		err = c.Do(ctx, http.MethodPost, "/admin/v1/kek/keys/"+pos[1]+"/disable", nil, &out, nil)
	case "rewrap":
		if err = c.Do(ctx, http.MethodPost, "/admin/v1/kek/rewrap", nil, &out, nil); err != nil || !*wait {
			break
		}
		for {
			if err = c.Do(ctx, http.MethodGet, "/admin/v1/kek", nil, &out, nil); err != nil {
				break
			}
			rw, _ := out["rewrap"].(map[string]any)
			if running, _ := rw["running"].(bool); !running {
				if msg, _ := rw["error"].(string); msg != "" {
					err = fmt.Errorf("rewrap stopped: %s (run it again to resume)", msg)
				}
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	default:
		fs.Usage()
		return usagef("kek: unknown command %q", pos[0])
	}
	if err != nil {
		return err
	}
	return printJSON(stdout, out)
}
