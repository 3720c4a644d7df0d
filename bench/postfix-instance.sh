#!/usr/bin/env bash
# Creates and starts a private Postfix instance for the SMTP benchmark, as the issue describes:
# a virtual Maildir domain example.org with users user1..user100 (and user, 2user..50user, the
# names smtp-source -r 50 -t user@example.org generates), smtpd on a loopback port, no DNS, no TLS, no restrictions beyond
# reject_unauth_destination, fsync on (Postfix's default). Prints the instance folder.
#
#   bench/postfix-instance.sh start DIR PORT [RELAYHOST [BIND [FALLBACK_RELAY [NAME=VALUE...]]]]
#   bench/postfix-instance.sh stop DIR
#
# RELAYHOST e.g. [127.0.0.1]:2526 ('' for none). BIND: the address smtpd listens on and that may
# relay (mynetworks), default 127.0.0.1. FALLBACK_RELAY: smtp_fallback_relay, tried when RELAYHOST
# is unreachable ('' for none). NAME=VALUE: further main.cf settings, applied last (the test bed
# uses them to make this an outside relay MTA with short timeouts; see server/tests/testbed).
set -euo pipefail
cmd=$1 dir=$2
case "$cmd" in
stop)
    postfix -c "$dir/etc" stop >/dev/null 2>&1 || true
    exit 0 ;;
start) port=$3 relay=${4:-} bind=${5:-127.0.0.1} fallback=${6:-}; shift $(( $# < 6 ? $# : 6 )) ;;
*) echo "usage: $0 start DIR PORT [RELAYHOST [BIND [FALLBACK_RELAY [NAME=VALUE...]]]] | stop DIR" >&2; exit 2 ;;
esac
[ -x /usr/sbin/postfix ] || { echo "Postfix is not installed (apt-get install postfix)" >&2; exit 1; }
mkdir -p "$dir"/{etc,spool,data,mail}
dir=$(cd "$dir" && pwd)
cp /etc/postfix/master.cf "$dir/etc/master.cf"
cp /etc/postfix/dynamicmaps.cf "$dir/etc/" 2>/dev/null || true
: > "$dir/etc/main.cf"
# Mailboxes belong to nobody; virtual(8) refuses root.
uid=$(id -u nobody) gid=$(id -g nobody)
chown "$uid:$gid" "$dir/mail"
chown postfix "$dir/data"
{
    for i in $(seq 1 100); do echo "user$i@example.org example.org/user$i/"; done
    for i in $(seq 1 50); do echo "${i}user@example.org example.org/${i}user/"; done
    echo "user@example.org example.org/user/"
} > "$dir/etc/vmailbox"
# The relay row of the benchmark: an alias of the domain whose member is outside (the agent relays
# for unauthenticated clients only that way), so both MTAs get the same outside-bound message.
echo "fwd@example.org sink@outside.test" > "$dir/etc/valias"
pc() { postconf -c "$dir/etc" -e "$@"; }
pc "compatibility_level = 3.6" \
   "queue_directory = $dir/spool" "data_directory = $dir/data" \
   "mail_owner = postfix" "setgid_group = postdrop" \
   "myhostname = postfix.bench.test" "mydomain = bench.test" "mydestination =" \
   "inet_interfaces = $bind" "inet_protocols = ipv4" \
   "alias_maps =" "alias_database =" "local_recipient_maps =" \
   "virtual_mailbox_domains = example.org" "virtual_mailbox_base = $dir/mail" \
   "virtual_mailbox_maps = texthash:$dir/etc/vmailbox" \
   "virtual_alias_maps = texthash:$dir/etc/valias" \
   "virtual_uid_maps = static:$uid" "virtual_gid_maps = static:$gid" \
   "virtual_destination_concurrency_limit = 50" \
   "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination" \
   "smtpd_recipient_restrictions = reject_unauth_destination" \
   "mynetworks = 127.0.0.0/8 $bind/32" \
   "smtp_dns_support_level = disabled" "smtp_host_lookup = native" \
   "smtpd_peername_lookup = no" \
   "default_process_limit = 200" "smtpd_client_connection_count_limit = 0" \
   "smtpd_client_connection_rate_limit = 0" "anvil_rate_time_unit = 60s" \
   "maillog_file_prefixes = $dir" "maillog_file = $dir/maillog" "smtpd_tls_security_level = none" "smtp_tls_security_level = none"
if [ -n "$relay" ]; then pc "relayhost = $relay" "default_transport = smtp"; fi
if [ -n "$fallback" ]; then pc "smtp_fallback_relay = $fallback"; fi
if [ $# -gt 0 ]; then pc "$@"; fi
# smtpd on the benchmark port, nothing chrooted (the instance lives outside /var/spool/postfix).
sed -i -E 's/^smtp( +)inet/'"$bind:$port"'\1inet/' "$dir/etc/master.cf"
awk 'BEGIN{OFS=" "} /^[^#[:space:]]/ && NF>=8 { $5="n" } {print}' "$dir/etc/master.cf" > "$dir/etc/master.cf.new"
mv "$dir/etc/master.cf.new" "$dir/etc/master.cf"
postfix -c "$dir/etc" set-permissions >/dev/null 2>&1 || true
postfix -c "$dir/etc" check
postfix -c "$dir/etc" start >/dev/null
echo "$dir"
