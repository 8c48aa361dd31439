//go:build tools

// Package tools names the program this module builds, so that `go mod tidy`
// keeps what it needs: `go build github.com/apache/beam/sdks/v2/python/container`.
package tools

import _ "github.com/apache/beam/sdks/v2/python/container"
