//go:build tools

// Package tools pins etcd 3.5 for the local control plane. Debian's etcd 3.4 is older than
// kube-apiserver 1.33 accepts, and etcd's own go.mod has replace lines, hence this wrapper.
package tools

import _ "go.etcd.io/etcd/server/v3"
