#!/usr/bin/env bash
# Installs the build into a temporary DESTDIR and builds tests/packaging/cmake_consumer, an
# outside CMake project, against it with find_package(zsession) alone; runs what it built.
# Also checks the version file: a compatible request (0.MINOR, a range) configures, requests
# from another series (0.MINOR+1, 1.0) or a newer patch fail.
set -euo pipefail
build_root=$1
source_root=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest=$work/dest
DESTDIR="$dest" meson install -C "$build_root" --no-rebuild --quiet
config=$(find "$dest" -name zsessionConfig.cmake | head -n 1)
[ -n "$config" ] || { echo "zsessionConfig.cmake was not installed"; exit 1; }
[ -f "$(dirname "$config")/zsessionConfigVersion.cmake" ] || { echo "no version file"; exit 1; }
prefix=$(meson introspect "$build_root" --buildoptions |
  /usr/bin/python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
version=$(meson introspect "$build_root" --projectinfo |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
IFS=. read -r major minor patch <<<"$version"
echo "zsession $version installed under $dest$prefix"

configure() {  # configure DIR REQUEST: runs cmake on the consumer, output in DIR.log
  cmake -S "$source_root/tests/packaging/cmake_consumer" -B "$work/$1" -G Ninja \
    -DCMAKE_PREFIX_PATH="$dest$prefix" -DZSESSION_REQUEST="$2" >"$work/$1.log" 2>&1
}

configure build "$major.$minor" || { cat "$work/build.log"; exit 1; }
grep -q "found zsession $version" "$work/build.log"
cmake --build "$work/build" >"$work/build-out.log" 2>&1 || { cat "$work/build-out.log"; exit 1; }
lib=$(dirname "$(find "$dest" -name 'libzsession.so' | head -n 1)")
LD_LIBRARY_PATH="$lib" "$work/build/consumer"
LD_LIBRARY_PATH="$lib" "$work/build/std23"
# Each target got the standard it asked for: C++20 from zsession::zsession, C++23 kept.
grep -q -- '-std=gnu++20' "$work/build/build.ninja"
grep -q -- '-std=gnu++23' "$work/build/build.ninja"

ok_requests=("$major.$minor" "$major.$minor.0" "$version" "$major.$minor...$((minor + 1))")
if [ "$major" = 0 ]; then
  bad_requests=("0.$((minor + 1))" "1.0" "$major.$minor.$((patch + 1))")
else
  bad_requests=("$((major + 1)).0" "$major.$((minor + 1))")
fi
for r in "${ok_requests[@]}"; do
  configure "ok-$r" "$r" || { cat "$work/ok-$r.log"; echo "request $r refused"; exit 1; }
done
for r in "${bad_requests[@]}"; do
  if configure "bad-$r" "$r"; then
    echo "request $r accepted by zsession $version"
    exit 1
  fi
  grep -q "compatible with requested version" "$work/bad-$r.log" ||
    { cat "$work/bad-$r.log"; echo "request $r failed for another reason"; exit 1; }
done
echo "cmake consumer ok; accepted ${ok_requests[*]}; refused ${bad_requests[*]}"
