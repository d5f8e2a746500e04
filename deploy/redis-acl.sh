#!/usr/bin/env bash
# redis-acl.sh — renders pregon's Redis ACL template (deploy/users.acl) into a file Redis loads
# (redis.conf: aclfile), with a password per enabled user.
#
#   redis-acl.sh [--prefix pg] [--passwords DIR] [--template users.acl] OUT
#
# Writes OUT (mode 0640: chgrp it to the group redis-server runs as) from the template: comment
# and blank lines dropped (Redis 7.0 reads none), the key prefix "pg:" replaced by PREFIX:, and,
# on each enabled user's line (`on`), the SHA-256 of its password as `#HEX` (Redis keeps only
# hashes; the file reveals no password). Each enabled user's password is DIR/redis-USER.password
# (DIR: OUT's folder by default), created when absent (32 random bytes, base64) with mode 0600,
# kept when present (render again after editing the template: the passwords stay). A password
# file readable by its group or others is refused. Then, as admin:
#   REDISCLI_AUTH="$(cat DIR/redis-admin.password)" redis-cli --user admin ACL LOAD
# pregond reads DIR/redis-pregond.password (redis.password_file; chown it to pregond's user),
# pregonctl --redis-user pregonctl --redis-password-file DIR/redis-pregonctl.password.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
template="$here/users.acl" prefix=pg passwords="" out=""
usage() { sed -n '4p' "$0" | sed 's/^# *//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) prefix=$2; shift 2 ;;
    --passwords) passwords=$2; shift 2 ;;
    --template) template=$2; shift 2 ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) usage ;;
    *) [ -z "$out" ] || usage; out=$1; shift ;;
  esac
done
[ -n "$out" ] || usage
# the prefix goes into glob patterns: letters, digits, '_', '-', '.' only (redis.prefix: 1..31)
[[ $prefix =~ ^[A-Za-z0-9_.-]{1,31}$ ]] || { echo "redis-acl.sh: --prefix must be 1..31 of A-Z a-z 0-9 _ - ." >&2; exit 2; }
[ -r "$template" ] || { echo "redis-acl.sh: cannot read the template $template" >&2; exit 1; }
passwords=${passwords:-$(dirname "$out")}
[ -d "$passwords" ] || { echo "redis-acl.sh: no folder $passwords" >&2; exit 1; }
umask 077

# s_password USER: prints the user's password, creating its file if absent
s_password() {
  local f="$passwords/redis-$1.password" mode
  if [ ! -e "$f" ]; then
    head -c 32 /dev/urandom | base64 | tr -d '\n' >"$f.tmp"
    echo >>"$f.tmp"
    mv "$f.tmp" "$f"
    echo "redis-acl.sh: created $f" >&2
  fi
  mode=$(stat -c %a "$f")
  [ $((8#$mode & 077)) = 0 ] || { echo "redis-acl.sh: $f has mode $mode: chmod 600 it" >&2; return 1; }
  head -n1 "$f" | tr -d '\r\n'
}

tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT
n=0
while IFS= read -r line || [ -n "$line" ]; do
  case $line in '' | '#'*) continue ;; esac
  read -r -a w <<<"$line"
  [ "${w[0]}" = user ] && [ ${#w[@]} -ge 2 ] || { echo "redis-acl.sh: not a user line: $line" >&2; exit 1; }
  line=${line//\~pg:/\~$prefix:}
  enabled=0
  for t in "${w[@]:2}"; do
    case $t in on) enabled=1 ;; off | reset) enabled=0 ;; esac
  done
  if [ $enabled = 1 ]; then
    pw=$(s_password "${w[1]}")
    [ -n "$pw" ] || { echo "redis-acl.sh: empty password for ${w[1]}" >&2; exit 1; }
    line="$line #$(printf '%s' "$pw" | sha256sum | cut -d' ' -f1)"
  fi
  printf '%s\n' "$line" >>"$tmp"
  n=$((n + 1))
done <"$template"
chmod 640 "$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "redis-acl.sh: $out: $n users, prefix $prefix:, passwords in $passwords" >&2
