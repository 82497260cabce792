#!/usr/bin/env bash
# Installs every Debian package zsession needs to build, test, benchmark and plot.
# Idempotent and non-interactive: does nothing when everything is already installed.
set -euo pipefail

packages=(
  meson ninja-build pkg-config g++ clang-format cmake clang libclang-rt-14-dev
  libzmq3-dev cppzmq-dev libmsgpack-cxx-dev liblz4-dev libssl-dev doctest-dev
  nlohmann-json3-dev rapidjson-dev libsimdjson-dev
  python3-zmq python3-jupyter-client python3-jupyter-kernel-test python3-numpy
  python3-msgpack python3-matplotlib python3-lz4
  python3-ipyparallel
  libzstd-dev libblosc-dev libdlpack-dev libeigen3-dev libxtensor-dev python3-pandas  # issue 14
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
