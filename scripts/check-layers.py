#!/usr/bin/python3
"""Checks every #include "..." under src/ against the layer rules of
docs/architecture.md: a layer includes only the layers it names, and the
domain services see only aws/identity.h and aws/request_context.h of the wire
layer (never the gateway, SigV4 or protocol headers); inside src/agent/, each
folder includes only the folders below it. Exits 1 and names each
broken include; tests (*_test.cc, fake_*, test_*) may also use src/testing."""
import os
import re
import sys

# layer -> the layers it may include directly (itself always).
ALLOWED = {
    "common": set(),
    "testing": {"common"},
    "crypto": {"common"},
    "store": {"common"},
    "http": {"common"},
    "aws": {"http", "crypto", "common"},
    "iam": {"aws", "store", "crypto", "common"},
    "sts": {"iam", "aws", "store", "crypto", "common"},
    "kms": {"iam", "aws", "store", "crypto", "common"},
    "secrets": {"kms", "iam", "aws", "store", "crypto", "common"},
    "ecs": {"iam", "sts", "aws", "store", "crypto", "common"},
    "logs": {"kms", "iam", "aws", "store", "crypto", "common"},
    "server": {"aws", "iam", "sts", "kms", "secrets", "ecs", "logs", "store", "http", "crypto",
               "common"},
    "agent": {"aws", "http", "crypto", "common"},
    "cli": {"server", "agent", "aws", "crypto", "common"},
}
# Services are domain logic: of the wire layer they see who calls and the
# request's facts, nothing of the protocols.
SERVICES = {"iam", "sts", "kms", "secrets", "ecs", "logs"}
SERVICE_AWS_HEADERS = {"aws/identity.h", "aws/request_context.h"}

# Inside src/agent/: folder -> the folders it may include (docs/architecture.md,
# "Agent: the pull pipeline" and "Agent: running tasks"). "image_pull" is
# src/agent/image_pull.*, which joins the pull stages (with streamed_unpack.*, its part that
# applies layers as they download).
AGENT_ALLOWED = {
    "spec": set(),
    "reference": set(),
    "content": set(),
    "host": set(),
    "awslogs": set(),
    "credentials": {"reference"},
    "unpack": {"content"},
    "registry": {"content", "credentials", "reference"},
    "image_pull": {"registry", "credentials", "reference", "content", "unpack"},
    "runtime": {"spec"},
    "network": {"spec"},
    "tmds": {"spec"},
    "wsclient": set(),
    "acs": {"spec", "wsclient"},
    "tcs": {"spec", "wsclient"},
    "engine": {"runtime", "network", "tmds", "awslogs", "image_pull", "registry", "credentials",
               "reference", "content", "unpack", "spec"},
}


def agent_folder(rel_path):
    """The agent folder of a path relative to src/agent ("image_pull" for image_pull.*)."""
    parts = rel_path.split("/")
    if len(parts) == 1:
        name = parts[0].split(".")[0]
        return "image_pull" if name == "streamed_unpack" else name
    return parts[0]

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def is_test(path):
    name = os.path.basename(path)
    return name.endswith("_test.cc") or name.startswith("fake_") or name.startswith("test_")


def main(root):
    src = os.path.join(root, "src")
    broken = []
    for dirpath, _, files in os.walk(src):
        for f in files:
            if not f.endswith((".h", ".cc")):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, src)
            layer = rel.split(os.sep)[0]
            if layer not in ALLOWED:
                continue
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
            for inc in INCLUDE.findall(text):
                target = inc.split("/")[0]
                if layer == "agent" and target == "agent":
                    mine = agent_folder(os.path.relpath(path, os.path.join(src, "agent")))
                    theirs = agent_folder(inc[len("agent/"):])
                    if mine != theirs and theirs not in AGENT_ALLOWED.get(mine, set()) and \
                            not (is_test(path) and theirs in AGENT_ALLOWED):
                        broken.append(f"src/{rel}: includes \"{inc}\" (agent/{mine} may not "
                                      f"depend on agent/{theirs})")
                    continue
                if target not in ALLOWED or target == layer:
                    continue
                if target == "testing" and is_test(path):
                    continue
                if target not in ALLOWED[layer]:
                    broken.append(f"src/{rel}: includes \"{inc}\" ({layer} may not depend on {target})")
                elif layer in SERVICES and target == "aws" and inc not in SERVICE_AWS_HEADERS \
                        and not is_test(path):
                    broken.append(f"src/{rel}: includes \"{inc}\" (a service sees only "
                                  f"{', '.join(sorted(SERVICE_AWS_HEADERS))} of aws/)")
    for b in broken:
        print(b)
    if broken:
        print(f"{len(broken)} include(s) break the layer rules of docs/architecture.md")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")))
