//go:build tools

// Package tools pins the modules whose CRD manifests the router e2e tests install: Gateway API
// (HTTPRoute) and Istio (VirtualService). Nothing is built from them; build.sh copies the YAML.
package tools

import (
	_ "istio.io/api/networking/v1"
	_ "sigs.k8s.io/gateway-api/apis/v1"
)
