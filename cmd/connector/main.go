// Command connector is the omnichannel connector gateway.
package main

import (
	"os"

	"github.com/connector-gateway/connector/cmd/connector/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
