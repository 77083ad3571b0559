#!/usr/bin/env bash
# The README's main job: set up, deploy the example FastAPI app on the simulated backend,
# verify it as a user would, call it over the verified TLS channel, and stop it.
#
# The simulated backend runs the real flow (package, spawn, evidence, verify, seal, provision,
# serve over RA-TLS) without a TEE; its evidence is refused by every default policy, which is
# why each step below says --allow-simulated-insecure out loud.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
venv="${VEIL_VENV:-.venv}"
case "$venv" in /*) ;; *) venv="$PWD/$venv" ;; esac  # VEIL_VENV may be absolute
export PATH="$venv/bin:$PATH"
app=examples/hello-fastapi
name=hello-demo
# Everything the run creates lives in one temporary directory, removed on exit: the operator
# state (VEIL_HOME: the node, its package and code key, the simulated platform) and the files
# below. So the demo runs again right after itself, and two runs at once (two users, or one
# user twice) never share a node, a name or a port (deploy picks a free one).
work=$(mktemp -d "${TMPDIR:-/tmp}/veil-demo.XXXXXX")
export VEIL_HOME="$work/veil-home"
cleanup() {
  veil stop "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo
echo "== 1. the owner deploys $app (package, spawn, evidence, verify, seal, provision)"
veil deploy "$app" --name "$name" --allow-simulated-insecure --json >"$work/deploy.json"
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$work/deploy.json")
fingerprint=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["fingerprint"])' "$work/deploy.json")
echo "deployed $url"

echo
echo "== 2. anyone recomputes the app fingerprint from the plaintext source (no key, no Docker)"
veil fingerprint "$app"

echo
echo "== 3. a user verifies the running enclave against that fingerprint and saves its certificate"
veil verify "$url" --fingerprint "$fingerprint" --allow-simulated-insecure -o "$work/cert.pem"

echo
echo "== 4. the user calls the app over the verified TLS channel"
curl --silent --show-error --fail --cacert "$work/cert.pem" "$url/hello?name=veil"
echo

echo
echo "== 5. a user who does not opt in to simulated evidence is refused"
if veil verify "$url" --fingerprint "$fingerprint" 2>"$work/refused.txt"; then
  echo "ERROR: simulated evidence was accepted without --allow-simulated-insecure" >&2
  exit 1
fi
tail -n 2 "$work/refused.txt"

echo
echo "== done: the app was deployed, verified end to end and called; stopping $name"
