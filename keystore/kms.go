package keystore

import (
	"fmt"
	"net/url"
	"strings"

	vault "github.com/hashicorp/vault/api"
	"github.com/kyso-dev/kyso/signing"
	"github.com/tink-crypto/tink-go-hcvault/v2/integration/hcvault"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// KMSConfig locates a master key in a key management service by its Tink key URI.
type KMSConfig struct {
	// URI is the Tink key URI. Supported: hcvault://HOST[:PORT]/MOUNT/keys/NAME (HashiCorp
	// Vault or OpenBao transit). gcp-kms:// and aws-kms:// are not built into this binary.
	URI string
	// VaultAddress is the Vault API address. Default: https:// and the URI's host.
	VaultAddress string
	// VaultToken authenticates to Vault.
	VaultToken signing.Secret
}

type kmsMaster struct {
	tink.AEAD
	uri string
}

func (m *kmsMaster) Describe() string { return "KMS key " + m.uri }
func (m *kmsMaster) Close() error     { return nil }

// OpenKMSMaster returns the master AEAD of a KMS key through Tink's registry.KMSClient for
// the URI's scheme. Encryption and decryption happen in the KMS; the key never leaves it.
func OpenKMSMaster(cfg KMSConfig) (Master, error) {
	u, err := url.Parse(cfg.URI)
	if err != nil {
		return nil, fmt.Errorf("kms: bad key URI: %w", err)
	}
	switch u.Scheme {
	case "hcvault":
		addr := cfg.VaultAddress
		if addr == "" {
			addr = "https://" + u.Host
		}
		conf := vault.DefaultConfig()
		conf.Address = addr
		client, err := vault.NewClient(conf)
		if err != nil {
			return nil, fmt.Errorf("kms: vault client: %w", err)
		}
		if cfg.VaultToken == "" {
			return nil, fmt.Errorf("kms: no Vault token (give --vault-token-file or VAULT_TOKEN)")
		}
		client.SetToken(cfg.VaultToken.Reveal())
		kms, err := hcvault.NewClientWithAEADOptions("hcvault://"+u.Host, client.Logical())
		if err != nil {
			return nil, fmt.Errorf("kms: %w", err)
		}
		a, err := kms.GetAEAD(cfg.URI)
		if err != nil {
			return nil, fmt.Errorf("kms: %w", err)
		}
		return &kmsMaster{AEAD: a, uri: cfg.URI}, nil
	case "gcp-kms", "aws-kms":
		return nil, fmt.Errorf("kms: %s:// keys are not built into this binary (Tink's integration module for it is not linked); use hcvault:// or pkcs11", u.Scheme)
	}
	return nil, fmt.Errorf("kms: unsupported key URI scheme %q", strings.TrimSuffix(u.Scheme, ":"))
}
