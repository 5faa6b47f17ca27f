//go:build tools

// Package tools pins the Kubernetes control-plane binaries that MC's e2e tests run.
// Only test tools are built from here; MC itself is C++.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
