#!/usr/bin/env bash
# The images, built on this machine with no image registry (none is reachable):
#  - postgres, rabbitmq, redis, and runtime (the services' base) from Debian bookworm packages: mmdebstrap makes a root file
#    system of the essential set plus the image's packages, `docker import` turns it into an image;
#  - directory, incentives, baselines, initiatives, endstate, notifications, portal: the deployables of k8s/, each published
#    framework-dependent (`dotnet publish -c Release`) and copied onto the runtime image by `docker build`.
#
#   tools/images/build.sh [NAME...]    builds each image this machine lacks and prints its tag; --debian names the Debian
#                                      images, --services the six deployables; no name: all of them
#   tools/images/build.sh --tag NAME   prints the tag only
#
# Each Debian image is a folder here: image.conf (PACKAGES, RUN_AS, ENVIRONMENT, CUSTOMIZE: a mmdebstrap customize hook, and
# optionally inputs: a function whose output is hashed too) and entrypoint. The tag, transformation/NAME:HASH, hashes this
# script and that folder; a service's hashes this script, the runtime's tag, the SDK's version and the sources the project is
# built from. A machine that has the tag skips the build. Needs a Docker engine that answers (tools/images/engine.sh), root to
# build a Debian image (mmdebstrap), and the .NET SDK for the services.
set -euo pipefail
cd "$(dirname "$0")"

SUITE=bookworm
MIRROR=http://deb.debian.org/debian
IMAGES=(postgres rabbitmq redis runtime)
# Each deployable's image (named as k8s/base/services names it) and its project under services/.
declare -A SERVICES=([directory]=Directory.Api [incentives]=Incentives.Api [baselines]=Baselines.Api
  [initiatives]=Initiatives.Api [endstate]=EndState.Api [notifications]=Notifications.Api [portal]=Portal.Web)
SERVICE_ORDER=(directory incentives baselines initiatives endstate notifications portal)
# What every service is built from besides its own folder (paths from the repository's root).
SERVICE_INPUTS=(services/BuildingBlocks protos Directory.Build.props Directory.Packages.props global.json nuget.config .editorconfig)
ROOT=$(cd ../.. && pwd)

image_tag() {
  if [ -n "${SERVICES[$1]:-}" ]; then
    echo "transformation/$1:$( { sha256sum build.sh; image_tag runtime; dotnet --version; service_sources "${SERVICES[$1]}"; } | sha256sum | cut -c1-12)"
    return
  fi
  [ -f "$1/image.conf" ] || { echo "No image named '$1' (known: ${IMAGES[*]} ${SERVICE_ORDER[*]})" >&2; return 1; }
  echo "transformation/$1:$( { sha256sum build.sh "$1"/*; image_inputs "$1"; } | sha256sum | cut -c1-12)"
}

image_inputs() (
  # shellcheck source=/dev/null
  source "$1/image.conf"
  if declare -F inputs >/dev/null; then inputs; fi
)

# The hash of every file (tracked, or new and not ignored) the project is built from.
service_sources() {
  git -C "$ROOT" ls-files -z --cached --others --exclude-standard -- "services/$1" "${SERVICE_INPUTS[@]}" \
    | (cd "$ROOT" && xargs -0 sha256sum 2>/dev/null || true) | sort -k2
}

build_image() {
  local name=$1 tag
  tag=$(image_tag "$name")
  if ! docker image inspect "$tag" >/dev/null 2>&1; then
    local base=""
    if [ -n "${SERVICES[$name]:-}" ]; then
      base=$(build_image runtime)
    elif [ "$(id -u)" -ne 0 ]; then
      echo "$tag is not built yet, and building it needs root (mmdebstrap)." >&2
      return 1
    fi
    # One build at a time on a machine: test assemblies starting in parallel may each ask for the same image.
    exec 9>/run/lock/transformation-images.lock
    flock 9
    if ! docker image inspect "$tag" >/dev/null 2>&1; then
      if [ -n "$base" ]; then build_service_image "$name" "$tag" "$base"; else import_image "$name" "$tag"; fi
    fi
    exec 9>&-
  fi
  echo "$tag"
}

import_image() {
  local name=$1 tag=$2
  local PACKAGES=() RUN_AS="" ENVIRONMENT=() CUSTOMIZE=""
  # shellcheck source=/dev/null
  source "$name/image.conf"
  local hooks=() changes=()
  [ -n "$CUSTOMIZE" ] && hooks+=(--customize-hook="$CUSTOMIZE")
  for variable in "${ENVIRONMENT[@]}"; do changes+=(--change "ENV $variable"); done
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
    | docker import --change "USER $RUN_AS" --change 'ENTRYPOINT ["/usr/local/bin/entrypoint"]' "${changes[@]}" -)
  docker tag "$id" "$tag"
  echo "Built $tag in $((SECONDS - started)) s" >&2
}

# The project published framework-dependent into /app of the runtime image, owned by root (the app user reads, never writes).
build_service_image() {
  local name=$1 tag=$2 base=$3 project=${SERVICES[$1]} started=$SECONDS output
  echo "Building $tag: services/$project published onto $base" >&2
  output=$(mktemp -d)
  local status=0
  dotnet publish "$ROOT/services/$project" -c Release -o "$output" -p:UseAppHost=false -nologo -v quiet -clp:ErrorsOnly >&2 || status=$?
  chmod -R a+rX,go-w "$output"
  # The classic builder (it only copies here; Debian's engine has no BuildKit client to go with it): its deprecation notice
  # is shown only with a failure.
  local log
  [ $status -ne 0 ] || log=$(printf '%s\n' "FROM $base" 'COPY . /app' 'WORKDIR /app' \
      "ENTRYPOINT [\"/usr/share/dotnet/dotnet\", \"/app/Transformation.$project.dll\"]" \
    | DOCKER_BUILDKIT=0 docker build --quiet --tag "$tag" --file - "$output" 2>&1) || { status=$?; echo "$log" >&2; }
  rm -rf "$output"
  [ $status -eq 0 ] || { echo "Building $tag failed." >&2; return $status; }
  echo "Built $tag in $((SECONDS - started)) s" >&2
}

if [ "${1:-}" = "--tag" ]; then
  image_tag "${2:?--tag needs an image name}"
  exit
fi
docker info >/dev/null 2>&1 || { echo "No Docker engine answers (tools/images/engine.sh installs and starts one, as root)." >&2; exit 1; }
[ $# -gt 0 ] || set -- --debian --services
names=()
for argument in "$@"; do
  case "$argument" in
    --debian) names+=("${IMAGES[@]}") ;;
    --services) names+=("${SERVICE_ORDER[@]}") ;;
    *) names+=("$argument") ;;
  esac
done
for name in "${names[@]}"; do
  build_image "$name"
done
