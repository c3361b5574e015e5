#!/bin/sh
# Bring the databases of one part of the platform to the current schema, before it starts:
#   migrate.sh intake|routing|escalation|training|notifications|web
# Safe to run from every replica at once (see env.py); does nothing when already current.
set -eu
here=$(dirname "$0")
part=${1:?"which part: intake, routing, escalation, training, notifications or web"}
run() { alembic -c "$here/alembic.ini" "$@"; }
case "$part" in
  web) run -x service=web upgrade web@head ;;
  intake)
    run -x service=intake upgrade bookkeeping@head
    run -x service=intake -x store=keys upgrade keystore@head
    ;;
  routing | escalation | training | notifications) run -x service="$part" upgrade bookkeeping@head ;;
  *) echo "no part named $part" >&2; exit 2 ;;
esac
