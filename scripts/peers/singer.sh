# Sourced by scripts/bench-peers: the two peer Singer targets, pipelinewise-target-postgres and
# MeltanoLabs target-postgres, each in its own venv (both install a `target-postgres` command,
# so they cannot share one). Needs work, DB_* fields, json_str, make_venv, pkg_versions, run_peer.

PIPELINEWISE_VERSION="${PIPELINEWISE_VERSION:-2.1.2}"
MELTANOLABS_VERSION="${MELTANOLABS_VERSION:-0.8.1}"

singer_install() {
  make_venv pipelinewise "pipelinewise-target-postgres==$PIPELINEWISE_VERSION"
  make_venv meltanolabs "meltanolabs-target-postgres==$MELTANOLABS_VERSION"
  pw_version=$(pkg_versions pipelinewise pipelinewise-target-postgres | awk '{print $2}')
  ml_version=$(pkg_versions meltanolabs meltanolabs-target-postgres | awk '{print $2}')
  echo "pipelinewise venv: $(pkg_versions pipelinewise pipelinewise-target-postgres \
    pipelinewise-singer-python psycopg2-binary)"
  echo "meltanolabs venv:  $(pkg_versions meltanolabs meltanolabs-target-postgres singer-sdk \
    SQLAlchemy psycopg psycopg2-binary)"
}

pipelinewise_config() {
  local password=$DB_PASSWORD
  # pipelinewise rejects an empty password; with trust authentication any value is ignored.
  [ -n "$password" ] || password="unused"
  cat <<EOF2
{"host": $(json_str "$DB_HOST"), "port": $DB_PORT, "user": $(json_str "$DB_USER"),
 "password": $(json_str "$password"), "dbname": $(json_str "$DB_NAME"),
 "default_target_schema": "bench_peers_pipelinewise", "batch_size_rows": 100000}
EOF2
}

meltanolabs_config() { # schema, extra json members
  cat <<EOF2
{"host": $(json_str "$DB_HOST"), "port": $DB_PORT, "user": $(json_str "$DB_USER"),
 "password": $(json_str "$DB_PASSWORD"), "database": $(json_str "$DB_NAME"),
 "default_target_schema": "$1"$2}
EOF2
}

# pipelinewise with batch_size_rows 100000; MeltanoLabs with its defaults, once more with
# `validate_records: false`, and once with `use_copy: true`.
singer_run() {
  local ml="meltanolabs-target-postgres" ml_bin="$work/venv-meltanolabs/bin/target-postgres"
  pipelinewise_config >"$work/pipelinewise.json"
  meltanolabs_config bench_peers_meltanolabs "" >"$work/meltanolabs.json"
  meltanolabs_config bench_peers_meltanolabs_novalidate ', "validate_records": false' \
    >"$work/meltanolabs-novalidate.json"
  meltanolabs_config bench_peers_meltanolabs_copy ', "use_copy": true' >"$work/meltanolabs-copy.json"
  run_peer pipelinewise-target-postgres "$pw_version" bench_peers_pipelinewise pipelinewise singer \
    "$work/venv-pipelinewise/bin/target-postgres" --config "$work/pipelinewise.json"
  run_peer "$ml" "$ml_version" bench_peers_meltanolabs meltanolabs singer \
    "$ml_bin" --config "$work/meltanolabs.json"
  run_peer "$ml (validate_records: false)" "$ml_version" bench_peers_meltanolabs_novalidate \
    meltanolabs-novalidate singer "$ml_bin" --config "$work/meltanolabs-novalidate.json"
  run_peer "$ml (use_copy: true)" "$ml_version" bench_peers_meltanolabs_copy meltanolabs-copy \
    singer "$ml_bin" --config "$work/meltanolabs-copy.json"
}
