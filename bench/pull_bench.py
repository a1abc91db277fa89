"""Pull benchmark (issue 5, acceptance 6): berth against the tools people use
today, same images, same local docker-registry, same machine, same run.

Two images are built with umoci (one uncompressed tar per layer, added with
`umoci raw add-layer`, which gzips it) and pushed with skopeo to a local
docker-registry (htpasswd Basic auth, plain HTTP on 127.0.0.1, a free port):

  random     four layers of 64 MiB of random bytes (gzip cannot shrink them)
  realistic  ~300 MB of files that gzip to ~100 MB: shared libraries, locale,
             perl/vim/i18n data and the Python stdlib copied from this
             machine, plus generated application files (JSON, logs, source,
             CSV) of varied sizes

For each image, alternating between the tools (the order flips every round),
the median of PULL_BENCH_RUNS (default 5) runs of:

  end to end  `berth pull --dest ROOTFS --store FRESH_STORE`
              vs `skopeo copy docker://IMAGE oci:DIR:TAG` + `umoci unpack`
  store only  `berth pull --store FRESH_STORE`
              vs one `curl -u ... BLOB_URL | openssl dgst -sha256` per blob
              (config and layers), all started at once: the fetch-and-verify
              limit of this machine. The printed digests must match.

Everything (registry storage, stores, rootfs) lives in a temp dir under
PULL_BENCH_DIR (default: the system's, /tmp).

Targets: end to end at least 5x faster than skopeo + umoci; store only within
1.3x of parallel curl + sha256. MB/s counts compressed bytes (config + layers).
Every directory is fresh for each run and `sync` runs (untimed) before each
timed command, so one tool's dirty pages are not flushed on the other's time.

Inodes: the unpacked trees are removed only after the last round of an
image, not between rounds. On ext4 without a journal (this machine's root
filesystem), the inode allocator skips inodes freed in the last 60 s
(fs/ext4/ialloc.c, recently_deleted()) by reading each one's dtime: after
removing the ~20,000 files of a round, every file the next round created paid
a scan past them (perf: find_get_block_common, recently_deleted), and each
round of the realistic image got slower than the one before, for both tools.
Memory: the content stores and OCI layouts (a few large files) are removed
after each round, so the next round's writes reuse their page cache. Writes
into guest memory never touched before cost several times more here (a VM:
the host backs a page on its first touch; perf shows the time in
copy_folio_from_iter_atomic), which would tax whichever tool comes later.
"""
import base64
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from registry_harness import PASSWORD, USER, Registry, push  # noqa: E402

BERTH = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "build", "berth"))
RUNS = int(os.environ.get("PULL_BENCH_RUNS", "5"))
MiB = 1 << 20
E2E_TARGET = 5.0    # skopeo+umoci / berth pull --dest: at least
STORE_TARGET = 1.3  # berth pull (store) / parallel curl+sha256: at most


def run(cmd, **kw):
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


# ---------------------------------------------------------------- image build

class LayerWriter:
    """An uncompressed layer tar; files owned by root, a fixed mtime."""

    def __init__(self, path):
        self.path = path
        self.tar = tarfile.open(path, "w", format=tarfile.PAX_FORMAT)
        self.dirs = set()
        self.bytes = 0
        self.files = 0

    def _parents(self, name):
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in self.dirs:
                self.dirs.add(d)
                info = tarfile.TarInfo(d)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1700000000
                self.tar.addfile(info)

    def add_bytes(self, name, data, mode=0o644):
        self._parents(name)
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), mode, 1700000000
        self.tar.addfile(info, _Reader(data))
        self.bytes += len(data)
        self.files += 1

    def add_symlink(self, name, target):
        self._parents(name)
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.mode, info.mtime = tarfile.SYMTYPE, target, 0o777, 1700000000
        self.tar.addfile(info)

    def add_file(self, name, src):
        st = os.stat(src)
        with open(src, "rb") as f:
            self.add_bytes(name, f.read(), st.st_mode & 0o755 | 0o644)

    def close(self):
        self.tar.close()


class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def read(self, n=-1):
        if n < 0:
            n = len(self.data) - self.pos
        chunk = self.data[self.pos:self.pos + n]
        self.pos += len(chunk)
        return chunk


