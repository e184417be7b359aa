"""Writes the records of a Singer input as bare JSON lines, one file per table (bench-peers).

    python records.py INPUT.jsonl OUT_DIR

Tools that are not Singer targets (sling, dlt) read the record objects alone. Each record is
copied as the exact text it has in the input, so numbers keep every digit: the bench writes
RECORD messages with `"record"` as their last member, which this checks by parsing both. A
stream `tap-name-table` goes to OUT_DIR/table.jsonl, the table target-postgres loads it into.
"""

import json
import os
import sys

MARKER = '"record":'


def bare_record(line):
    message = json.loads(line)
    if message.get("type") != "RECORD":
        return None, None
    text = line.rstrip("\n")
    start = text.find(MARKER)
    record = text[start + len(MARKER) : -1] if start >= 0 and text.endswith("}") else ""
    if not record or json.loads(record) != message["record"]:
        sys.exit(f"records.py: cannot cut the record out of: {text[:200]}")
    return message["stream"].rsplit("-", 1)[-1], record


def main(input_path, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    files = {}
    with open(input_path, encoding="utf-8") as lines:
        for line in lines:
            table, record = bare_record(line)
            if table is None:
                continue
            if table not in files:
                files[table] = open(os.path.join(out_dir, f"{table}.jsonl"), "w", encoding="utf-8")
            files[table].write(record + "\n")
    for out in files.values():
        out.close()
    print(" ".join(sorted(files)))


if __name__ == "__main__":
    main(*sys.argv[1:])
