# Sourced by scripts/bench-peers: counts what a peer loaded and compares it, column by column,
# with target-postgres's load of the same input (schema bench_peers_ref). Needs sql().

REF=bench_peers_ref

ref_tables() { sql -c "SELECT table_name FROM information_schema.tables
                       WHERE table_schema = '$REF' ORDER BY 1"; }

has_table() { # schema, table
  sql -c "SELECT 1 FROM information_schema.tables
          WHERE table_schema = '$1' AND table_name = '$2'" | grep -q 1
}

# Rows in the peer's tables named as the reference's (a peer's own bookkeeping tables and
# child tables, as dlt makes, are not rows of the input).
count_rows() { # schema
  local total=0 t
  for t in $(ref_tables); do
    has_table "$1" "$t" && total=$((total + $(sql -c "SELECT count(*) FROM \"$1\".\"$t\"")))
  done
  echo "$total"
}

# The peer's tables that the reference does not have, with their row counts.
other_tables() { # schema
  sql -c "SELECT string_agg(format('%s (%s rows)', c.relname,
            (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I',
              n.nspname, c.relname), false, true, '')))[1]::text), ', ' ORDER BY c.relname)
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = '$1' AND c.relkind = 'r' AND c.relname NOT IN
            (SELECT table_name FROM information_schema.tables WHERE table_schema = '$REF')"
}

column_types() { # schema, table: "column|type" lines
  sql -c "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
          WHERE a.attnum > 0 AND NOT a.attisdropped
          AND a.attrelid = '\"$1\".\"$2\"'::regclass ORDER BY a.attnum"
}

# One column: the peer's value is cast to the reference column's type through text (a jsonb
# value is compared with to_jsonb of the reference's). Prints a line unless type and values
# are the same.
compare_column() { # peer schema, table, column, reference type, peer type
  local peer=$1 t=$2 col=$3 rtype=$4 ptype=$5 expr n example=""
  if [ "$ptype" = "$rtype" ]; then
    expr="p.\"$col\" IS DISTINCT FROM r.\"$col\""
  elif [ "$ptype" = jsonb ]; then
    expr="p.\"$col\" IS DISTINCT FROM to_jsonb(r.\"$col\")"
  else
    expr="p.\"$col\"::text::$rtype IS DISTINCT FROM r.\"$col\""
  fi
  local from="FROM \"$REF\".\"$t\" r JOIN \"$peer\".\"$t\" p ON p.id::text::bigint = r.id WHERE $expr"
  if ! n=$(sql -c "SET TimeZone = 'UTC'" -c "SELECT count(*) $from" 2>&1); then
    echo "    $t.$col: $ptype (target-postgres: $rtype), not comparable: $(tail -1 <<<"$n")"
    return
  fi
  n=$(tail -1 <<<"$n")
  if [ "$n" = 0 ]; then
    [ "$ptype" = "$rtype" ] || echo "    $t.$col: $ptype (target-postgres: $rtype), values equal"
    return
  fi
  example=$(sql -c "SET TimeZone = 'UTC'" -c "SELECT format('e.g. id %s: %s, expected %s',
              r.id, p.\"$col\", r.\"$col\") $from ORDER BY r.id LIMIT 1" | tail -1)
  echo "    $t.$col: $ptype (target-postgres: $rtype), $n rows differ; $example"
}

# Prints one line per difference between a peer's schema and the reference.
compare() { # schema
  local peer=$1 t col rtype ptype others
  for t in $(ref_tables); do
    if ! has_table "$peer" "$t"; then
      echo "    table $t: missing"
      continue
    fi
    declare -A ref_types=() peer_types=()
    while IFS='|' read -r col rtype; do ref_types[$col]=$rtype; done < <(column_types "$REF" "$t")
    while IFS='|' read -r col ptype; do peer_types[$col]=$ptype; done < <(column_types "$peer" "$t")
    local extra=()
    for col in "${!peer_types[@]}"; do [ -n "${ref_types[$col]+x}" ] || extra+=("$col"); done
    [ ${#extra[@]} -eq 0 ] || echo "    $t: extra columns: $(printf '%s\n' "${extra[@]}" | sort | xargs)"
    while IFS='|' read -r col rtype; do
      ptype=${peer_types[$col]:-}
      if [ -z "$ptype" ]; then
        echo "    $t.$col: missing"
      else
        compare_column "$peer" "$t" "$col" "$rtype" "$ptype"
      fi
    done < <(column_types "$REF" "$t")
    unset ref_types peer_types
  done
  others=$(other_tables "$peer")
  [ -z "$others" ] || echo "    other tables: $others"
}
