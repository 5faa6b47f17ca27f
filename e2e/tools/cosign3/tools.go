//go:build tools

// cosign v3 makes the bundle-format signatures and attestations (OCI 1.1 referrers) that the
// verifier's tests and fixtures need; e2e/tools/signing keeps cosign v2 for the legacy .sig format.
package tools

import (
	_ "github.com/sigstore/cosign/v3/cmd/cosign"
)
