#!/bin/sh
# Vendors uPlot (https://github.com/leeoniya/uPlot, MIT) into the dashboard's assets:
# its minified script, its stylesheet and its licence, from the npm registry. The
# build never runs npm: the files are committed and built into the binary
# (crates/fleet-serve/src/dashboard.rs, include_str!). Rerun to update:
#
#   scripts/vendor-uplot.sh [VERSION]     # default: the version pinned below
#
# Needs npm (only for `npm pack`, which downloads the package tarball) and tar.
set -eu

VERSION="${1:-1.6.32}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/crates/fleet-serve/assets/vendor/uplot"
WORK="$(mktemp -d "$ROOT/target/vendor-uplot.XXXXXX" 2>/dev/null || { mkdir -p "$ROOT/target" && mktemp -d "$ROOT/target/vendor-uplot.XXXXXX"; })"
trap 'rm -rf "$WORK"' EXIT

cd "$WORK"
npm pack --silent "uplot@$VERSION" >/dev/null
tar -xzf "uplot-$VERSION.tgz"
mkdir -p "$DEST"
cp package/dist/uPlot.iife.min.js "$DEST/uPlot.iife.min.js"
cp package/dist/uPlot.min.css "$DEST/uPlot.min.css"
cp package/LICENSE "$DEST/LICENSE"
printf 'uPlot %s from the npm registry (package uplot), vendored by scripts/vendor-uplot.sh\n' \
    "$VERSION" >"$DEST/VERSION"
( cd "$DEST" && sha256sum uPlot.iife.min.js uPlot.min.css LICENSE >SHA256SUMS )
echo "vendored uPlot $VERSION into ${DEST#"$ROOT"/}"
