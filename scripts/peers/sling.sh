# Sourced by scripts/bench-peers: sling, a data-movement CLI (a Go binary), reading the bare
# JSON lines with `--src-options '{"format":"jsonlines","flatten":1}'`, one `sling run` per
# table in full-refresh mode. The binary comes from PyPI's sling-linux-amd64 (the `sling`
# package would download it from GitHub at first import instead). Needs work, URL, make_venv,
# pkg_versions, run_peer, and records_dir / record_tables from the main script.

SLING_VERSION="${SLING_VERSION:-1.4.11}"

sling_install() {
  make_venv sling "sling-linux-amd64==$SLING_VERSION"
  sling_bin=$(find "$work/venv-sling" -type f -name 'sling-linux-amd64' -perm -u+x | head -1)
  [ -n "$sling_bin" ] || die "no sling binary in the sling-linux-amd64 package"
  sling_version=$(pkg_versions sling sling-linux-amd64 | awk '{print $2}')
  echo "sling venv:        $(pkg_versions sling sling-linux-amd64) ($("$sling_bin" --version | tail -1))"
}

# The command measured: every table's file into bench_peers_sling, one process per table as a
# user would run it. Its home (env files, logs) stays in the temporary directory.
sling_script() {
  local t
  echo "set -e"
  echo "export SLING_DISABLE_TELEMETRY=true SLING_HOME_DIR='$work/sling-home' BENCH_PEERS_PG='$URL'"
  for t in $record_tables; do
    echo "'$sling_bin' run --src-stream 'file://$records_dir/$t.jsonl'" \
      "--src-options '{\"format\":\"jsonlines\",\"flatten\":1}'" \
      "--tgt-conn BENCH_PEERS_PG --tgt-object 'bench_peers_sling.$t' --mode full-refresh"
  done
}

sling_run() {
  sling_script >"$work/sling-run.sh"
  run_peer sling "$sling_version" bench_peers_sling sling bare bash "$work/sling-run.sh"
}
