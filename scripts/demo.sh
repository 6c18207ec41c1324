#!/usr/bin/env bash
# make demo: bring up a two-node lab, apply plans/demo/stack.yaml (PostgreSQL,
# Redis, and an nginx page made from their addresses), print the summary and
# fetch the page. A second run changes nothing.
#
# Where the lab cannot run (not root, no LXC, no user namespaces), it says why
# and applies the same stack to simulated nodes in-process instead, so the
# plan, the progress and the summary are still there to see.
#
# Needs only bash, coreutils and the binaries `make build` made (no jq, no
# python). Environment: DEMO_SIM=1 forces the simulated nodes.
set -euo pipefail
cd "$(dirname "$0")/.."
stack=plans/demo/stack.yaml
lxcplan=bin/lxcplan
pvelab=bin/pvelab
export PATH=/usr/local/go/bin:$PATH

run() { printf '\n$ %s\n' "$*" >&2; "$@"; }
say() { printf '\n== %s\n' "$*" >&2; }

# why_no_lab prints why this machine cannot run the lab, or nothing.
why_no_lab() {
	if [ "${DEMO_SIM:-}" = 1 ]; then echo "DEMO_SIM=1 asks for the simulated nodes"; return; fi
	if [ "$(id -u)" != 0 ]; then echo "the lab needs root (try: sudo make demo)"; return; fi
	if [ "$(uname -s)" != Linux ]; then echo "the lab needs Linux with LXC"; return; fi
	if [ -r /proc/sys/kernel/unprivileged_userns_clone ] && [ "$(cat /proc/sys/kernel/unprivileged_userns_clone)" = 0 ]; then
		echo "user namespaces are disabled (kernel.unprivileged_userns_clone=0)"; return
	fi
	if [ -r /proc/sys/user/max_user_namespaces ] && [ "$(cat /proc/sys/user/max_user_namespaces)" = 0 ]; then
		echo "user namespaces are disabled (user.max_user_namespaces=0)"; return
	fi
	if ! command -v apt-get >/dev/null && ! command -v lxc-start >/dev/null; then
		echo "LXC is not installed and this is not a Debian-like system where pvelab could install it"; return
	fi
}

simulate() {
	say "running the demo stack against simulated nodes instead (pvesim, in-process SSH)"
	# The test prints the same plan, progress and summary as the lab path.
	LXCPLAN_DEMO_SIM=1 go test -count=1 -run '^TestDemoSim$' -v ./cmd/lxcplan 2>&1 |
		grep -v -E '^(=== RUN|--- PASS|PASS$|ok  )'
}

why=$(why_no_lab)
if [ -n "$why" ]; then
	say "cannot run the lab here: $why"
	simulate
	exit
fi

# Lab tests (engine/pvesim/labtest) take this flock for as long as they hold
# the lab; never bring the lab up or change it under one of them.
lockfile=/run/lock/pvelab-e2e.lock
mkdir -p /run/lock
exec 9>>"$lockfile"
if command -v flock >/dev/null && ! flock -n 9; then
	say "a lab test is using the lab; waiting for it to finish"
	flock 9
fi

say "bringing the lab up (the first time installs LXC and builds a template: about a minute)"
# 9>&-: the daemons up starts (apt-cacher-ng) must not inherit the flock,
# or the lock would outlive this script.
if ! run "$pvelab" up --nodes 2 9>&-; then
	say "pvelab up failed: see above (run 'sudo bin/pvelab down' to clean up)"
	simulate
	exit
fi
eval "$("$pvelab" env)"
lx() { run "$lxcplan" --known-hosts "$LAB_KNOWN_HOSTS" "$@"; }

lx hosts check "$stack"
lx plan "$stack"
start=$(date +%s)
lx apply --yes "$stack"
say "apply took $(($(date +%s) - start)) s"

# The page is nginx's output `url`; read it from `lxcplan outputs`.
url=$("$lxcplan" --known-hosts "$LAB_KNOWN_HOSTS" outputs "$stack" web | sed -n 's/^ *url *= *//p')
if [ -n "$url" ]; then
	run curl -fsS --max-time 10 "$url"
else
	say "web has no url output; see: bin/lxcplan outputs $stack"
	exit 1
fi
say "done. Run 'make demo' again: it reports no changes. 'sudo bin/pvelab down' removes the lab."