def copy_tree(writer, roots, budget):
    """Copies regular files (sorted walk) from `roots` until `budget` bytes;
    symlinks inside the roots come along. Returns the bytes copied."""
    start = writer.bytes
    for root in roots:
        if not os.path.isdir(root):
            continue
        for base, dirs, files in os.walk(root):
            dirs.sort()
            for f in sorted(files):
                src = os.path.join(base, f)
                name = src.lstrip("/")
                try:
                    if os.path.islink(src):
                        writer.add_symlink(name, os.readlink(src))
                        continue
                    if not os.path.isfile(src) or not os.access(src, os.R_OK):
                        continue
                    size = os.path.getsize(src)
                    if size > 16 * MiB or writer.bytes - start + size > budget:
                        continue
                    writer.add_file(name, src)
                except OSError:
                    continue
            if writer.bytes - start >= budget * 0.99:
                return writer.bytes - start
    return writer.bytes - start


WORDS = None


def words(rng):
    """A vocabulary with Zipf-like frequencies (like real text): (words, cumulative weights)."""
    global WORDS
    if WORDS is None:
        letters = "etaoinshrdlucmfwypvbgkjqxz"
        weights = [12, 9, 8, 8, 7, 7, 6, 6, 6, 4, 4, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1]
        vocab = ["".join(rng.choices(letters, weights, k=rng.randint(2, 10))) for _ in range(5000)]
        cum, total = [], 0.0
        for rank in range(1, len(vocab) + 1):
            total += 1.0 / rank
            cum.append(total)
        WORDS = (vocab, cum)
    return WORDS


def gen_text(rng, kind, size):
    """Text-like content of about `size` bytes: JSON records, log lines, source, CSV."""
    vocab, cum = words(rng)
    out, n, seq = [], 0, rng.randint(0, 10**6)
    while n < size:
        w = rng.choices(vocab, cum_weights=cum, k=24)
        seq += rng.randint(1, 50)
        if kind == "json":
            line = json.dumps({"id": seq, "name": w[0], "tags": w[1:4],
                               "owner": f"{w[5]}@example.com", "active": rng.random() < 0.8,
                               "score": rng.randint(0, 100), "text": " ".join(w[7:17])}) + ",\n"
        elif kind == "log":
            line = (f"2024-05-{seq // 86400000 % 28 + 1:02d}T{seq // 3600000 % 24:02d}:"
                    f"{seq // 60000 % 60:02d}:{seq // 1000 % 60:02d}.{seq % 1000:03d}Z "
                    f"{rng.choices(['INFO', 'WARN', 'DEBUG', 'ERROR'], [70, 10, 15, 5])[0]} "
                    f"[{w[0]}] request {seq % 100000} {' '.join(w[1:10])} "
                    f"status={rng.choice([200, 200, 200, 201, 204, 404, 500])} took={rng.randint(1, 300)}ms\n")
        elif kind == "src":
            line = (f"    def {w[0]}_{w[1]}(self, {w[2]}, {w[3]}=None):\n"
                    f"        \"\"\"{' '.join(w[4:12]).capitalize()}.\"\"\"\n"
                    f"        if {w[2]} is None:\n            return self.{w[14]}({w[3]})\n"
                    f"        return {w[15]}.{w[16]}({w[2]}, {w[17]}=\"{w[18]}\")\n\n")
        else:
            line = ",".join([str(seq), w[0], w[1], str(rng.randint(0, 9999)), f"{rng.random():.2f}",
                             w[2], rng.choice(["true", "false"])]) + "\n"
        out.append(line)
        n += len(line)
    return "".join(out).encode()[:size]


def gen_app(writer, rng, budget, prefix="srv/app"):
    """Generated application files of varied sizes (log-normal, 200 B .. 4 MiB)."""
    kinds = {"json": "json", "log": "log", "src": "py", "csv": "csv"}
    i = 0
    while writer.bytes < budget:
        kind = rng.choice(list(kinds))
        size = int(min(4 * MiB, max(200, rng.lognormvariate(9.5, 1.6))))
        size = min(size, budget - writer.bytes) or 1
        writer.add_bytes(f"{prefix}/{kind}/{i // 200:03d}/{kind}{i:05d}.{kinds[kind]}",
                         gen_text(rng, kind, size))
        i += 1


def add_busybox(writer):
    writer.add_file("bin/busybox", "/bin/busybox")
    for name in ("sh", "echo", "cat", "ls", "sleep", "true"):
        writer.add_symlink(f"bin/{name}", "busybox")
    writer.add_bytes("etc/motd", b"berth bench image\n")


def build(layout, tag, layers, tmp):
    """An OCI image at layout:tag from `layers`: callables filling a LayerWriter."""
    if not os.path.exists(layout):
        run(["umoci", "init", "--layout", layout])
    run(["umoci", "new", "--image", f"{layout}:{tag}"])
    total = 0
    for i, fill in enumerate(layers):
        path = os.path.join(tmp, f"{tag}-layer{i}.tar")
        w = LayerWriter(path)
        fill(w)
        w.close()
        total += w.bytes
        run(["umoci", "raw", "add-layer", "--image", f"{layout}:{tag}", path])
        os.remove(path)
    run(["umoci", "config", "--image", f"{layout}:{tag}", "--config.cmd", "/bin/sh"])
    return total


