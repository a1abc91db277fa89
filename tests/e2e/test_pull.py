"""`berth pull` against real registries (issue 5, acceptance 1-3 and the pull
policies): Debian's docker-registry with htpasswd Basic auth over plain HTTP and
over TLS with a test CA, the same registry in token mode with a test token
server, images built with umoci and pushed with skopeo (OCI, Docker v2s2, zstd,
a multi-platform index), and a fault-injecting proxy in front of the registry.

The reference for every unpacked rootfs is `umoci unpack` of the same image.
"""
import base64
import collections
import hashlib
import http.client
import io
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from berth_harness import BERTH, free_port
from registry_harness import (PASSWORD, USER, Registry, TokenServer, push, run, tree_digest,
                              umoci_unpack)

CREDS = f"{USER}:{PASSWORD}"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST])
BIG_FILE_SIZE = 2 * 1024 * 1024  # random, so its layer is about this big compressed too


# --- helpers --------------------------------------------------------------------------------

def berth_pull(image, store, *args, dest=None, timeout=90):
    cmd = [BERTH, "pull", image, "--store", str(store)]
    if dest is not None:
        cmd += ["--dest", str(dest)]
    cmd += [str(a) for a in args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def ok(proc):
    assert proc.returncode == 0, f"berth pull failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


def full_tree(rootfs):
    """tree_digest plus what it leaves out: owners, modification times of everything but
    directories (whose times later layers legitimately change), and which regular files are
    hard links of each other (groups of paths sharing an inode)."""
    owners, mtimes, inodes = [], [], collections.defaultdict(list)
    for base, dirs, files in os.walk(rootfs):
        for name in dirs + files:
            full = os.path.join(base, name)
            rel = os.path.relpath(full, rootfs)
            st = os.lstat(full)
            owners.append((rel, st.st_uid, st.st_gid))
            if not stat.S_ISDIR(st.st_mode):
                mtimes.append((rel, int(st.st_mtime)))
            if not os.path.islink(full) and os.path.isfile(full) and st.st_nlink > 1:
                inodes[st.st_ino].append(rel)
    links = sorted(tuple(sorted(group)) for group in inodes.values() if len(group) > 1)
    return {"entries": tree_digest(rootfs), "owners": sorted(owners), "mtimes": sorted(mtimes),
            "hardlinks": links}


def assert_same_tree(actual_rootfs, expected):
    got = full_tree(actual_rootfs)
    for key in ("entries", "owners", "mtimes", "hardlinks"):
        if got[key] != expected[key]:
            a, e = set(got[key]), set(expected[key])
            raise AssertionError(f"rootfs differs from umoci's ({key}):\n"
                                 f"  only in berth's: {sorted(a - e)}\n"
                                 f"  only in umoci's: {sorted(e - a)}")


def corrupt_blobs(store):
    """Blobs under store/blobs/sha256/ whose content does not hash to their name."""
    bad = []
    blobs = os.path.join(str(store), "blobs", "sha256")
    if not os.path.isdir(blobs):
        return bad
    for name in os.listdir(blobs):
        with open(os.path.join(blobs, name), "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != name:
                bad.append(name)
    return bad


def store_blobs(store):
    blobs = os.path.join(str(store), "blobs", "sha256")
    return sorted(os.listdir(blobs)) if os.path.isdir(blobs) else []


def registry_get(registry, path, accept=ACCEPT):
    """GET from the registry with Basic auth (htpasswd mode); returns (status, headers, body)."""
    req = urllib.request.Request(f"{registry.url}{path}", headers={
        "Accept": accept,
        "Authorization": "Basic " + base64.b64encode(CREDS.encode()).decode()})
    ctx = None
    if registry.tls:
        import ssl
        ctx = ssl.create_default_context(cafile=registry.ca)
    try:
        with urllib.request.urlopen(req, timeout=30, context=ctx) as res:
            return res.status, dict(res.headers), res.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def layout_descriptor(layout, tag):
    with open(os.path.join(layout, "index.json")) as f:
        for d in json.load(f)["manifests"]:
            if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
                return d
    raise KeyError(tag)


def layout_blob(layout, digest):
    with open(os.path.join(layout, "blobs", "sha256", digest.split(":")[1]), "rb") as f:
        return f.read()


def write_layout_blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return f"sha256:{digest}", len(data)


def tar_layer(path, entries):
    """An uncompressed tar of (name, kind, data|linkname, mode, uid) entries."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, data, mode, uid in entries:
            ti = tarfile.TarInfo(name)
            ti.mode, ti.uid, ti.gid, ti.mtime = mode, uid, uid, 1700000000
            if kind == "dir":
                ti.type = tarfile.DIRTYPE
                t.addfile(ti)
            elif kind == "hardlink":
                ti.type, ti.linkname = tarfile.LNKTYPE, data
                t.addfile(ti)
            else:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))


def add_busybox(rootfs):
    os.makedirs(os.path.join(rootfs, "bin"), exist_ok=True)
    shutil.copy2("/bin/busybox", os.path.join(rootfs, "bin", "busybox"))
    for name in ("sh", "echo", "cat", "ls", "sleep", "true"):
        os.symlink("busybox", os.path.join(rootfs, "bin", name))
    os.makedirs(os.path.join(rootfs, "etc"), exist_ok=True)
    with open(os.path.join(rootfs, "etc", "motd"), "w") as f:
        f.write("berth test image\n")


def write(rootfs, rel, data, mode=None):
    full = os.path.join(rootfs, rel)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    if mode is not None:
        os.chmod(full, mode)


def build_main_image(workdir, tag="v1"):
    """Four layers: busybox; application files (symlinks relative and absolute and to a
    directory, an executable, a setuid file, a 0600 file, a 0700 and a sticky directory,
    a hard link, 2 MiB of random data); deletions (a file, a whole directory, the contents
    of a directory that is recreated, a file replaced by a directory, a mode change, a
    content change through a hard link); and a hand-written layer with an opaque whiteout,
    a hard link and files owned by uid 1000. Returns the layout path."""
    layout, bundle = os.path.join(workdir, "layout"), os.path.join(workdir, "bundle")
    run("umoci", "init", "--layout", layout)
    run("umoci", "new", "--image", f"{layout}:{tag}")
    run("umoci", "unpack", "--image", f"{layout}:{tag}", bundle)
    r = os.path.join(bundle, "rootfs")
    repack = ("umoci", "repack", "--refresh-bundle", "--image", f"{layout}:{tag}", bundle)

    add_busybox(r)
    run(*repack)

    write(r, "app/keep.txt", "keep me\n")
    write(r, "app/delete-me.txt", "deleted in an upper layer\n")
    write(r, "app/run.sh", "#!/bin/sh\necho run\n", 0o755)
    write(r, "app/suid", "setuid\n", 0o4755)
    write(r, "app/secret", "0600\n", 0o600)
    write(r, "app/was-file", "a file, later a directory\n")
    os.link(os.path.join(r, "app/keep.txt"), os.path.join(r, "app/keep-hardlink"))
    os.symlink("keep.txt", os.path.join(r, "app/rel-link"))
    os.symlink("/etc/motd", os.path.join(r, "app/abs-link"))
    os.symlink("../etc", os.path.join(r, "app/etc-dir-link"))
    os.symlink("does-not-exist", os.path.join(r, "app/dangling"))
    write(r, "app/private/inside", "in a 0700 directory\n")
    os.chmod(os.path.join(r, "app/private"), 0o700)
    os.makedirs(os.path.join(r, "tmp"))
    os.chmod(os.path.join(r, "tmp"), 0o1777)
    write(r, "app/big.bin", random.Random(5).randbytes(BIG_FILE_SIZE))
    write(r, "cache/a", "cached a\n")
    write(r, "cache/sub/b", "cached b\n")
    write(r, "gone/deep/file", "the whole directory goes\n")
    write(r, "opq/old-1", "hidden by an opaque whiteout\n")
    write(r, "opq/old-dir/old-2", "hidden too\n")
    run(*repack)

    os.remove(os.path.join(r, "app/delete-me.txt"))
    shutil.rmtree(os.path.join(r, "gone"))
    shutil.rmtree(os.path.join(r, "cache"))
    write(r, "cache/new", "recreated\n")
    os.remove(os.path.join(r, "app/was-file"))
    write(r, "app/was-file/now-inside", "now a directory\n")
    os.chmod(os.path.join(r, "app/run.sh"), 0o750)
    with open(os.path.join(r, "app/keep.txt"), "a") as f:  # through both names of the inode
        f.write("changed in layer 3\n")
    run(*repack)

    tar = os.path.join(workdir, "layer4.tar")
    tar_layer(tar, [
        ("opq", "dir", None, 0o755, 0),
        ("opq/.wh..wh..opq", "file", b"", 0o644, 0),
        ("opq/fresh", "file", b"after the opaque whiteout\n", 0o640, 1000),
        ("opq/fresh-hardlink", "hardlink", "opq/fresh", 0o640, 1000),
        ("home", "dir", None, 0o755, 0),
        ("home/user", "dir", None, 0o750, 1000),
        ("home/user/.profile", "file", b"export PS1='$ '\n", 0o644, 1000),
    ])
    run("umoci", "raw", "add-layer", "--image", f"{layout}:{tag}", tar)
    run("umoci", "config", "--image", f"{layout}:{tag}", "--config.cmd", "/bin/sh")
    shutil.rmtree(bundle)
    return layout


def add_platform_images(layout):
    """Two small single-layer images (tags amd and arm, configs saying linux/amd64 and
    linux/arm64, /etc/arch differing) and tag `multi` naming an OCI index of both, arm64
    listed first (so picking the first entry is not picking the host's platform)."""
    entries = []
    for tag, arch in (("arm", "arm64"), ("amd", "amd64")):
        bundle = os.path.join(os.path.dirname(layout), f"bundle-{tag}")
        run("umoci", "new", "--image", f"{layout}:{tag}")
        run("umoci", "unpack", "--image", f"{layout}:{tag}", bundle)
        r = os.path.join(bundle, "rootfs")
        write(r, "etc/arch", f"{arch}\n")
        write(r, f"only-on-{arch}", f"{arch} only\n")
        run("umoci", "repack", "--image", f"{layout}:{tag}", bundle)
        run("umoci", "config", "--image", f"{layout}:{tag}", "--os", "linux",
            "--architecture", arch)
        shutil.rmtree(bundle)
        d = layout_descriptor(layout, tag)
        config_digest = json.loads(layout_blob(layout, d["digest"]))["config"]["digest"]
        assert json.loads(layout_blob(layout, config_digest))["architecture"] == arch
        entries.append({"mediaType": OCI_MANIFEST, "digest": d["digest"], "size": d["size"],
                        "platform": {"architecture": arch, "os": "linux"}})
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                        "manifests": entries}).encode()
    digest, size = write_layout_blob(layout, index)
    path = os.path.join(layout, "index.json")
    with open(path) as f:
        top = json.load(f)
    top["manifests"].append({"mediaType": OCI_INDEX, "digest": digest, "size": size,
                             "annotations": {"org.opencontainers.image.ref.name": "multi"}})
    with open(path, "w") as f:
        json.dump(top, f)


def skopeo_push(src, registry, dest, *extra):
    args = ["skopeo", "copy", "--quiet", "--dest-creds", CREDS, *extra]
    if registry.tls:
        args += ["--dest-cert-dir", os.path.join(os.path.dirname(registry.ca), "certs")]
    else:
        args += ["--dest-tls-verify=false"]
    run(*args, src, f"docker://{registry.host}/{dest}")
    return f"{registry.host}/{dest}"


def served_manifest(registry, repo, tag):
    status, headers, body = registry_get(registry, f"/v2/{repo}/manifests/{tag}")
    assert status == 200, (status, body)
    return headers.get("Content-Type"), json.loads(body)


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


# --- the fault proxy ------------------------------------------------------------------------

BLOB_PATH = re.compile(r"^/v2/(.+)/blobs/(sha256:[0-9a-f]{64})$")


class FaultProxy:
    """An HTTP/1.1 proxy on 127.0.0.1 in front of a plain-HTTP registry that injects faults
    into blob GETs. Per blob digest (only `target`'s when set):
      fail_500 = N    the first N GET requests are answered 500
      reset_first     the first served body is cut after half its bytes with a TCP RST
      flip_first      the first served body has one byte flipped (in the middle)
      slow = (chunk, delay)  bodies are written `chunk` bytes every `delay` seconds
    It counts requests (`requests`) and bodies served 200/206 (`served`) per digest,
    the bytes written (`bytes_sent`) and the Range headers received (`ranges`)."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.fail_500, self.reset_first, self.flip_first = 0, False, False
        self.slow, self.target = None, None
        self.requests = collections.Counter()
        self.served = collections.Counter()
        self.bytes_sent = collections.Counter()
        self.ranges = []
        self.lock = threading.Lock()
        self.stopping = False
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def finish(self):
                try:
                    super().finish()
                except OSError:
                    pass

            def do_GET(self):
                self.forward("GET")

            def do_HEAD(self):
                self.forward("HEAD")

            def respond(self, status, headers, body, head=False, slow=None, digest=None):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if head:
                    return
                if not slow:
                    self.wfile.write(body)
                    with outer.lock:
                        outer.bytes_sent[digest] += len(body)
                    return
                chunk, delay = slow
                for i in range(0, len(body), chunk):
                    if outer.stopping:
                        raise ConnectionResetError("proxy stopping")
                    self.wfile.write(body[i:i + chunk])
                    with outer.lock:
                        outer.bytes_sent[digest] += len(body[i:i + chunk])
                    time.sleep(delay)

            def forward(self, method):
                m = BLOB_PATH.match(urllib.parse.urlsplit(self.path).path)
                digest = m.group(2) if m and method == "GET" else None
                targeted = digest is not None and outer.target in (None, digest)
                if targeted:
                    with outer.lock:
                        outer.requests[digest] += 1
                        attempt = outer.requests[digest]
                        outer.ranges.append((digest, self.headers.get("Range")))
                    if attempt <= outer.fail_500:
                        body = json.dumps({"errors": [{"code": "UNKNOWN",
                                                       "message": "injected 500"}]}).encode()
                        self.respond(500, [("Content-Type", "application/json")], body)
                        return
                conn = http.client.HTTPConnection(outer.upstream, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items()
                               if k.lower() not in ("connection", "keep-alive")}
                    conn.request(method, self.path, headers=headers)
                    res = conn.getresponse()
                    body = res.read()
                    status = res.status
                    out_headers = [(k, v) for k, v in res.getheaders()
                                   if k.lower() not in ("content-length", "transfer-encoding",
                                                        "connection", "keep-alive")]
                finally:
                    conn.close()
                if method == "HEAD":
                    length = dict((k.lower(), v) for k, v in res.getheaders()).get("content-length")
                    self.send_response(status)
                    for k, v in out_headers:
                        self.send_header(k, v)
                    if length is not None:
                        self.send_header("Content-Length", length)
                    self.end_headers()
                    return
                served = 0
                if targeted and status in (200, 206):
                    with outer.lock:
                        outer.served[digest] += 1
                        served = outer.served[digest]
                if served == 1 and outer.flip_first and len(body) > 0:
                    body = bytearray(body)
                    body[len(body) // 2] ^= 0x5A
                    body = bytes(body)
                if served == 1 and outer.reset_first and len(body) > 1:
                    self.send_response(status)
                    for k, v in out_headers:
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[:len(body) // 2])
                    self.wfile.flush()
                    with outer.lock:
                        outer.bytes_sent[digest] += len(body) // 2
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                    self.connection.close()  # RST, mid-body
                    self.close_connection = True
                    return
                try:
                    self.respond(status, out_headers, body,
                                 slow=outer.slow if digest else None, digest=digest)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass

        self.server = Server(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping = True
        self.server.shutdown()
        self.server.server_close()


# --- fixtures -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """The images, built once: layout tags v1 (main), amd, arm, multi (index); the zstd
    copy of v1; and umoci's rootfs of each, as full_tree()."""
    work = tmp_path_factory.mktemp("images")
    layout = build_main_image(str(work))
    add_platform_images(layout)
    zstd_layout = os.path.join(str(work), "zstd-layout")
    run("skopeo", "copy", "--quiet", "--dest-compress-format", "zstd", "--dest-compress",
        f"oci:{layout}:v1", f"oci:{zstd_layout}:v1")
    reference = {}
    for tag in ("v1", "amd", "arm"):
        reference[tag] = full_tree(umoci_unpack(layout, tag, os.path.join(str(work), f"ref-{tag}")))
    manifest = json.loads(layout_blob(layout, layout_descriptor(layout, "v1")["digest"]))
    layers = manifest["layers"]
    assert len(layers) == 4
    big = max(layers, key=lambda l: l["size"])
    assert big["size"] > BIG_FILE_SIZE // 2
    return {"layout": layout, "zstd_layout": zstd_layout, "reference": reference,
            "layers": layers, "config": manifest["config"], "big_layer": big["digest"]}


@pytest.fixture(scope="module")
def registry(tmp_path_factory, images):
    """Basic auth over plain HTTP, with team/zstd:v1 (pushed first, so no gzip copy of its
    layers is there for skopeo to reuse), team/app:v1 (OCI), team/app-v2s2:v1 (Docker v2s2)
    and team/multi:v1 (an OCI index)."""
    reg = Registry(tmp_path_factory.mktemp("registry"))
    try:
        skopeo_push(f"oci:{images['zstd_layout']}:v1", reg, "team/zstd:v1", "--format", "oci")
        push(images["layout"], "v1", reg, "team/app", fmt="oci")
        push(images["layout"], "v1", reg, "team/app-v2s2", fmt="v2s2")
        skopeo_push(f"oci:{images['layout']}:multi", reg, "team/multi:v1", "--all")
    except BaseException:
        reg.stop()
        raise
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory, images):
    reg = Registry(tmp_path_factory.mktemp("tls-registry"), tls=True)
    try:
        push(images["layout"], "v1", reg, "team/app")
    except BaseException:
        reg.stop()
        raise
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory, images):
    work = tmp_path_factory.mktemp("token-registry")
    tokens = TokenServer(work)
    try:
        reg = Registry(work / "registry", auth="token", token_server=tokens)
    except BaseException:
        tokens.stop()
        raise
    try:
        push(images["layout"], "v1", reg, "team/app")
    except BaseException:
        reg.stop()
        tokens.stop()
        raise
    yield reg, tokens
    reg.stop()
    tokens.stop()


