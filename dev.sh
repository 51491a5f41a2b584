#!/usr/bin/env bash
# Transformation's two commands, for a Debian 12 machine with the .NET 10 SDK:
#
#   ./dev.sh run    installs what the machine lacks, then runs the whole system locally (Ctrl-C stops it)
#   ./dev.sh test   installs what the machine lacks, then runs the full test suite and prints the totals
#
# Anything after the command goes to it: `./dev.sh run --temporary`, `./dev.sh test --filter Name~Outbox`.
set -euo pipefail
cd "$(dirname "$0")"

# Servers the fixtures and the local run start (Redis: the membership of the Orleans cluster tests; aiosmtpd: the SMTP server that
# receives the surveys' mail), the independent gRPC peer of the interop tests, HTTP/2 load tooling for the benchmarks; util-linux
# gives setsid and setpriv. When a Docker engine answers
# (tools/images/engine.sh installs and starts one as root) the test fixtures run PostgreSQL, RabbitMQ and Redis as containers of
# images built from Debian packages.
DEBIAN_PACKAGES=(postgresql-15 rabbitmq-server erlang-base redis-server python3 python3-aiosmtpd python3-grpcio python3-protobuf nghttp2-client util-linux procps chromium fonts-dejavu-core)

install_prerequisites() {
  command -v dotnet >/dev/null || { echo "The .NET 10 SDK is required: https://learn.microsoft.com/dotnet/core/install/linux-debian" >&2; exit 1; }
  local missing=()
  for package in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return
  echo "Installing Debian packages: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "Run as root or install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

run_system() {
  # The services, the portal and the CLI only (Transformation.Run.slnf), from their Release builds; `transform run` starts them
  # after PostgreSQL and RabbitMQ. Analyzers and XML docs are for `./dev.sh test` and CI (the compile inputs differ, so a later test
  # build compiles again), and the compiler server serves every project even where the environment turns it off: on two cores
  # that halves a first build. MSBuild and the compiler run without dynamic PGO: instrumenting their hot methods costs a one-off build
  # more than it returns (a first build 33 → 23 s here; docs/benchmarks.md, "Run it all").
  DOTNET_TieredPGO=0 dotnet build Transformation.Run.slnf -c Release -nologo -v quiet -p:RunAnalyzers=false -p:GenerateDocumentationFile=false \
    -p:UseSharedCompilation=true
  # Left running, the compiler server goes on optimising its own hot code for about 9 CPU-seconds, while the system starts.
  dotnet build-server shutdown --vbcscompiler >/dev/null || true
  exec dotnet tools/Cli/bin/Release/net10.0/Transformation.Cli.dll run "$@"
}

run_tests() {
  local results=TestResults
  rm -rf "$results"
  prepare_containers
  dotnet build Transformation.sln -c Release -nologo -v quiet
  build_service_images
  local status=0
  # Test assemblies run in parallel, each with its own servers; a hung test fails the run instead of stalling it.
  dotnet test Transformation.sln -c Release --no-build --results-directory "$results" \
    --logger "trx" --logger "console;verbosity=minimal" --blame-hang-timeout 10m "$@" || status=$?
  check_no_servers_left || status=1
  check_no_containers_left || status=1
  summarize "$results"
  return $status
}

# The fixtures start PostgreSQL and RabbitMQ as containers (Testcontainers) when a Docker engine answers: start one (as root)
# and build the images (the servers' and the services' runtime) before the tests, so that no test waits for a build. Without
# an engine they start server processes.
prepare_containers() {
  # Each container of this run carries the run's label (tests/TestSupport/ServerContainers.cs), for the check afterwards.
  export TRANSFORMATION_TEST_RUN="dev-$$-$(date +%s)"
  # Debian's engine speaks API 1.41; Ryuk's image cannot be pulled, the fixtures and check_no_containers_left clean up.
  export DOCKER_API_VERSION=1.41 TESTCONTAINERS_RYUK_DISABLED=true
  if ! tools/images/engine.sh; then
    echo "No Docker engine: the tests start PostgreSQL and RabbitMQ as server processes." >&2
    export TRANSFORMATION_TEST_SERVERS=processes
    return
  fi
  local started=$SECONDS
  tools/images/build.sh --debian >/dev/null
  echo "Images ready in $((SECONDS - started)) s"
}

# The images of the six deployables (k8s/), which the image scenario runs: each published from the build just made onto the
# runtime image (seconds each once built), only where the fixtures run containers.
build_service_images() {
  [ "${TRANSFORMATION_TEST_SERVERS:-}" = processes ] && return 0
  local started=$SECONDS
  tools/images/build.sh --services >/dev/null
  echo "Service images ready in $((SECONDS - started)) s"
}

# Every fixture removes its containers; a leftover is a failure of the suite, and is removed here.
check_no_containers_left() {
  [ "${TRANSFORMATION_TEST_SERVERS:-}" = processes ] && return 0
  local filter="label=transformation.test-run=$TRANSFORMATION_TEST_RUN" left
  for _ in $(seq 1 30); do
    left=$(docker ps -aq --filter "$filter")
    [ -z "$left" ] && return 0
    sleep 1
  done
  echo "Containers of the test fixtures were left behind (now removed):" >&2
  docker ps -a --filter "$filter" --format '{{.ID}} {{.Image}} {{.Status}}' >&2
  docker rm -f $left >/dev/null
  return 1
}

# Every fixture removes its servers and folders; a leftover is a failure of the suite.
check_no_servers_left() {
  local root="${TMPDIR:-/tmp}/transformation-servers-$(id -u)"
  for _ in $(seq 1 30); do
    if ! ls -d "$root"/run-* >/dev/null 2>&1 && ! grep -qls "TRANSFORMATION_SERVER_RUN=$root/" /proc/[0-9]*/environ 2>/dev/null; then
      return 0
    fi
    sleep 1
  done
  echo "Servers or folders of the test fixtures were left behind:" >&2
  ls -d "$root"/run-* >&2 || true
  return 1
}

# Sums the counters of every TRX file into the closing line: "N passed, N failed".
summarize() {
  /usr/bin/python3 - "$1" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = 0
for trx in glob.glob(f"{sys.argv[1]}/**/*.trx", recursive=True):
    counters = ET.parse(trx).getroot().find("t:ResultSummary/t:Counters", ns)
    passed += int(counters.get("passed", 0))
    failed += int(counters.get("failed", 0)) + int(counters.get("error", 0)) + int(counters.get("timeout", 0)) + int(counters.get("aborted", 0))
print(f"{passed} passed, {failed} failed")
PY
}

command="${1:-}"
shift || true
case "$command" in
  run) install_prerequisites; run_system "$@" ;;
  test) install_prerequisites; run_tests "$@" ;;
  *) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
