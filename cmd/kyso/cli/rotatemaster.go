package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/kyso-dev/kyso/cmd/kyso/app"
	"github.com/kyso-dev/kyso/keystore"
	boltstore "github.com/kyso-dev/kyso/store/bbolt"
)

const rotateMasterUsage = `kyso kek rotate-master --data DIR [current master flags] [--to local|pkcs11] [--new-pkcs11-key LABEL]

Re-encrypts the KEK keyset under a new master key. Run it with the server stopped.
  local  -> local   a new key in DIR/master.json replaces the old one
  pkcs11 -> pkcs11  a new AES-256 key (--new-pkcs11-key) in the same token; restart the
                    server with --pkcs11-key NEW, then delete the old key from the token
  local  -> pkcs11  moves the deployment onto the HSM; DIR/master.json is deleted
The current master is given as to kyso serve (--master, --pkcs11-module, --pkcs11-token,
--pkcs11-pin-file, --pkcs11-key).
`

func runRotateMaster(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("kek rotate-master", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, rotateMasterUsage) }
	data := fs.String("data", "", "data directory")
	mf := addMasterFlags(fs)
	to := fs.String("to", "", "the new master's kind: local or pkcs11 (default: the current kind)")
	newKey := fs.String("new-pkcs11-key", "", "label of the new master key in the token (pkcs11)")
	if err := flagsOnly(fs, args); err != nil {
		return err
	}
	if err := required(fs, "data"); err != nil {
		return err
	}
	if *to == "" {
		*to = *mf.master
	}
	// The store's lock tells whether a server still runs on this directory.
	st, err := boltstore.Open(filepath.Join(*data, app.StoreFile), boltstore.Options{Timeout: 500 * time.Millisecond})
	if errors.Is(err, boltstore.ErrLocked) {
		return errors.New("kek rotate-master: the store is in use; stop the server first")
	}
	if err != nil {
		return err
	}
	defer st.Close()
	kekPath, masterPath := filepath.Join(*data, app.KEKFile), filepath.Join(*data, app.MasterFile)
	var desc string
	switch *mf.master + "->" + *to {
	case "local->local":
		if err := keystore.RotateLocalMaster(masterPath, kekPath); err != nil {
			return err
		}
		desc = "local keyset file " + masterPath + " (new key)"
	case "pkcs11->pkcs11", "local->pkcs11":
		label := *newKey
		if label == "" && *mf.master == "local" {
			label = *mf.key
		}
		if label == "" || (*mf.master == "pkcs11" && label == *mf.key) {
			return usagef("kek rotate-master: give --new-pkcs11-key with a label other than the current key's")
		}
		var from keystore.Master
		if *mf.master == "local" {
			if from, _, err = keystore.OpenLocalMaster(masterPath); err != nil {
				return err
			}
		} else {
			cfg, err := mf.pkcs11(*mf.key)
			if err != nil {
				return err
			}
			if from, _, err = keystore.OpenPKCS11Master(cfg); err != nil {
				return err
			}
		}
		defer from.Close()
		cfg, err := mf.pkcs11(label)
		if err != nil {
			return err
		}
		cfg.CreateIfMissing = true
		target, _, err := keystore.OpenPKCS11Master(cfg)
		if err != nil {
			return err
		}
		defer target.Close()
		if err := keystore.ReencryptKEK(kekPath, from, target); err != nil {
			return err
		}
		if *mf.master == "local" {
			if err := os.Remove(masterPath); err != nil {
				return fmt.Errorf("the KEK is now under the HSM, but removing %s failed: %w; delete it", masterPath, err)
			}
		}
		desc = target.Describe()
	default:
		return usagef("kek rotate-master: from %s to %s is not supported (keys never leave an HSM)", *mf.master, *to)
	}
	return printJSON(stdout, map[string]string{"master": desc, "kekKeyset": kekPath})
}
