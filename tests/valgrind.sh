#!/bin/bash
# Runs the core commands of the CLI tests under valgrind (memcheck, full leak check): parse and
# ingest of the test data, the samples, the mails, a Maildir-like folder, a few inputs of the
# hostile catalogue (tests/hostile/gen.py), stdin, re-ingest (seen/duplicates), quarantine
# list/show/retry, report, enrich and check (against dnsmasq on loopback); and the refusals
# (read-only, not SQLite, newer schema, a bad or silent resolver, IMAP folders that cannot be
# read; tests/cli/test_imap.py runs a real server).  Any memcheck
# error or definite/indirect/possible leak fails the run (exit 9 from valgrind).  No suppression
# file: GLib/GMime's one-time allocations stay reachable and are not reported as leaks.
#
# Usage: tests/valgrind.sh [DMARCSTAT]   (default build/cli/dmarcstat)
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/cli/dmarcstat}
[ -x "$bin" ] || { echo "tests/valgrind.sh: $bin is not built" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
vg=(valgrind -q --error-exitcode=9 --leak-check=full --show-leak-kinds=definite,indirect,possible
	--errors-for-leak-kinds=definite,indirect,possible --log-file="$tmp/vg.%p.log")
failed=0
n=0

# vgrun WANT_STATUS... -- ARGS: runs dmarcstat ARGS under valgrind; the exit status must be one of
# WANT_STATUS and valgrind must report nothing.  STDIN=FILE feeds FILE on standard input.
vgrun() {
	local want=()
	while [ "$1" != -- ]; do want+=("$1"); shift; done
	shift
	n=$((n + 1))
	rm -f "$tmp"/vg.*.log
	"${vg[@]}" "$bin" "$@" >"$tmp/out" 2>"$tmp/err" <"${STDIN:-/dev/null}"
	local rc=$? ok=0 w
	for w in "${want[@]}"; do [ "$rc" = "$w" ] && ok=1; done
	if [ "$rc" = 9 ] || [ $ok = 0 ] || cat "$tmp"/vg.*.log 2>/dev/null | grep -q .; then
		failed=$((failed + 1))
		echo "FAIL (exit $rc, expected ${want[*]}): dmarcstat ${*:1:6}"
		cat "$tmp"/vg.*.log 2>/dev/null | head -n 60
		tail -n 5 "$tmp/err"
	else
		echo "ok   dmarcstat ${*:1:6}$([ $# -gt 6 ] && echo " ... ($# arguments)")"
	fi
}

db=$tmp/v.db
python3 tests/hostile/gen.py "$tmp/hostile" zip_bomb nested_20 encrypted_zip zip_dotdot \
	truncated_gzip truncated_zip billion_laughs xxe_file doctype nested_10000 invalid_utf8 \
	control_chars truncated_xml not_dmarc binary_junk empty_file count_negative count_decimal \
	ipv6_mapped timestamp_ms same_id_other_content zip_empty_name mail_empty_part >/dev/null
reports=$(find samples tests/data/parse tests/data/mail -type f ! -name '*.py' ! -name '*.pyc' | sort | head -n 80)

# shellcheck disable=SC2086
vgrun 0 1 -- parse $reports
vgrun 1 -- parse "$tmp"/hostile/*
STDIN=tests/data/mail/report.xml.gz vgrun 0 -- parse -
STDIN=tests/data/mail/zip_attachment.eml vgrun 0 1 -- ingest --quiet --db "$tmp/stdin.db" -
# shellcheck disable=SC2086
vgrun 0 1 -- ingest --quiet --db "$db" $reports
vgrun 1 -- ingest --json --db "$db" "$tmp/hostile"
vgrun 0 1 -- ingest --db "$db" samples tests/data/mail
vgrun 0 -- quarantine --db "$db" list
vgrun 0 -- quarantine --db "$db" list --all --json
vgrun 0 -- quarantine --db "$db" show 1
vgrun 0 -- quarantine --db "$db" show --raw 1
vgrun 0 1 -- quarantine --db "$db" retry
vgrun 2 -- quarantine --db "$db" show 99999
vgrun 0 1 -- report --db "$db" --last 3660d
vgrun 0 1 -- report --db "$db" --last 3660d --format json
vgrun 0 -- report --db "$db" --from 2026-11-01 --to 2026-11-08 --mail-to 'ops@example.com, "Bö" <b@example.org>'
printf '#!/bin/sh\ncat >/dev/null\nexit 75\n' >"$tmp/sendmail" && chmod 700 "$tmp/sendmail"
vgrun 75 -- report --db "$db" --from 2026-11-01 --to 2026-11-08 --mail-to ops@example.com --sendmail "$tmp/sendmail"
vgrun 1 -- report --db "$db" --mail-to ops@example.com --sendmail "$tmp/no-sendmail"
vgrun 2 -- report --db "$db" --mail-to 'not an address'
vgrun 1 -- alerts --db "$db" --from 2026-11-01 --to 2026-11-08
vgrun 1 -- alerts --db "$db" --from 2026-11-01 --to 2026-11-08 --format json
vgrun 75 -- alerts --db "$db" --from 2026-11-01 --to 2026-11-08 --mail-to ops@example.com --sendmail "$tmp/sendmail"
vgrun 2 -- ingest --no-such-option
vgrun 3 -- ingest --db "$tmp/no/such/dir/x.db" samples
printf 'not a database\n' >"$tmp/text.db"
vgrun 3 -- ingest --db "$tmp/text.db" samples
cp "$db" "$tmp/ro.db" && chmod 0444 "$tmp/ro.db"
vgrun 3 -- ingest --db "$tmp/ro.db" samples
cp "$db" "$tmp/new.db" && chmod 0600 "$tmp/new.db" && sqlite3 "$tmp/new.db" 'PRAGMA user_version = 999'
vgrun 3 -- ingest --db "$tmp/new.db" samples
# IMAP inputs that fail before any message: a password in the URL, nobody listening (port 9).
vgrun 3 -- ingest --db "$db" 'imaps://u:pw@127.0.0.1:9/INBOX'
DMARCSTAT_IMAP_PASSWORD=x vgrun 3 -- ingest --db "$db" imaps://u@127.0.0.1:9/INBOX

# enrich and check against dnsmasq on 127.0.0.1 at a free port (no upstream: nothing leaves the
# machine), with a PTR name for each sample source and the sample domain's records; then a
# resolver port nobody listens on.
if command -v dnsmasq >/dev/null || [ -x /usr/sbin/dnsmasq ]; then
	PATH=$PATH:/usr/sbin
	mkdir -p "$tmp/dns"
	for _ in 1 2 3 4 5 6 7 8; do
		port=$((20000 + RANDOM % 40000))
		cat >"$tmp/dns/conf" <<-EOF
		port=$port
		listen-address=127.0.0.1
		bind-interfaces
		no-resolv
		no-hosts
		$([ "$(id -u)" = 0 ] && echo user=root)
		pid-file=$tmp/dns/pid
		cache-size=0
		local=/#/
		synth-domain=senders.test,192.0.2.0/24,mail-
		synth-domain=senders.test,198.51.100.0/24,out-
		synth-domain=senders.test,203.0.113.0/24,relay-
		txt-record=_dmarc.example.com,"v=DMARC1; p=quarantine; pct=150; rua=mailto:d@example.org"
		txt-record=example.com,"v=spf1 ip4:192.0.2.0/24 include:spf.example.org -all"
		txt-record=spf.example.org,"v=spf1 a mx -all"
		txt-record=s1._domainkey.example.com,"v=DKIM1; k=rsa; p=$(cat tests/data/dns/rsa1024.b64)"
		EOF
		dnsmasq --conf-file="$tmp/dns/conf" 2>/dev/null && break
	done
	resolver=127.0.0.1:$port
	vgrun 0 1 -- enrich --all --db "$db" --resolver "$resolver" --timeout 0.5
	vgrun 0 1 -- check --db "$db" --last 3660d --resolver "$resolver" --timeout 0.5
	vgrun 0 1 -- check --db "$db" --last 3660d --format json --resolver "$resolver" example.com
	kill "$(cat "$tmp/dns/pid")"
	vgrun 3 -- check --db "$db" --resolver 127.0.0.1:9 --timeout 0.2 example.com
	vgrun 2 -- enrich --db "$db" --resolver nowhere
else
	echo "dnsmasq is missing: enrich and check not run (scripts/install-deps --test)"
	failed=$((failed + 1))
fi

echo "$((n - failed)) passed, $failed failed"
[ $failed = 0 ]
