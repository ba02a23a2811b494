#!/usr/bin/env bash
# Brings up a one-machine devnet on embedded defaults (RocksDB in a temporary directory, a single
# validator, a funded faucet) and shows it at work: a faucet payment is signed, submitted, put in
# a block and committed; then the block, the balances and the verified replay are shown.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v curl >/dev/null || { echo "devnet-demo: curl is needed (apt-get install -y curl)" >&2; exit 1; }

echo "== building (Release)" >&2
dotnet build -c Release -v q --nologo src/Aitbc.Node.Host >/dev/null
node_dll=src/Aitbc.Node.Host/bin/Release/net10.0/aitbc-node.dll
data=$(mktemp -d /tmp/aitbc-devnet.XXXXXX)
port=${AITBC_DEMO_PORT:-8006}
rpc="http://127.0.0.1:$port"
dotnet "$node_dll" --data-dir "$data" --rpc-port "$port" >"$data/node.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  curl -fs "$rpc/health/ready" >/dev/null 2>&1 && break
  kill -0 $pid 2>/dev/null || { cat "$data/node.log" >&2; exit 1; }
  sleep 0.2
done
field() { sed -n "s/.*\"$1\":\"\\{0,1\\}\\([^\",]*\\).*/\\1/p"; }

echo "== node status" >&2
status=$(curl -fs "$rpc/v1/status"); echo "$status"
validator=$(echo "$status" | sed -n 's/.*"validators":\[{"address":"\([^"]*\)".*/\1/p')
echo "== the faucet pays 100 AIT to the validator: a signed transfer, waited for until its block commits" >&2
curl -fs -X POST "$rpc/v1/faucet?wait=commit" -H 'content-type: application/json' -d "{\"address\":\"$validator\"}"; echo
echo "== the block that holds it" >&2
curl -fs "$rpc/v1/blocks/latest"; echo
echo "== the validator's account (100 AIT plus the fee it earned as proposer)" >&2
curl -fs "$rpc/v1/accounts/$validator"; echo
echo "== a forged transaction is refused with a problem detail" >&2
curl -s -X POST "$rpc/v1/txs" -H 'content-type: application/json' \
  -d "{\"chainId\":\"ait-devnet\",\"type\":\"transfer\",\"from\":\"$validator\",\"nonce\":0,\"fee\":\"1000\",\"body\":{\"to\":\"$validator\",\"amount\":\"1\"},\"signature\":\"$(printf '0%.0s' $(seq 1 128))\"}"; echo
kill $pid; wait $pid 2>/dev/null || true
echo "== the stored chain, replayed from genesis and verified block by block" >&2
dotnet "$node_dll" --data-dir "$data" --verify