@pytest.fixture
def proxy(registry):
    p = FaultProxy(registry.host)
    yield p
    p.stop()


def proxied(proxy, repo="team/app:v1"):
    return f"{proxy.host}/{repo}", ["--creds", CREDS, "--insecure-registry", proxy.host]


# --- acceptance 1: authentication and the registry's errors ---------------------------------

def test_basic_auth_over_plain_http(registry, images, tmp_path):
    proc = ok(berth_pull(f"{registry.host}/team/app:v1", tmp_path / "store", "--creds", CREDS,
                         "--insecure-registry", registry.host, dest=tmp_path / "rootfs"))
    assert "Digest: sha256:" in proc.stdout
    assert_same_tree(tmp_path / "rootfs", images["reference"]["v1"])
    assert corrupt_blobs(tmp_path / "store") == []
    expected = {l["digest"].split(":")[1] for l in images["layers"]}
    expected.add(images["config"]["digest"].split(":")[1])
    assert expected <= set(store_blobs(tmp_path / "store"))


def test_basic_auth_over_tls_with_test_ca(tls_registry, images, tmp_path):
    ref = f"{tls_registry.host}/team/app:v1"
    ok(berth_pull(ref, tmp_path / "store", "--creds", CREDS, "--ca-file", tls_registry.ca,
                  dest=tmp_path / "rootfs"))
    assert_same_tree(tmp_path / "rootfs", images["reference"]["v1"])


