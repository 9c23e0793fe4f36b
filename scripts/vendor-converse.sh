#!/bin/sh
# Reproduces connectors/xmpp/converse/static from the Converse.js release
# pinned in connectors/xmpp/converse/package-lock.json, so the Go build
# embeds the files and needs no network. Run it after changing the pin.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
dir="$here/connectors/xmpp/converse"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$dir/package.json" "$dir/package-lock.json" "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund)
dist="$work/node_modules/converse.js/dist"
out="$dir/static"
rm -rf "$out"
mkdir -p "$out"
cp "$dist/converse.min.js" "$dist/converse.min.css" "$dist/emoji.json" "$out/"
# The stylesheet loads its two fonts from webfonts/ next to it.
cp -r "$dist/webfonts" "$out/"
cp "$work/node_modules/converse.js/LICENSE" "$out/LICENSE.converse.txt"
du -sh "$out"
