"""Pull benchmark: `berth pull --dest` against `skopeo copy` + `umoci unpack` (the
tools people use today to get a rootfs from a registry), same image, same local
docker-registry, same machine, same run. Prints seconds (median of runs) and MB/s.

Image: 4 layers of generated files (half random bytes, half text: gzip gets about
2:1), ~64 MiB uncompressed each, like the 268 MB image FACTS.md measured."""
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from registry_harness import PASSWORD, USER, Registry, build_image, push  # noqa: E402

BERTH = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..",
                                                           "build", "berth")
RUNS = int(os.environ.get("PULL_BENCH_RUNS", "3"))
LAYER_MB = int(os.environ.get("PULL_BENCH_LAYER_MB", "64"))


def layer(seed):
    rng = random.Random(seed)
    files = {}
    for i in range(LAYER_MB // 4):
        half = 2 * 1024 * 1024
        text = (" ".join(rng.choice(["alpha", "beta", "gamma", "delta", "berth", "layer", "image"])
                         for _ in range(half // 6))).encode()[:half]
        files[f"data/l{seed}/f{i}.bin"] = rng.randbytes(half) + text
    return files


def timed(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def main():
    work = tempfile.mkdtemp(prefix="berth-pull-bench-")
    registry = None
    try:
        print(f"building a 4-layer image ({LAYER_MB} MiB each) ...", flush=True)
        layout = build_image(os.path.join(work, "img"), tag="big",
                             extra_layers=[layer(i) for i in range(1, 4)])
        registry = Registry(os.path.join(work, "registry"))
        image = push(layout, "big", registry, "bench/big")
        blobs = os.path.join(work, "registry", "data", "docker", "registry", "v2", "blobs")
        compressed = sum(os.path.getsize(os.path.join(b, f)) for b, _, fs in os.walk(blobs) for f in fs)
        berth_times, peer_times = [], []
        for run in range(RUNS):
            d = os.path.join(work, f"run{run}")
            os.makedirs(d)
            berth_times.append(timed([BERTH, "pull", image, "--creds", f"{USER}:{PASSWORD}",
                                      "--insecure-registry", registry.host, "--store",
                                      os.path.join(d, "store"), "--dest", os.path.join(d, "rootfs")]))
            peer_times.append(
                timed(["skopeo", "copy", "--quiet", "--src-creds", f"{USER}:{PASSWORD}",
                       "--src-tls-verify=false", f"docker://{image}", f"oci:{d}/oci:big"]) +
                timed(["umoci", "unpack", "--image", f"{d}/oci:big", os.path.join(d, "bundle")]))
            shutil.rmtree(d)
        mb = compressed / 1e6
        b, p = statistics.median(berth_times), statistics.median(peer_times)
        print()
        print(f"== Pull to rootfs: {mb:.0f} MB compressed, 4 layers, local registry, median of {RUNS} ==")
        print(f"{'tool':<36} {'seconds':>8} {'MB/s':>8}")
        print(f"{'skopeo copy + umoci unpack (peer)':<36} {p:8.2f} {mb / p:8.0f}")
        print(f"{'berth pull --dest':<36} {b:8.2f} {mb / b:8.0f}")
        print(f"berth is {p / b:.1f}x the peer's speed")
    finally:
        if registry:
            registry.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
