"""Loads bare JSON-lines files into PostgreSQL with dlt, as a user of dlt would (bench-peers).

    python dlt_load.py URL DATASET PIPELINES_DIR FILE.jsonl...

Each file becomes the table named by its base name, in the schema DATASET, replaced on every
run; dlt's defaults otherwise (it infers the types, flattens objects, puts lists in child
tables), with the CSV loader file format (PostgreSQL's COPY).
"""

import json
import os
import sys
from urllib.parse import urlsplit, urlunsplit

import dlt


def with_password(url):
    """dlt refuses credentials without a password; with trust authentication any is ignored."""
    parts = urlsplit(url)
    if parts.password is not None or not parts.username:
        return url
    host = parts.netloc.split("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:unused@{host}"))


def records(path):
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


def main(url, dataset, pipelines_dir, *paths):
    pipeline = dlt.pipeline(
        pipeline_name="bench_peers",
        destination=dlt.destinations.postgres(credentials=with_password(url)),
        dataset_name=dataset,
        pipelines_dir=pipelines_dir,
    )
    resources = [
        dlt.resource(
            records(path),
            name=os.path.basename(path).removesuffix(".jsonl"),
            write_disposition="replace",
        )
        for path in paths
    ]
    print(pipeline.run(resources, loader_file_format="csv"))


if __name__ == "__main__":
    main(*sys.argv[1:])