def test_tls_without_the_test_ca_fails_with_a_certificate_error(tls_registry, tmp_path):
    proc = berth_pull(f"{tls_registry.host}/team/app:v1", tmp_path / "store", "--creds", CREDS,
                      dest=tmp_path / "rootfs")
    assert proc.returncode == 1, proc.stderr
    assert "CannotPullContainerError" in proc.stderr
    assert re.search(r"certificate", proc.stderr, re.I), proc.stderr
    assert not os.path.exists(tmp_path / "rootfs")
    assert store_blobs(tmp_path / "store") == []


def test_bearer_token_auth(token_registry, images, tmp_path):
    reg, tokens = token_registry
    before = tokens.requests
    ok(berth_pull(f"{reg.host}/team/app:v1", tmp_path / "store", "--creds", CREDS,
                  "--insecure-registry", f"127.0.0.1:{tokens.port}",
                  "--insecure-registry", reg.host, dest=tmp_path / "rootfs"))
    assert tokens.requests > before, "no token was requested"
    assert_same_tree(tmp_path / "rootfs", images["reference"]["v1"])


def test_bearer_without_credentials_is_an_auth_error(token_registry, tmp_path):
    reg, tokens = token_registry
    proc = berth_pull(f"{reg.host}/team/app:v1", tmp_path / "store",
                      "--insecure-registry", f"127.0.0.1:{tokens.port}",
                      "--insecure-registry", reg.host)
    assert proc.returncode == 1, proc.stdout
    assert "CannotPullContainerAuthError" in proc.stderr


