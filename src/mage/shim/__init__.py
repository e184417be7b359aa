"""A Mage destination that runs target-postgres.

Mage starts a destination as `python3 <this file> --config_json ... --state ...`, where this
file is `mage_integrations/destinations/<name>/__init__.py` and <name> is the `destination:`
of the pipeline's YAML. Run that way, this file replaces its own process with the
target-postgres binary, handing over the same arguments: everything Mage sees afterwards
(log lines, state file, exit code) is target-postgres's own.

Mage also imports this module inside its own process, only to find its path: importing it
does nothing. `target-postgres mage-install` writes this file with the binary's absolute path
below; left empty, the binary is looked up on PATH as `target-postgres`.
"""

TARGET_POSTGRES = ""


def _main():
    import json
    import os
    import shutil
    import sys

    binary = TARGET_POSTGRES or shutil.which("target-postgres")
    try:
        if not binary:
            raise OSError("target-postgres is not on PATH")
        os.execv(binary, [binary] + sys.argv[1:])
    except OSError as error:
        message = (
            "cannot run target-postgres ({}): {}; reinstall this destination with "
            "`target-postgres mage-install`".format(binary or "not found", error)
        )
        line = json.dumps({
            "caller": "target-postgres",
            "level": "EXCEPTION",
            "message": message,
            "tags": {"error": message},
            "type": "LOG",
        })
        # Mage reads a pipeline's destination by its JSON log lines, and a failed connection
        # test by the stderr line that starts with ERROR.
        sys.stdout.write(line + "\n")
        sys.stderr.write("ERROR " + line + "\n")
        sys.exit(1)


if __name__ == "__main__":
    _main()
