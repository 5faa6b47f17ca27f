//go:build tools

// Package tools pins kwok, which plays the kubelet in the local control plane: it makes pods on
// fake nodes Running and Ready, so no container runtime is needed.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
