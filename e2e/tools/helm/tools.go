//go:build tools

// Package tools pins helm, used by the tests to lint and render charts/mc (helm lint, helm template).
package tools

import _ "helm.sh/helm/v3/cmd/helm"
