# Sourced by scripts/bench-peers: dlt (dlt[postgres]), a Python loading library, run as a user
# of it would: the few lines of scripts/peers/dlt_load.py, one resource per table, the CSV
# loader file format (COPY), everything else dlt's defaults. Needs work, URL, make_venv,
# pkg_versions, run_peer, and records_dir / record_tables from the main script.

DLT_VERSION="${DLT_VERSION:-1.31.0}"

dlt_install() {
  make_venv dlt "dlt[postgres]==$DLT_VERSION"
  dlt_version=$(pkg_versions dlt dlt | awk '{print $2}')
  echo "dlt venv:          $(pkg_versions dlt dlt psycopg2-binary)"
}

dlt_run() {
  local t files=()
  for t in $record_tables; do files+=("$records_dir/$t.jsonl"); done
  RUNTIME__DLTHUB_TELEMETRY=false run_peer dlt "$dlt_version" bench_peers_dlt dlt bare \
    "$work/venv-dlt/bin/python" "$PEERS_DIR/dlt_load.py" "$URL" bench_peers_dlt \
    "$work/dlt-pipelines" "${files[@]}"
}
