// Command pulumi-resource-kubernetes serves Pulumi's Kubernetes provider, built by mlsite
// from the provider's Go module.
//
// The provider module ships its schema and Terraform mapping as schema.json and
// terraform-mapping.json but not the minified copies its own main embeds (those are
// generated in its repository). tools/go/build.py copies the two files from the module
// cache next to this file before `go build`; the version is stamped into the schema
// here, at start, from the version the linker sets.
package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema.json
var schemaJSON []byte

//go:embed terraform-mapping.json
var mappingJSON []byte

// compact re-encodes a JSON document without whitespace; with a version, the top-level
// "version" field is set to it (a package schema names the provider's version).
func compact(doc []byte, stampVersion string) ([]byte, error) {
	var value map[string]any
	if err := json.Unmarshal(doc, &value); err != nil {
		return nil, err
	}
	if stampVersion != "" {
		value["version"] = stampVersion
	}
	return json.Marshal(value)
}

func main() {
	schema, err := compact(schemaJSON, version.Version)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-kubernetes: embedded schema: %v\n", err)
		os.Exit(1)
	}
	mapping, err := compact(mappingJSON, "")
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-kubernetes: embedded mapping: %v\n", err)
		os.Exit(1)
	}
	provider.Serve("kubernetes", version.Version, schema, mapping)
}
