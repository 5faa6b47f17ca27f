//go:build tools

// The signing tools of the e2e suite: cosign v2 signs images, crane pushes and moves them.
package tools

import (
	_ "github.com/google/go-containerregistry/cmd/crane"
	_ "github.com/sigstore/cosign/v2/cmd/cosign"
)
