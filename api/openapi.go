package api

import _ "embed"

// openAPISpec is embedded as a string so that it cannot be changed at run
// time; OpenAPISpec hands out copies.
//
//go:embed openapi.yaml
var openAPISpec string

// OpenAPISpec returns the OpenAPI 3.1 document (YAML) that describes the
// gateway's HTTP API: the signed portal API, the messenger entry URL, the
// health endpoints, and the batch webhook the gateway posts to portals.
// Each call returns a fresh copy.
func OpenAPISpec() []byte { return []byte(openAPISpec) }