def test_docker_config_auths_entry(registry, images, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {
        "other.example.com:5000": {"auth": base64.b64encode(b"nobody:nothing").decode()},
        registry.host: {"auth": base64.b64encode(CREDS.encode()).decode()}}}))
    ok(berth_pull(f"{registry.host}/team/app:v1", tmp_path / "store", "--docker-config", config,
                  "--insecure-registry", registry.host, dest=tmp_path / "rootfs"))
    assert_same_tree(tmp_path / "rootfs", images["reference"]["v1"])


def test_docker_config_for_another_host_gives_no_credentials(registry, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {
        "127.0.0.2:5000": {"auth": base64.b64encode(CREDS.encode()).decode()}}}))
    proc = berth_pull(f"{registry.host}/team/app:v1", tmp_path / "store", "--docker-config",
                      config, "--insecure-registry", registry.host)
    assert proc.returncode == 1
    assert "CannotPullContainerAuthError" in proc.stderr


def test_no_credentials_is_cannot_pull_container_auth_error(registry, tmp_path):
    proc = berth_pull(f"{registry.host}/team/app:v1", tmp_path / "store",
                      "--insecure-registry", registry.host, dest=tmp_path / "rootfs")
    assert proc.returncode == 1, proc.stdout
    assert "CannotPullContainerAuthError" in proc.stderr
    assert not os.path.exists(tmp_path / "rootfs")


