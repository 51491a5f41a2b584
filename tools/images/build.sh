#!/usr/bin/env bash
# The infrastructure images, built on this machine from Debian bookworm packages (no image registry is reachable):
# mmdebstrap makes a root file system of the essential set plus the image's packages, `docker import` turns it into an image.
#
#   tools/images/build.sh [NAME...]    builds each image this machine lacks (default: all) and prints its tag
#   tools/images/build.sh --tag NAME   prints the tag only
#
# Each image is a folder here: image.conf (PACKAGES, RUN_AS, CUSTOMIZE: a mmdebstrap customize hook) and entrypoint.
# The tag, transformation/NAME:HASH, hashes this script and that folder, so a machine that has the tag skips the build.
# Needs a Docker engine that answers (tools/images/engine.sh), and root to build (mmdebstrap).
set -euo pipefail
cd "$(dirname "$0")"

SUITE=bookworm
MIRROR=http://deb.debian.org/debian
IMAGES=(postgres rabbitmq redis)

image_tag() {
  [ -f "$1/image.conf" ] || { echo "No image named '$1' (known: ${IMAGES[*]})" >&2; return 1; }
  echo "transformation/$1:$(sha256sum build.sh "$1"/* | sha256sum | cut -c1-12)"
}

build_image() {
  local name=$1 tag
  tag=$(image_tag "$name")
  if ! docker image inspect "$tag" >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || { echo "$tag is not built yet, and building it needs root (mmdebstrap)." >&2; return 1; }
    # One build at a time on a machine: test assemblies starting in parallel may each ask for the same image.
    exec 9>/run/lock/transformation-images.lock
    flock 9
    docker image inspect "$tag" >/dev/null 2>&1 || import_image "$name" "$tag"
    exec 9>&-
  fi
  echo "$tag"
}

import_image() {
  local name=$1 tag=$2
  local PACKAGES=() RUN_AS="" CUSTOMIZE=""
  # shellcheck source=/dev/null
  source "$name/image.conf"
  local hooks=()
  [ -n "$CUSTOMIZE" ] && hooks+=(--customize-hook="$CUSTOMIZE")
  echo "Building $tag from Debian $SUITE: ${PACKAGES[*]}" >&2
  local started=$SECONDS id
  # Imported untagged and tagged only once the whole file system arrived: a failed build leaves no tag to be trusted later.
  # mmdebstrap signals its whole process group when it fails: setsid gives it a group of its own, away from the caller's.
  id=$(setsid --wait mmdebstrap --quiet --variant=essential --include="${PACKAGES[*]}" \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
      "${hooks[@]}" \
      --customize-hook="upload $name/entrypoint /usr/local/bin/entrypoint" \
      --customize-hook='chmod 0755 "$1/usr/local/bin/entrypoint"' \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/apt/* "$1"/var/log/dpkg.log' \
      "$SUITE" - "$MIRROR" \
    | docker import --change "USER $RUN_AS" --change 'ENTRYPOINT ["/usr/local/bin/entrypoint"]' -)
  docker tag "$id" "$tag"
  echo "Built $tag in $((SECONDS - started)) s" >&2
}

if [ "${1:-}" = "--tag" ]; then
  image_tag "${2:?--tag needs an image name}"
  exit
fi
docker info >/dev/null 2>&1 || { echo "No Docker engine answers (tools/images/engine.sh installs and starts one, as root)." >&2; exit 1; }
for name in "${@:-${IMAGES[@]}}"; do
  build_image "$name"
done