def build_random(layout, tmp):
    def fill(w):
        for j in range(16):
            w.add_bytes(f"data/r{w.path[-5]}/blob{j:02d}.bin", os.urandom(4 * MiB))
    return build(layout, "random", [fill] * 4, tmp)


def build_realistic(layout, tmp):
    rng = random.Random(5)

    def base(w):  # a distribution's base: busybox and shared libraries
        add_busybox(w)
        copy_tree(w, ["/usr/lib/x86_64-linux-gnu"], 80 * MiB)

    def share(w):  # data files: locale, perl, vim, i18n, zoneinfo, ...
        got = copy_tree(w, [f"/usr/share/{d}" for d in
                            ("perl", "vim", "i18n", "zoneinfo", "mime", "X11", "cmake-3.25",
                             "locale")], 65 * MiB)
        if got < 65 * MiB:
            gen_app(w, rng, 65 * MiB, "usr/share/app-data")

    def runtime(w):  # a language runtime
        got = copy_tree(w, ["/usr/lib/python3.11", "/usr/lib/node_modules"], 65 * MiB)
        if got < 65 * MiB:
            gen_app(w, rng, 65 * MiB, "usr/lib/app-runtime")

    def app(w):  # the application
        gen_app(w, rng, 75 * MiB)

    return build(layout, "realistic", [base, share, runtime, app], tmp)


# ---------------------------------------------------------------- measurement

def registry_get(registry, path, accept=None):
    req = urllib.request.Request(f"http://{registry.host}{path}")
    req.add_header("Authorization", "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())
    if accept:
        req.add_header("Accept", accept)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def timed(cmd):
    os.sync()
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return elapsed


def curl_sha256(registry, repo, blobs):
    """One `curl | openssl dgst -sha256` per blob, all at once; checks every digest."""
    os.sync()
    procs = []
    start = time.perf_counter()
    for digest, _ in blobs:
        c = subprocess.Popen(["curl", "-sS", "--fail", "-u", f"{USER}:{PASSWORD}",
                              f"http://{registry.host}/v2/{repo}/blobs/{digest}"],
                             stdout=subprocess.PIPE)
        o = subprocess.Popen(["openssl", "dgst", "-sha256"], stdin=c.stdout,
                             stdout=subprocess.PIPE, text=True)
        c.stdout.close()
        procs.append((digest, c, o))
    outs = [(digest, c, o, o.communicate()[0]) for digest, c, o in procs]
    for _, c, _, _ in outs:
        c.wait()
    elapsed = time.perf_counter() - start
    for digest, c, o, out in outs:
        got = "sha256:" + out.strip().split()[-1] if out.strip() else "(nothing)"
        if c.returncode or o.returncode or got != digest:
            raise RuntimeError(f"curl|openssl for {digest}: curl {c.returncode}, openssl "
                               f"{o.returncode}, digest {got}")
    return elapsed


def tree_summary(root):
    n, size = 0, 0
    for base, dirs, files in os.walk(root):
        for f in files + dirs:
            st = os.lstat(os.path.join(base, f))
            n += 1
            size += st.st_size if not os.path.isdir(os.path.join(base, f)) else 0
    return n, size


def bench_image(registry, work, name, repo, tag):
    image = f"{registry.host}/{repo}:{tag}"
    manifest = json.loads(registry_get(registry, f"/v2/{repo}/manifests/{tag}",
                                       "application/vnd.oci.image.manifest.v1+json"))
    blobs = [(manifest["config"]["digest"], manifest["config"]["size"])] + \
        [(l["digest"], l["size"]) for l in manifest["layers"]]
    compressed = sum(s for _, s in blobs)
    creds = ["--creds", f"{USER}:{PASSWORD}", "--insecure-registry", registry.host]
    times = {"berth pull --dest": [], "skopeo copy + umoci unpack": [],
             "berth pull (store only)": [], "curl | openssl sha256 (parallel)": []}
    for i in range(RUNS):
        d = os.path.join(work, f"{name}-run{i}")
        os.makedirs(d)

        def berth_e2e():
            times["berth pull --dest"].append(timed(
                [BERTH, "pull", image, *creds, "--store", f"{d}/e2e-store", "--dest", f"{d}/rootfs"]))

        def peer_e2e():
            times["skopeo copy + umoci unpack"].append(
                timed(["skopeo", "copy", "--quiet", "--src-creds", f"{USER}:{PASSWORD}",
                       "--src-tls-verify=false", f"docker://{image}", f"oci:{d}/oci:{tag}"]) +
                timed(["umoci", "unpack", "--image", f"{d}/oci:{tag}", f"{d}/bundle"]))

        def berth_store():
            times["berth pull (store only)"].append(timed(
                [BERTH, "pull", image, *creds, "--store", f"{d}/store"]))

        def peer_store():
            times["curl | openssl sha256 (parallel)"].append(curl_sha256(registry, repo, blobs))

        order = [berth_e2e, peer_e2e, berth_store, peer_store] if i % 2 == 0 else \
            [peer_e2e, berth_e2e, peer_store, berth_store]
        for step in order:
            step()
        if i == 0:  # both tools produced the same tree (the e2e tests check it byte for byte)
            ours, theirs = tree_summary(f"{d}/rootfs"), tree_summary(f"{d}/bundle/rootfs")
            if ours != theirs:
                raise RuntimeError(f"{name}: berth rootfs {ours} != umoci rootfs {theirs} (entries, bytes)")
        for sub in ("e2e-store", "oci", "store"):  # few large files: see "Memory" above
            shutil.rmtree(os.path.join(d, sub))
        print(f"  {name} round {i + 1}/{RUNS}: " +
              ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()), flush=True)
    # The unpacked trees only now: see "Inodes" above.
    for i in range(RUNS):
        shutil.rmtree(os.path.join(work, f"{name}-run{i}"))
    return compressed, len(manifest["layers"]), times


