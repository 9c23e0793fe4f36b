package app

import "github.com/connector-gateway/connector/connectors/meta"

// metaOptions are the options the three Meta connectors share.
func metaOptions(cfg Config) meta.Options {
	return meta.Options{APIURL: cfg.Meta.APIURL, Version: cfg.Meta.GraphVersion}
}