def test_wrong_password_is_unauthorized(registry, tmp_path):
    proc = berth_pull(f"{registry.host}/team/app:v1", tmp_path / "store",
                      "--creds", f"{USER}:not-the-password", "--insecure-registry", registry.host)
    assert proc.returncode == 1, proc.stdout
    assert "CannotPullContainerError" in proc.stderr
    assert "CannotPullContainerAuthError" not in proc.stderr
    assert "UNAUTHORIZED" in proc.stderr
    assert "not-the-password" not in proc.stderr + proc.stdout


@pytest.mark.parametrize("image", ["team/no-such-repo:v1", "team/app:no-such-tag"])
def test_unknown_repository_or_tag_reports_the_registry_code(registry, tmp_path, image):
    # What docker-registry 2.8 itself answers, so the test follows the registry.
    status, _, body = registry_get(registry, "/v2/{}/manifests/{}".format(*image.split(":")))
    assert status == 404
    code = json.loads(body)["errors"][0]["code"]
    assert code in ("MANIFEST_UNKNOWN", "NAME_UNKNOWN")
    proc = berth_pull(f"{registry.host}/{image}", tmp_path / "store", "--creds", CREDS,
                      "--insecure-registry", registry.host)
    assert proc.returncode == 1, proc.stdout
    assert "CannotPullContainerError" in proc.stderr
    assert code in proc.stderr, proc.stderr


