#!/usr/bin/env bash
# Makes a Docker engine answer on this machine: installs Debian's docker.io (Engine 20.10) and mmdebstrap when missing,
# and starts dockerd in the background when `docker info` does not answer, then waits until it does.
#
#   tools/images/engine.sh          (dev.sh test calls it)
#
# dockerd runs with --bridge=none --iptables=false: no bridge network, so no container ever gets (or sends to) a private-range
# address; every container of ours runs on the host network, on loopback ports. It needs root.
set -euo pipefail

ENGINE_PACKAGES=(docker.io mmdebstrap)
DOCKERD_LOG=/var/log/transformation-dockerd.log

engine_answers() {
  docker info >/dev/null 2>&1
}

install_engine_packages() {
  local missing=()
  for package in "${ENGINE_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" -ne 0 ]; then
    echo "Docker's engine and the image builder are missing: run as root, or install them: apt-get install ${missing[*]}" >&2
    return 1
  fi
  echo "Installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

start_engine() {
  engine_answers && return
  if [ "$(id -u)" -ne 0 ]; then
    echo "No Docker engine answers, and dockerd must be started as root: run as root, or start it yourself with" >&2
    echo "  dockerd --bridge=none --iptables=false" >&2
    return 1
  fi
  echo "Starting dockerd (log: $DOCKERD_LOG)"
  # setsid: the engine outlives this script and is not stopped by a Ctrl-C meant for the tests.
  setsid dockerd --bridge=none --iptables=false >>"$DOCKERD_LOG" 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    engine_answers && return
    sleep 1
  done
  echo "dockerd did not answer within 60 s; the end of its log ($DOCKERD_LOG):" >&2
  tail -n 20 "$DOCKERD_LOG" >&2
  return 1
}

install_engine_packages
start_engine
