#!/usr/bin/env bash
# Sets up what the tests need on a fresh Debian machine and runs every test.
# Installs missing packages with apt, starts the servers the tests use on 127.0.0.1
# (none yet: the foundation's tests need only the .NET SDK), runs `dotnet test`, and
# stops what it started.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! command -v dotnet >/dev/null 2>&1; then
  echo "test.sh: the .NET SDK is required (dotnet not on PATH); see README.md" >&2
  exit 1
fi

# Debian packages the tests need, installed only when missing. The foundation's tests need none;
# later issues add redis-server, nats-server and friends here, and start them below.
# prometheus brings promtool, which checks the /metrics output (the daemon is never started).
apt_packages=(nats-server redis-server prometheus)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  # Installing a package must not start its daemon (prometheus): deny service starts while installing.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if [ "$own_policy" = 1 ]; then rm -f "$policy"; fi
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build Freshet.slnx -c Release --nologo -v quiet
log="$(mktemp -t freshet-test.XXXXXX.log)"
set +e
results="$(mktemp -d -t freshet-results.XXXXXX)"
dotnet test Freshet.slnx -c Release --no-build --nologo -v quiet --logger trx --results-directory "$results" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# The quiet console names failed tests but not why: print each failure's message and stack from the TRX files.
if [ "$status" -ne 0 ] && command -v python3 >/dev/null 2>&1; then
  python3 - "$results" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
for path in glob.glob(sys.argv[1] + "/*.trx"):
    for r in ET.parse(path).getroot().iterfind(".//t:UnitTestResult[@outcome='Failed']", ns):
        print("FAILED", r.get("testName"), "(" + r.get("duration", "") + ")")
        for tag in ("Message", "StackTrace"):
            e = r.find(".//t:ErrorInfo/t:" + tag, ns)
            if e is not None and e.text:
                print("  " + e.text.strip().replace("\n", "\n  ")[:4000])
PY
fi

# One closing line that CI reads: "N passed, N failed".
passed=$(grep -Eo 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -Eo 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
skipped=$(grep -Eo 'Skipped: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
echo "tests: ${passed} passed, ${failed} failed, ${skipped} skipped"
exit "$status"
