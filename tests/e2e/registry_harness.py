"""Real registries and real images for the e2e tests.

`Registry` runs Debian's docker-registry on 127.0.0.1 (a free port, the
test's own temp dir) with htpasswd Basic auth, optionally over TLS with a test
CA, or in token mode with `TokenServer`, a small JWT issuer (python3-jwt).
`build_image` makes OCI images with umoci from busybox-static plus generated
layers; `push` copies them with skopeo (OCI or Docker v2s2 manifests).
"""
import base64
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from berth_harness import free_port, wait_for_port

USER, PASSWORD = "berth-test", "s3cret-pa55word!"


def run(*cmd, **kw):
    proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=120, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr}")
    return proc.stdout


def make_ca_and_cert(directory, host="127.0.0.1"):
    """A test CA and a server certificate for `host`; returns (ca.pem, cert.pem, key.pem)."""
    d = str(directory)
    ca_key, ca = os.path.join(d, "ca.key"), os.path.join(d, "ca.pem")
    key, csr, cert = os.path.join(d, "server.key"), os.path.join(d, "server.csr"), os.path.join(d, "server.pem")
    ext = os.path.join(d, "ext.cnf")
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
        "-days", "2", "-subj", "/CN=berth test CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
        "-subj", f"/CN={host}")
    with open(ext, "w") as f:
        f.write(f"subjectAltName=IP:{host},DNS:localhost\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", ext)
    # skopeo's --dest-cert-dir wants a directory of *.crt CAs and nothing else.
    certs = os.path.join(d, "certs")
    os.makedirs(certs, exist_ok=True)
    shutil.copy(ca, os.path.join(certs, "ca.crt"))
    return ca, cert, key