def test_plain_http_registry_not_listed_as_insecure_fails_clearly(registry, tmp_path):
    proc = berth_pull(f"{registry.host}/team/app:v1", tmp_path / "store", "--creds", CREDS,
                      dest=tmp_path / "rootfs")
    assert proc.returncode == 1, proc.stdout
    assert "CannotPullContainerError" in proc.stderr
    assert "insecure" in proc.stderr, proc.stderr
    assert not os.path.exists(tmp_path / "rootfs")


# --- acceptance 2: the rootfs is what umoci unpacks -----------------------------------------

def test_reference_image_has_the_interesting_entries(images):
    """Guards the fixture: the layers hold what the unpack tests claim to cover."""
    layout = images["layout"]
    names = []
    for layer in images["layers"]:
        path = os.path.join(layout, "blobs", "sha256", layer["digest"].split(":")[1])
        with tarfile.open(path, "r:gz") as t:
            names.append({(m.name[2:] if m.name.startswith("./") else m.name): m
                          for m in t.getmembers()})
    assert "app/.wh.delete-me.txt" in names[2] and ".wh.gone" in names[2]
    assert "opq/.wh..wh..opq" in names[3]
    assert any(m.islnk() for m in names[1].values())
    assert any(m.issym() for m in names[1].values())
    tree = dict(((e[0], e) for e in images["reference"]["v1"]["entries"]))
    assert "app/delete-me.txt" not in tree and "gone" not in tree
    assert "opq/old-1" not in tree and "opq/fresh" in tree
    assert tree["app/run.sh"][2] == 0o750 and tree["app/suid"][2] == 0o4755
    assert tree["app/rel-link"][1:] == ("l", 0o777, "keep.txt")
    assert ("opq/fresh", "opq/fresh-hardlink") in images["reference"]["v1"]["hardlinks"]


@pytest.mark.parametrize("repo,media_type", [("team/app", OCI_MANIFEST),
                                             ("team/app-v2s2", DOCKER_MANIFEST)])
def test_rootfs_matches_umoci(registry, images, tmp_path, repo, media_type):
    content_type, manifest = served_manifest(registry, repo, "v1")
    assert content_type == media_type
    assert len(manifest["layers"]) == 4
    ok(berth_pull(f"{registry.host}/{repo}:v1", tmp_path / "store", "--creds", CREDS,
                  "--insecure-registry", registry.host, dest=tmp_path / "rootfs"))
    assert_same_tree(tmp_path / "rootfs", images["reference"]["v1"])


def test_zstd_layers_match_umoci(registry, images, tmp_path):
    _, manifest = served_manifest(registry, "team/zstd", "v1")
    types = {l["mediaType"] for l in manifest["layers"]}
    if types != {"application/vnd.oci.image.layer.v1.tar+zstd"}:
        pytest.skip(f"skopeo did not push zstd layers (layer media types {types})")
    ok(berth_pull(f"{registry.host}/team/zstd:v1", tmp_path / "store", "--creds", CREDS,
                  "--insecure-registry", registry.host, dest=tmp_path / "rootfs"))
    # umoci 0.4.7 cannot unpack zstd; the zstd copy holds the same tars as the gzip image.
    assert_same_tree(tmp_path / "rootfs", images["reference"]["v1"])


HOST_TAG = {"x86_64": "amd", "aarch64": "arm"}.get(platform.machine())


@pytest.mark.parametrize("wanted,expected", [(None, HOST_TAG), ("linux/arm64", "arm"),
                                             ("linux/amd64", "amd")])
