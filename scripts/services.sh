#!/usr/bin/env bash
# Starts what the test suite needs on this machine and prints the variables the tests read.
# Idempotent: safe to run again. Needs root (apt-get, pg_ctlcluster), as on the dev and CI machines.
set -euo pipefail

# A real SMTP server for the delivery tests: Debian's aiosmtpd (runs under /usr/bin/python3).
if ! /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then
  apt-get update -qq && apt-get install -y -qq python3-aiosmtpd >/dev/null
fi

# openpyxl, with which the report tests read the xlsx downloads as Excel would (Debian's package,
# under /usr/bin/python3 like aiosmtpd).
if ! /usr/bin/python3 -c 'import openpyxl' 2>/dev/null; then
  apt-get update -qq && apt-get install -y -qq python3-openpyxl >/dev/null
fi

# openssl makes the self-signed certificate of the HTTPS test (`serve --tls-cert`).
if ! command -v openssl >/dev/null; then
  apt-get update -qq && apt-get install -y -qq openssl >/dev/null
fi

# Headless Chromium and its WebDriver for the staff pages' browser tests (Debian's packages, no
# download): the tests type into the sign-in form as staff do.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# PostgreSQL 15 is installed on the machine image but stopped.
if ! command -v pg_ctlcluster >/dev/null; then
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
fi
if ! pg_lsclusters -h | awk '$1==15 && $2=="main" {print $4}' | grep -q online; then
  pg_ctlcluster 15 main start
fi
for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
# A role that may create the per-test databases, with a password for TCP connections.
su postgres -c "psql -q -v ON_ERROR_STOP=1 -d postgres" <<'SQL' >/dev/null
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vongdoi') THEN
    CREATE ROLE vongdoi LOGIN CREATEDB PASSWORD 'vongdoi';
  END IF;
END $$;
SQL
if ! su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='vongdoi'\"" | grep -q 1; then
  su postgres -c "createdb -O vongdoi vongdoi"
fi
echo "VONGDOI_TEST_POSTGRES_URL=postgres://vongdoi:vongdoi@127.0.0.1:5432/vongdoi"
