#!/usr/bin/env bash
# Brings up the whole network on one machine on embedded defaults — a node (RocksDB, one
# validator, a funded faucet), a coordinator (SQLite) and a provider serving the built-in
# development model — and runs one paid AI job through it end to end: the client is funded by the
# faucet, submits a signed job, locks the escrow on chain; the provider checks the escrow, runs the
# job, signs a receipt and settles for the metered tokens; the rest goes back to the client.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== building (Release)" >&2
dotnet build -c Release -v q --nologo src/Aitbc.Cli >/dev/null
exec dotnet src/Aitbc.Cli/bin/Release/net10.0/aitbc.dll devnet demo "$@"