def main():
    # A SIGTERM (e.g. `timeout`) still stops the registry and removes the temp dir.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = tempfile.mkdtemp(prefix="berth-pull-bench-", dir=os.environ.get("PULL_BENCH_DIR"))
    registry = None
    try:
        t0 = time.perf_counter()
        print("pull bench: building images ...", flush=True)
        layout = os.path.join(work, "layout")
        raw = {"random": build_random(layout, work), "realistic": build_realistic(layout, work)}
        registry = Registry(os.path.join(work, "registry"))
        for tag in raw:
            push(layout, tag, registry, f"bench/{tag}")
        shutil.rmtree(layout)
        print(f"pull bench: images built and pushed in {time.perf_counter() - t0:.0f}s; "
              f"{RUNS} alternating rounds per image", flush=True)

        results = {}
        for tag in raw:
            results[tag] = bench_image(registry, work, tag, f"bench/{tag}", tag)

        print()
        print(f"== Pull from a local docker-registry (Basic auth, HTTP), {os.cpu_count()} cores, "
              f"median of {RUNS}, alternating ==")
        for tag, (compressed, nlayers, _) in results.items():
            print(f"{tag:<10} {nlayers} layers, {raw[tag] / 1e6:.0f} MB of files, "
                  f"{compressed / 1e6:.0f} MB compressed (gzip {raw[tag] / compressed:.2f}:1)")
        print()
        print(f"{'image':<10} {'tool':<34} {'seconds':>8} {'MB/s':>8}   {'fastest-slowest run':>19}")
        for tag, (compressed, _, times) in results.items():
            for tool, runs in times.items():
                s = statistics.median(runs)
                print(f"{tag:<10} {tool:<34} {s:8.2f} {compressed / 1e6 / s:8.0f}   "
                      f"{min(runs):8.2f} - {max(runs):.2f}")
        print()
        print(f"{'image':<10} {'ratio (of medians)':<44} {'value':>7} {'target':>8}  result")
        ok = True
        for tag, (_, _, times) in results.items():
            med = {tool: statistics.median(runs) for tool, runs in times.items()}
            e2e = med["skopeo copy + umoci unpack"] / med["berth pull --dest"]
            store = med["berth pull (store only)"] / med["curl | openssl sha256 (parallel)"]
            for label, value, target, passed in (
                    ("skopeo+umoci / berth pull --dest", e2e, f">= {E2E_TARGET:g}x", e2e >= E2E_TARGET),
                    ("berth pull (store) / curl+sha256", store, f"<= {STORE_TARGET:g}x",
                     store <= STORE_TARGET)):
                ok &= passed
                print(f"{tag:<10} {label:<44} {value:6.2f}x {target:>8}  {'PASS' if passed else 'MISS'}")
        print(f"pull bench: {'all targets met' if ok else 'some targets missed'} "
              f"({time.perf_counter() - t0:.0f}s in all)")
    finally:
        if registry:
            registry.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
