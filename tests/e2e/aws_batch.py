"""Runs many AWS CLI commands in one process: the code /usr/bin/aws runs
(awscli.clidriver, on /usr/bin/python3 as its shebang says), without paying the
CLI's start-up (~1 s of CPU) for every command. Reads one JSON argv list per
line on stdin; writes one JSON line {"rc", "stdout", "stderr"} per command."""
import contextlib
import io
import json
import os
import sys

if os.environ.get("LC_CTYPE", "") == "UTF-8":  # as /usr/bin/aws does
    os.environ["LC_CTYPE"] = "en_US.UTF-8"
import awscli.clidriver  # noqa: E402


def main():
    for line in sys.stdin:
        argv = json.loads(line)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = awscli.clidriver.create_clidriver().main(argv)
            except SystemExit as e:
                rc = e.code if isinstance(e.code, int) else 255
        sys.__stdout__.write(json.dumps({"rc": rc, "stdout": out.getvalue(),
                                         "stderr": err.getvalue()}) + "\n")
        sys.__stdout__.flush()


if __name__ == "__main__":
    main()