def test_multi_platform_index(registry, images, tmp_path, wanted, expected):
    content_type, index = served_manifest(registry, "team/multi", "v1")
    assert content_type == OCI_INDEX
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["arm64", "amd64"]
    args = ["--creds", CREDS, "--insecure-registry", registry.host]
    if wanted:
        args += ["--platform", wanted]
    proc = ok(berth_pull(f"{registry.host}/team/multi:v1", tmp_path / "store", *args,
                         dest=tmp_path / "rootfs"))
    arch = "arm64" if expected == "arm" else "amd64"
    assert (tmp_path / "rootfs" / "etc" / "arch").read_text() == f"{arch}\n"
    assert_same_tree(tmp_path / "rootfs", images["reference"][expected])
    # The digest printed is the index's (what the tag resolved to).
    status, headers, _ = registry_get(registry, "/v2/team/multi/manifests/v1")
    assert f"Digest: {headers['Docker-Content-Digest']}" in proc.stdout


def test_platform_not_in_the_index_fails(registry, tmp_path):
    proc = berth_pull(f"{registry.host}/team/multi:v1", tmp_path / "store", "--creds", CREDS,
                      "--insecure-registry", registry.host, "--platform", "linux/s390x")
    assert proc.returncode == 1, proc.stdout
    assert "CannotPullContainerError" in proc.stderr
    assert "s390x" in proc.stderr


# --- acceptance 3: faults -------------------------------------------------------------------

def test_500s_are_retried(proxy, images, tmp_path):
    proxy.fail_500 = 2
    image, args = proxied(proxy)
    ok(berth_pull(image, tmp_path / "store", *args, dest=tmp_path / "rootfs"))
    assert_same_tree(tmp_path / "rootfs", images["reference"]["v1"])
    for layer in images["layers"]:
        assert proxy.requests[layer["digest"]] >= 3, dict(proxy.requests)
        assert proxy.served[layer["digest"]] >= 1
    assert corrupt_blobs(tmp_path / "store") == []


def test_500s_beyond_the_retry_budget_fail_with_the_registry_error(proxy, images, tmp_path):
    proxy.fail_500 = 1000
    proxy.target = images["big_layer"]
    image, args = proxied(proxy)
    proc = berth_pull(image, tmp_path / "store", *args, dest=tmp_path / "rootfs")
    assert proc.returncode == 1
    assert "CannotPullContainerError" in proc.stderr
    assert "500" in proc.stderr
    assert 2 <= proxy.requests[images["big_layer"]] <= 10
    assert not os.path.exists(tmp_path / "rootfs")
    assert images["big_layer"].split(":")[1] not in store_blobs(tmp_path / "store")


def test_connection_reset_mid_body_is_retried(proxy, images, tmp_path):
    proxy.reset_first = True
    proxy.target = images["big_layer"]
    image, args = proxied(proxy)
    ok(berth_pull(image, tmp_path / "store", *args, dest=tmp_path / "rootfs"))
    assert proxy.served[images["big_layer"]] >= 2, dict(proxy.served)
    assert_same_tree(tmp_path / "rootfs", images["reference"]["v1"])
    assert corrupt_blobs(tmp_path / "store") == []


def test_flipped_byte_is_caught_and_the_blob_fetched_again(proxy, images, tmp_path):
    proxy.flip_first = True
    proxy.target = images["big_layer"]
    image, args = proxied(proxy)
    ok(berth_pull(image, tmp_path / "store", *args, dest=tmp_path / "rootfs"))
    assert proxy.served[images["big_layer"]] >= 2, dict(proxy.served)
    assert corrupt_blobs(tmp_path / "store") == []
    assert images["big_layer"].split(":")[1] in store_blobs(tmp_path / "store")
    assert_same_tree(tmp_path / "rootfs", images["reference"]["v1"])


def test_kill_9_mid_pull_then_pull_again(proxy, images, tmp_path):
    big = images["big_layer"]
    big_size = next(l["size"] for l in images["layers"] if l["digest"] == big)
    proxy.slow = (16 * 1024, 0.02)  # about 0.8 MB/s: the 2 MiB layer takes ~2.5 s
    image, args = proxied(proxy)
    store, dest = tmp_path / "store", tmp_path / "rootfs"
    cmd = [BERTH, "pull", image, "--store", str(store), "--dest", str(dest), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: proxy.bytes_sent[big] >= big_size // 4 or proc.poll() is not None,
                 30, "the big layer to be under way")
        assert proc.poll() is None, "the pull ended before it could be killed"
        assert proxy.bytes_sent[big] < big_size
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert big.split(":")[1] not in store_blobs(store)
    assert corrupt_blobs(store) == []
    assert not os.path.exists(dest), "a killed pull left a rootfs at --dest"

    proxy.slow = None
    ranges_before = len(proxy.ranges)
    ok(berth_pull(image, store, *args, dest=dest))
    assert_same_tree(dest, images["reference"]["v1"])
    assert corrupt_blobs(store) == []
    assert big.split(":")[1] in store_blobs(store)
    resumed = [r for d, r in proxy.ranges[ranges_before:] if d == big]
    print(f"Range headers on the big layer after the kill: {resumed}")


