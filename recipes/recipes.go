// Package recipes is lxcplan's built-in recipe library.
//
// FS holds one folder per recipe: <name>/recipe.yaml plus the files that
// recipe ships (referenced as file: {source: files/...}, relative to its
// folder). Parsing and validation live in engine/manifest; this package only
// carries the bytes so the binary is self-contained.
package recipes

import (
	"embed"
	"io/fs"
)

// The recipe folders are listed by name rather than matched with a pattern
// such as "*/files", which would stop the build as soon as no recipe ships a
// file. Naming a folder embeds everything in it (except names starting with
// "." or "_") and keeps this package's .go and README files out of FS.
// TestEveryFolderEmbedded fails when a new folder is not listed here.
//
//go:embed apache2 apt-cacher-ng bind9 caddy coturn dnsmasq haproxy icecast2
//go:embed lighttpd mariadb memcached minidlna mosquitto mumble-server netdata
//go:embed nginx postgresql prometheus prometheus-alertmanager
//go:embed prometheus-blackbox-exporter prometheus-node-exporter
//go:embed rabbitmq-server radicale redis squid syncthing tinyproxy
//go:embed transmission-daemon unbound
var embedded embed.FS

// FS is the built-in library: "<name>/recipe.yaml" for every recipe, and the
// files each recipe references, under its own folder.
var FS fs.FS = embedded