class TokenServer:
    """Issues registry bearer tokens (RS256 JWTs with an x5c chain) to Basic-authenticated
    callers, the way docker/distribution's token auth expects."""

    def __init__(self, directory, service="berth-test-registry", issuer="berth-test-issuer"):
        import jwt  # python3-jwt
        self.jwt = jwt
        d = str(directory)
        self.key = os.path.join(d, "token.key")
        self.cert = os.path.join(d, "token.pem")
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key,
            "-out", self.cert, "-days", "2", "-subj", "/CN=berth token issuer")
        der = subprocess.run(["openssl", "x509", "-in", self.cert, "-outform", "DER"],
                             capture_output=True, check=True).stdout
        self.x5c = base64.b64encode(der).decode()
        self.private_key = open(self.key).read()
        self.service, self.issuer = service, issuer
        self.requests = 0
        self.port = free_port()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.requests += 1
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("Basic ") or base64.b64decode(auth[6:]).decode() != \
                        f"{USER}:{PASSWORD}":
                    body = json.dumps({"details": "invalid username or password"}).encode()
                    self.send_response(401)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                access = []
                for scope in q.get("scope", []):
                    kind, name, actions = scope.split(":")
                    access.append({"type": kind, "name": name, "actions": actions.split(",")})
                now = int(time.time())
                token = outer.jwt.encode(
                    {"iss": outer.issuer, "sub": USER, "aud": outer.service, "exp": now + 300,
                     "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(), "access": access},
                    outer.private_key, algorithm="RS256", headers={"x5c": [outer.x5c]})
                body = json.dumps({"token": token, "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.realm = f"http://127.0.0.1:{self.port}/token"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Registry:
    """docker-registry on 127.0.0.1; auth "htpasswd" (Basic), "token" or None."""

    def __init__(self, directory, auth="htpasswd", tls=False, token_server=None):
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.tls = tls
        self.ca = None
        config = {"version": 0.1, "log": {"level": "warn"},
                  "storage": {"filesystem": {"rootdirectory": os.path.join(self.dir, "data")},
                              "delete": {"enabled": True}},
                  "http": {"addr": self.host, "secret": "berth-test"}}
        if tls:
            self.ca, cert, key = make_ca_and_cert(self.dir)
            config["http"]["tls"] = {"certificate": cert, "key": key}
        if auth == "htpasswd":
            htpasswd = os.path.join(self.dir, "htpasswd")
            with open(htpasswd, "w") as f:
                f.write(run("htpasswd", "-Bbn", USER, PASSWORD))
            config["auth"] = {"htpasswd": {"realm": "basic-realm", "path": htpasswd}}
        elif auth == "token":
            config["auth"] = {"token": {"realm": token_server.realm, "service": token_server.service,
                                        "issuer": token_server.issuer,
                                        "rootcertbundle": token_server.cert}}
        path = os.path.join(self.dir, "config.yml")
        with open(path, "w") as f:
            json.dump(config, f)  # YAML is a superset of JSON
        self.log = open(os.path.join(self.dir, "registry.log"), "wb")
        self.proc = subprocess.Popen(["docker-registry", "serve", path], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.proc)

    @property
    def url(self):
        return ("https://" if self.tls else "http://") + self.host

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def build_image(workdir, tag="v1", extra_layers=(), cmd=("/bin/sh", "-c", "echo hello from berth")):
    """An OCI image layout at workdir/layout with busybox-static in the first layer and one
    layer per dict in `extra_layers` ({path: bytes|None}; None makes a whiteout by
    deleting the path). Returns the layout path."""
    workdir = str(workdir)
    layout = os.path.join(workdir, "layout")
    bundle = os.path.join(workdir, "bundle")
    if not os.path.exists(layout):
        run("umoci", "init", "--layout", layout)
    run("umoci", "new", "--image", f"{layout}:{tag}")
    run("umoci", "unpack", "--image", f"{layout}:{tag}", bundle)
    rootfs = os.path.join(bundle, "rootfs")
    os.makedirs(os.path.join(rootfs, "bin"), exist_ok=True)
    shutil.copy2("/bin/busybox", os.path.join(rootfs, "bin", "busybox"))
    for name in ("sh", "echo", "cat", "ls", "sleep", "true"):
        os.symlink("busybox", os.path.join(rootfs, "bin", name))
    os.makedirs(os.path.join(rootfs, "etc"), exist_ok=True)
    with open(os.path.join(rootfs, "etc", "motd"), "w") as f:
        f.write("berth test image\n")
    run("umoci", "repack", "--refresh-bundle", "--image", f"{layout}:{tag}", bundle)
    for layer in extra_layers:
        for path, content in layer.items():
            full = os.path.join(rootfs, path.lstrip("/"))
            if content is None:
                if os.path.isdir(full) and not os.path.islink(full):
                    shutil.rmtree(full)
                elif os.path.lexists(full):
                    os.remove(full)
            else:
                os.makedirs(os.path.dirname(full), exist_ok=True)
                with open(full, "wb") as f:
                    f.write(content)
        run("umoci", "repack", "--refresh-bundle", "--image", f"{layout}:{tag}", bundle)
    run("umoci", "config", "--image", f"{layout}:{tag}", "--config.cmd", cmd[0],
        *[a for c in cmd[1:] for a in ("--config.cmd", c)])
    shutil.rmtree(bundle)
    return layout


def push(layout, tag, registry, repo, fmt="oci", dest_tag=None):
    """skopeo copy oci:layout:tag → docker://registry/repo:dest_tag in OCI or v2s2 format."""
    args = ["skopeo", "copy", "--quiet", "--dest-creds", f"{USER}:{PASSWORD}"]
    if registry.tls:
        args += ["--dest-cert-dir", os.path.join(os.path.dirname(registry.ca), "certs")]
    else:
        args += ["--dest-tls-verify=false"]
    if fmt == "v2s2":
        args += ["--format", "v2s2"]
    elif fmt == "oci":
        args += ["--format", "oci"]
    args += [f"oci:{layout}:{tag}", f"docker://{registry.host}/{repo}:{dest_tag or tag}"]
    run(*args)
    return f"{registry.host}/{repo}:{dest_tag or tag}"


def umoci_unpack(layout, tag, dest):
    """The reference rootfs for `layout:tag`, as umoci unpacks it."""
    run("umoci", "unpack", "--image", f"{layout}:{tag}", dest)
    return os.path.join(dest, "rootfs")


def tree_digest(rootfs):
    """(path, type, mode, size, sha256/link target) for every entry under rootfs, sorted."""
    out = []
    for base, dirs, files in os.walk(rootfs):
        for name in sorted(dirs + files):
            full = os.path.join(base, name)
            rel = os.path.relpath(full, rootfs)
            st = os.lstat(full)
            if os.path.islink(full):
                out.append((rel, "l", st.st_mode & 0o7777, os.readlink(full)))
            elif os.path.isdir(full):
                out.append((rel, "d", st.st_mode & 0o7777, ""))
            else:
                with open(full, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                out.append((rel, "f", st.st_mode & 0o7777, digest))
    return sorted(out)


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler for fakes: HTTP/1.1 (keep-alive, as registries are), no access log."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass


class QuietHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server for fakes: daemon threads, and no traceback when a client hangs
    up mid-reply (tests cut transfers on purpose)."""
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


def serve_in_background(handler, port):
    """Serves `handler` (a BaseHTTPRequestHandler class) on 127.0.0.1:`port` from a daemon
    thread. Returns the server: stop it with shutdown() and server_close()."""
    server = QuietHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