# --- pull policies --------------------------------------------------------------------------

@pytest.fixture
def cached_then_stopped(tmp_path, images):
    """A registry with team/app:v1, pulled once into tmp_path/store, then stopped."""
    reg = Registry(tmp_path / "registry")
    try:
        ref = push(images["layout"], "v1", reg, "team/app")
        ok(berth_pull(ref, tmp_path / "store", "--creds", CREDS, "--insecure-registry", reg.host))
    finally:
        reg.stop()
    with pytest.raises(ConnectionRefusedError):  # the registry really is gone
        socket.create_connection(("127.0.0.1", reg.port), timeout=2).close()
    return ref, reg.host, tmp_path / "store"


@pytest.mark.parametrize("policy", ["prefer-cached", "once", "default"])
def test_cached_image_is_used_with_the_registry_stopped(cached_then_stopped, images, tmp_path,
                                                        policy):
    ref, host, store = cached_then_stopped
    args = ["--creds", CREDS, "--insecure-registry", host, "--pull-policy", policy]
    proc = ok(berth_pull(ref, store, *args, dest=tmp_path / "rootfs"))
    assert "up to date" in proc.stdout
    assert_same_tree(tmp_path / "rootfs", images["reference"]["v1"])
    if policy == "default":
        # The registry was asked, failed, and the cache was used instead.
        assert "warning" in proc.stderr and "cached" in proc.stderr, proc.stderr
    else:
        assert proc.stderr == "", proc.stderr  # the registry was not even asked


def test_prefer_cached_without_a_cache_fails_with_the_registry_stopped(cached_then_stopped,
                                                                      tmp_path):
    ref, host, _ = cached_then_stopped
    proc = berth_pull(ref, tmp_path / "empty-store", "--creds", CREDS, "--insecure-registry", host,
                      "--pull-policy", "prefer-cached")
    assert proc.returncode == 1, proc.stdout
    assert "CannotPullContainerError" in proc.stderr


def test_always_fails_with_the_registry_stopped(cached_then_stopped, tmp_path):
    ref, host, store = cached_then_stopped
    proc = berth_pull(ref, store, "--creds", CREDS, "--insecure-registry", host,
                      "--pull-policy", "always", dest=tmp_path / "rootfs")
    assert proc.returncode == 1, proc.stdout
    assert "CannotPullContainerError" in proc.stderr
    assert not os.path.exists(tmp_path / "rootfs")


# --- the terminal view and garbage collection -------------------------------------------------

def test_progress_bars_on_a_terminal(registry, tmp_path):
    """On a tty berth draws a bar per layer and redraws it in place (ANSI cursor-up)."""
    import pty
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(BERTH, [BERTH, "pull", f"{registry.host}/team/app:v1", "--store",
                         str(tmp_path / "store"), "--creds", CREDS, "--insecure-registry",
                         registry.host])
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    text = out.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "\x1b[" in text and "Pull complete" in text, text
    assert "Downloaded newer image" in text


def test_image_rm_and_prune_collect_unreferenced_blobs(registry, images, tmp_path):
    store = tmp_path / "store"
    ok(berth_pull(f"{registry.host}/team/app:v1", store, "--creds", CREDS, "--insecure-registry",
                  registry.host))
    ok(berth_pull(f"{registry.host}/team/multi:v1", store, "--creds", CREDS,
                  "--insecure-registry", registry.host))
    before = set(store_blobs(store))
    prune = subprocess.run([BERTH, "image", "prune", "--store", str(store)], capture_output=True,
                           text=True, timeout=30)
    assert prune.returncode == 0 and "Total reclaimed space: 0B" in prune.stdout, prune.stdout
    assert set(store_blobs(store)) == before
    rm = subprocess.run([BERTH, "image", "rm", f"{registry.host}/team/app:v1", "--store", str(store)],
                        capture_output=True, text=True, timeout=30)
    assert rm.returncode == 0, rm.stderr
    subprocess.run([BERTH, "image", "prune", "--store", str(store)], check=True, timeout=30)
    after = set(store_blobs(store))
    app_layers = {l["digest"].split(":")[1] for l in images["layers"]}
    assert not (app_layers & after), "the forgotten image's layers are gone"
    assert after and after < before, "the other image's blobs stay"
    # The remaining image still pulls from the store alone.
    ok(berth_pull(f"{registry.host}/team/multi:v1", store, "--pull-policy", "prefer-cached",
                  dest=tmp_path / "rootfs"))
    missing = subprocess.run([BERTH, "image", "rm", "127.0.0.1:1/none:v1", "--store", str(store)],
                             capture_output=True, text=True, timeout=30)
    assert missing.returncode == 1 and "no such image" in missing.stderr
