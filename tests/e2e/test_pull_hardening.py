"""`berth pull` against hostile or broken registries (security hardening, items 12 and 14):
a refused layer says why and records nothing; limits on a layer's uncompressed bytes and
entries, on the image config, on transfer speed and on the whole pull's time; --dest that
already exists fails before any download; --password-stdin keeps the password off the
command line.

The registry here is a small OCI distribution server in this file (`HostileRegistry`) that
serves hand-made manifests and blobs, trickles or corrupts them on demand and records every
request. It listens on 127.0.0.1 on a free port; every test cleans up what it creates.
"""
import base64
import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import threading
import time

import pytest

from berth_harness import BERTH, free_port
from registry_harness import QuietHandler, serve_in_background

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
USER, PASSWORD = "hardening-user", "pw-on-stdin-7f3a9c!"


def digest_of(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_gz(entries):
    """A gzip'd tar of (name, bytes) files."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1700000000
            t.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


class HostileRegistry:
    """GET /v2/<repo>/manifests/<tag> and /v2/<repo>/blobs/<digest> for images added with
    add_image(). Per blob digest: `trickle[digest] = n` sends the first n GETs of it two bytes
    every 0.2 s (-1: every GET); `served_as[digest] = bytes` serves other bytes under the
    digest. With `auth`, every request needs Basic USER:PASSWORD."""

    def __init__(self, auth=False):
        self.auth = auth
        self.manifests, self.blobs = {}, {}
        self.trickle, self.served_as = {}, {}
        self.requests = []  # (path, Authorization header or None)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        outer = self

        class Handler(QuietHandler):
            def reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                return body

            def do_GET(self):
                with outer.lock:
                    outer.requests.append((self.path, self.headers.get("Authorization")))
                    count = sum(1 for p, _ in outer.requests if p == self.path)
                expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                if outer.auth and self.headers.get("Authorization") != expected:
                    body = json.dumps({"errors": [{"code": "UNAUTHORIZED",
                                                   "message": "authentication required"}]})
                    self.wfile.write(self.reply(401, body.encode(), [
                        ("WWW-Authenticate", 'Basic realm="hostile"'),
                        ("Content-Type", "application/json")]))
                    return
                parts = self.path.split("/")
                if self.path == "/v2/":
                    self.wfile.write(self.reply(200, b"{}"))
                elif "manifests" in parts and self.path in outer.manifests:
                    body = outer.manifests[self.path]
                    self.wfile.write(self.reply(200, body, [("Content-Type", OCI_MANIFEST),
                                                            ("Docker-Content-Digest",
                                                             digest_of(body))]))
                elif "blobs" in parts and parts[-1] in outer.blobs:
                    digest = parts[-1]
                    body = outer.served_as.get(digest, outer.blobs[digest])
                    trickled = outer.trickle.get(digest, 0)
                    if trickled == -1 or count <= trickled:
                        self.send_trickle(body)
                    else:
                        self.wfile.write(self.reply(200, body, [
                            ("Content-Type", "application/octet-stream")]))
                else:
                    body = json.dumps({"errors": [{"code": "NOT_FOUND", "message": "unknown"}]})
                    self.wfile.write(self.reply(404, body.encode(),
                                                [("Content-Type", "application/json")]))

            def send_trickle(self, body):
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    for i in range(0, len(body), 2):
                        if outer.stopping.wait(0.2):
                            break
                        self.wfile.write(body[i:i + 2])
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

        self.server = serve_in_background(Handler, self.port)

    def add_blob(self, data):
        digest = digest_of(data)
        self.blobs[digest] = data
        return digest

    def add_image(self, repo, tag, layers, config=None, config_size=None):
        """An OCI image of gzip'd tar `layers` (bytes each). Returns (reference, layer digests,
        config digest)."""
        config = config if config is not None else json.dumps(
            {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
             "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        config_digest = self.add_blob(config)
        layer_digests = [self.add_blob(layer) for layer in layers]
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest,
                       "size": config_size if config_size is not None else len(config)},
            "layers": [{"mediaType": GZIP_LAYER, "digest": d, "size": len(l)}
                       for d, l in zip(layer_digests, layers)]}).encode()
        self.manifests[f"/v2/{repo}/manifests/{tag}"] = manifest
        return f"{self.host}/{repo}:{tag}", layer_digests, config_digest

    def blob_requests(self, digest=None):
        with self.lock:
            return [p for p, _ in self.requests
                    if "/blobs/" in p and (digest is None or p.endswith(digest))]

    def stop(self):
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def registry():
    reg = HostileRegistry()
    yield reg
    reg.stop()


@pytest.fixture
def auth_registry():
    reg = HostileRegistry(auth=True)
    yield reg
    reg.stop()


def pull(registry, image, tmp_path, *args, dest=None, stdin=None, timeout=60):
    cmd = [BERTH, "pull", image, "--store", str(tmp_path / "store"),
           "--insecure-registry", registry.host]
    if dest is not None:
        cmd += ["--dest", str(dest)]
    cmd += [str(a) for a in args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=stdin)


def records(tmp_path):
    d = tmp_path / "store" / "images"
    return sorted(os.listdir(d)) if d.is_dir() else []


def assert_failed_cleanly(proc, tmp_path, dest=None):
    """Exit 1, no image record, nothing at --dest, no half-built rootfs beside it."""
    assert proc.returncode == 1, f"{proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "InternalFailure" not in proc.stderr, proc.stderr
    assert records(tmp_path) == []
    if dest is not None:
        assert not os.path.lexists(dest)
        assert not [n for n in os.listdir(tmp_path) if "berth-unpack" in n]


# --- item 12: the reason a layer was refused reaches the user ---------------------------------

def test_a_layer_escaping_the_rootfs_names_the_layer_and_records_nothing(registry, tmp_path):
    image, layers, _ = registry.add_image("team/app", "v1", [
        tar_gz([("etc/motd", b"hello\n")]), tar_gz([("../escape", b"pwned")])])
    dest = tmp_path / "rootfs"
    proc = pull(registry, image, tmp_path, dest=dest)
    assert_failed_cleanly(proc, tmp_path, dest)
    assert f"berth pull: CannotPullContainerError: {image}: layer 2 of 2 ({layers[1]}): " \
        in proc.stderr, proc.stderr
    assert 'entry "../escape": path has a ".." component' in proc.stderr, proc.stderr
    assert not os.path.exists(tmp_path / "escape")


def test_a_digest_mismatch_is_the_error_and_nothing_is_recorded(registry, tmp_path):
    image, layers, _ = registry.add_image("team/app", "v1", [tar_gz([("a", b"a")])])
    flipped = bytearray(registry.blobs[layers[0]])
    flipped[len(flipped) // 2] ^= 0x5A  # same size, other bytes
    registry.served_as[layers[0]] = bytes(flipped)
    proc = pull(registry, image, tmp_path, dest=tmp_path / "rootfs")
    assert_failed_cleanly(proc, tmp_path, tmp_path / "rootfs")
    assert "CannotPullContainerError" in proc.stderr
    assert f"blob {layers[0]}" in proc.stderr, proc.stderr
    assert f"blob digest mismatch: expected {layers[0]}" in proc.stderr, proc.stderr


def test_a_pull_that_succeeds_records_the_image(registry, tmp_path):
    image, _, _ = registry.add_image("team/app", "v1", [tar_gz([("etc/motd", b"hello\n")])])
    proc = pull(registry, image, tmp_path, dest=tmp_path / "rootfs")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "rootfs" / "etc" / "motd").read_bytes() == b"hello\n"
    assert len(records(tmp_path)) == 1


# --- item 14: limits ----------------------------------------------------------------------------

def test_a_layer_expanding_past_max_layer_bytes_fails_naming_layer_and_limit(registry, tmp_path):
    bomb = tar_gz([("zeros", bytes(8 << 20))])  # 8 MiB of zeros: a few KB of gzip
    assert len(bomb) < 64 << 10
    image, layers, _ = registry.add_image("team/app", "v1", [bomb])
    dest = tmp_path / "rootfs"
    proc = pull(registry, image, tmp_path, "--max-layer-bytes", "1MiB", dest=dest)
    assert_failed_cleanly(proc, tmp_path, dest)
    assert f"{image}: layer 1 of 1 ({layers[0]}): " in proc.stderr, proc.stderr
    assert "the layer expands to more than 1048576 bytes uncompressed, the limit for one layer" \
        in proc.stderr, proc.stderr


def test_a_layer_with_more_entries_than_max_layer_files_fails(registry, tmp_path):
    image, layers, _ = registry.add_image(
        "team/app", "v1", [tar_gz([(f"f{i}", b"x") for i in range(50)])])
    dest = tmp_path / "rootfs"
    proc = pull(registry, image, tmp_path, "--max-layer-files", "10", dest=dest)
    assert_failed_cleanly(proc, tmp_path, dest)
    assert f"layer 1 of 1 ({layers[0]}): " in proc.stderr, proc.stderr
    assert "the layer has more than 10 entries, the limit for one layer" in proc.stderr
    # Within the limit, the same layer unpacks.
    ok = pull(registry, image, tmp_path, "--max-layer-files", "50", dest=dest)
    assert ok.returncode == 0, ok.stderr


def test_an_oversized_image_config_is_refused_before_it_is_fetched(registry, tmp_path):
    config = b"{" + b" " * (9 << 20) + b"}"
    image, _, config_digest = registry.add_image("team/app", "v1", [tar_gz([("a", b"a")])],
                                                 config=config)
    proc = pull(registry, image, tmp_path)
    assert_failed_cleanly(proc, tmp_path)
    assert "the image config is 9437186 bytes, more than the 8388608 bytes an image config " \
           "may have" in proc.stderr, proc.stderr
    assert registry.blob_requests(config_digest) == []


def test_a_trickling_blob_is_abandoned_at_the_speed_floor_and_retried(registry, tmp_path):
    """Two bytes every 0.2 s is under the default floor (1 KiB/s); the floor is judged over
    2 s here instead of 30."""
    image, layers, _ = registry.add_image("team/app", "v1",
                                          [tar_gz([("data", os.urandom(64 << 10))])])
    registry.trickle[layers[0]] = 1  # only the first GET trickles
    proc = pull(registry, image, tmp_path, "--low-speed-time", "2", dest=tmp_path / "rootfs")
    assert proc.returncode == 0, proc.stderr
    assert len(registry.blob_requests(layers[0])) == 2
    assert len(records(tmp_path)) == 1


def test_the_pull_deadline_ends_a_registry_that_only_trickles(registry, tmp_path):
    image, layers, _ = registry.add_image("team/app", "v1",
                                          [tar_gz([("data", os.urandom(64 << 10))])])
    registry.trickle[layers[0]] = -1
    proc = pull(registry, image, tmp_path, "--timeout", "3s", "--low-speed-limit", "0",
                dest=tmp_path / "rootfs")
    assert_failed_cleanly(proc, tmp_path, tmp_path / "rootfs")
    assert f"berth pull: CannotPullContainerError: {image}: the pull timed out after 3s: " \
        in proc.stderr, proc.stderr


@pytest.mark.parametrize("kind", ["dangling symlink", "directory", "file"])
def test_an_existing_dest_fails_before_any_download(registry, tmp_path, kind):
    image, _, _ = registry.add_image("team/app", "v1", [tar_gz([("a", b"a")])])
    dest = tmp_path / "rootfs"
    if kind == "dangling symlink":
        os.symlink(tmp_path / "nowhere", dest)
        what = f"a symlink to {tmp_path / 'nowhere'}"
    elif kind == "directory":
        os.mkdir(dest)
        what = "a directory"
    else:
        dest.write_text("x")
        what = "a file"
    proc = pull(registry, image, tmp_path, dest=dest)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (f"berth pull: --dest: {dest} already exists ({what}): the rootfs is "
                           "created at a path that does not exist yet\n")
    assert registry.requests == []
    assert not os.path.exists(tmp_path / "nowhere")
    assert os.path.lexists(dest)


# --- item 14: the password from standard input ----------------------------------------------

def files_under(path):
    for base, _, files in os.walk(path):
        for name in files:
            with open(os.path.join(base, name), "rb") as f:
                yield os.path.join(base, name), f.read()


def test_password_stdin_authenticates_and_the_password_is_nowhere(auth_registry, tmp_path):
    image, _, _ = auth_registry.add_image("team/app", "v1", [tar_gz([("a", b"a")])])
    cmd_args = ["--username", USER, "--password-stdin"]
    proc = pull(auth_registry, image, tmp_path, *cmd_args, dest=tmp_path / "rootfs",
                stdin=PASSWORD + "\n")
    assert proc.returncode == 0, proc.stderr
    assert PASSWORD not in " ".join(cmd_args)  # what /proc/<pid>/cmdline shows
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert any(a == expected for p, a in auth_registry.requests if "/blobs/" in p)
    assert PASSWORD not in proc.stdout + proc.stderr
    for path, data in files_under(tmp_path / "store"):
        assert PASSWORD.encode() not in data, path


def test_a_wrong_password_on_stdin_fails_without_showing_it(auth_registry, tmp_path):
    image, _, _ = auth_registry.add_image("team/app", "v1", [tar_gz([("a", b"a")])])
    wrong = "wrong-stdin-password-5521"
    proc = pull(auth_registry, image, tmp_path, "--username", USER, "--password-stdin",
                stdin=wrong + "\r\n")
    assert proc.returncode == 1, proc.stderr
    assert "CannotPullContainerError" in proc.stderr
    assert "UNAUTHORIZED" in proc.stderr, proc.stderr
    assert wrong not in proc.stdout + proc.stderr
    for path, data in files_under(tmp_path / "store"):
        assert wrong.encode() not in data, path


@pytest.mark.parametrize("args,stdin,message", [
    (["--password-stdin"], "pw\n", "--username and --password-stdin go together"),
    (["--username", USER], "pw\n", "--username and --password-stdin go together"),
    (["--username", USER, "--password-stdin"], "", "no password on the first line"),
    (["--username", USER, "--password-stdin", "--creds", f"{USER}:pw"], "pw\n",
     "give one of --creds, --username with --password-stdin"),
])
def test_password_stdin_misuse_is_a_usage_error(registry, tmp_path, args, stdin, message):
    image, _, _ = registry.add_image("team/app", "v1", [tar_gz([("a", b"a")])])
    proc = pull(registry, image, tmp_path, *args, stdin=stdin)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr, proc.stderr
    assert registry.requests == []
