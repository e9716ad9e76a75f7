#!/usr/bin/env bash
# Makes sure what the tests use is there: Debian's Chromium for the end-to-end tests (browsers
# cannot be downloaded, so Playwright drives /usr/bin/chromium), and the PostgreSQL the records
# tests use, a server on 127.0.0.1:5432 that lets `postgres` in without a password, with a
# database `test`. Idempotent, and silent when all is already so. It never fails the run: what
# it cannot provide makes its tests skip, or fail under CI=true, with the reason. `./run test`
# calls it.
set -uo pipefail

warn() { echo "services: $*" >&2; }
root_debian() { [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; }

install_packages() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "$@" >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$@" >/dev/null 2>&1; }
}

if [ ! -x /usr/bin/chromium ]; then
    if root_debian; then
        warn "installing Chromium for the end-to-end tests"
        install_packages chromium || warn "could not install Chromium"
    else
        warn "Chromium is not installed (and this is not a root Debian shell to install it)"
    fi
fi

if [ -n "${DERMAPLAN_TEST_POSTGRES_URL:-}" ]; then
    exit 0 # the tests were pointed at another server: not ours to start
fi

ready() { pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; }
newest_cluster() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1; }

install_postgresql() {
    warn "installing PostgreSQL for the records tests"
    install_packages postgresql || return 1
    # A fresh Debian cluster asks for passwords on TCP; let postgres in from loopback only.
    local hba
    hba="/etc/postgresql/$(newest_cluster)/main/pg_hba.conf"
    sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
}

if ! ready; then
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        if ! root_debian; then
            warn "PostgreSQL is not installed (and this is not a root Debian shell to install it)"
            exit 0
        fi
        install_postgresql || { warn "could not install PostgreSQL"; exit 0; }
    fi
    version=$(newest_cluster)
    if [ -z "$version" ]; then
        warn "no PostgreSQL cluster under /etc/postgresql"
        exit 0
    fi
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
    for _ in $(seq 60); do
        ready && break
        sleep 0.5
    done
    ready || { warn "PostgreSQL $version did not start on 127.0.0.1:5432"; exit 0; }
fi

psql_postgres() { psql -h 127.0.0.1 -U postgres -d postgres -Atq "$@"; }
if [ "$(psql_postgres -c "SELECT 1 FROM pg_database WHERE datname = 'test'" 2>/dev/null)" != 1 ]; then
    createdb -h 127.0.0.1 -U postgres test 2>/dev/null || warn "could not create the database test"
fi
exit 0
