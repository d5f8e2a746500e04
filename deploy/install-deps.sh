#!/usr/bin/env bash
# install-deps.sh — installs, with apt-get, the Debian 12 packages pregon builds and runs with.
# Idempotent: installs only what is missing; runs `apt-get update` only when it must install.
set -euo pipefail
PKGS=(build-essential cmake pkg-config clang-format
      libzmq3-dev libprotobuf-c-dev protobuf-c-compiler libcurl4-openssl-dev libhiredis-dev
      libjansson-dev libyaml-dev libmicrohttpd-dev libssl-dev libcmocka-dev libcsv-dev
      redis-server redis-tools tzdata curl ca-certificates jq python3
      python3-zmq python3-protobuf python3-yaml protobuf-compiler prometheus)
# operations: pregonctl top (ncurses), its test in a tmux pane
PKGS+=(libncurses-dev tmux)
# pregon-audit: its SQLite index
PKGS+=(libsqlite3-dev)
# email: GMime 3 (MIME), libopendkim (DKIM signing); the SMTP sink and its DKIM check in tests.
PKGS+=(libgmime-3.0-dev libopendkim-dev python3-aiosmtpd python3-dkim openssl)
# tests/fuzz (deploy/test.sh runs it where clang-14 is installed): clang-14 alone lacks libFuzzer's
# runtime, which libclang-rt-14-dev holds (only a Recommends of clang-14).
if command -v clang-14 >/dev/null; then PKGS+=(libclang-rt-14-dev); fi
# pregon-api's OpenAPI conformance test (tests/integration/api) and the Python client's install
PKGS+=(python3-jsonschema python3-pip python3-setuptools)
# pregon-sandbox's Twilio Calls reads TwiML with libxml2; pregon-hooks writes it with it.
PKGS+=(libxml2-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1; }
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# A distribution-started redis-server is not ours: tests and the demo start their own.
