"""Load check of `spoofscan serve` on loopback: N concurrent clients post 4 s clips for a fixed time.

    python benchmarks/serve_load.py [--clients 1,4,8] [--seconds 60] [--max-requests 20000] [--checkpoint base]

The server runs in its own process (`python -m spoofscan serve`); each client is a thread with a keep-alive
connection posting the clips in turn. Reported per client count: requests/s, p50/p95/p99 latency, errors (anything
but 200; must be 0) and the server's peak resident memory; the baseline, measured in the same run, is `predict` on
the same clips in one process (Detector.predict_files, what `spoofscan predict DIR` runs), and the figure is the
ratio of the two. The clients share the machine's cores with the server.
"""
from __future__ import annotations

import argparse
import io
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx2
import numpy as np
import soundfile as sf

from common import save, table, timed
from inference import speech_like
from spoofscan.checkpoint import BASE_MODEL
from spoofscan.predict import Detector


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_memory_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM, Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load(url: str, clips: list[bytes], clients: int, seconds: float, max_requests: int) -> dict:
    """clients threads post clips until the time or the request budget is spent; latencies and failures."""
    latencies, failures, lock = [], [], threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(k: int) -> None:
        with httpx2.Client(timeout=120) as session:
            n = k
            while time.perf_counter() < deadline:
                with lock:
                    if len(latencies) + len(failures) >= max_requests:
                        return
                start = time.perf_counter()
                try:
                    answer = session.post(f"{url}/v1/predict", files={"file": (f"c{n}.wav", clips[n % len(clips)])})
                    ok = answer.status_code == 200 and answer.json()[0]["verdict"] in ("real", "fake")
                    why = "" if ok else f"{answer.status_code}: {answer.text[:200]}"
                except httpx2.HTTPError as exc:
                    why = repr(exc)
                with lock:
                    (latencies if not why else failures).append(time.perf_counter() - start if not why else why)
                n += clients

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {"clients": clients, "requests": len(latencies) + len(failures), "errors": len(failures),
            "requests_per_s": len(latencies) / elapsed, "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)), "p99_ms": float(np.percentile(ms, 99)),
            "first_errors": failures[:3]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="1,4,8", help="comma-separated numbers of concurrent clients")
    parser.add_argument("--seconds", type=float, default=60.0, help="load time per client count")
    parser.add_argument("--max-requests", type=int, default=20000, help="stop a client count after this many")
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--clip-seconds", type=float, default=4.0)
    parser.add_argument("--checkpoint", default="base")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    checkpoint = BASE_MODEL if args.checkpoint == "base" else Path(args.checkpoint)
    counts = [int(c) for c in args.clients.split(",")]
    waves = [speech_like(args.clip_seconds, n) for n in range(args.clips)]

    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / f"clip{n}.wav" for n in range(args.clips)]
        for path, wave in zip(paths, waves):
            sf.write(path, wave, 22050)
        detector = Detector.from_checkpoint(checkpoint)
        detector.use_threads(0)  # as `spoofscan predict` and `serve` do
        list(detector.predict_files(paths[:2]))  # warm-up
        predict_per_s = args.clips / timed(lambda: list(detector.predict_files(paths)), repeat=3)
    clips = []
    for wave in waves:
        buffer = io.BytesIO()
        sf.write(buffer, wave, 22050, format="WAV")
        clips.append(buffer.getvalue())

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "spoofscan", "serve", "--checkpoint", str(checkpoint),
                               "--port", str(port), "--queue", str(2 * max(counts))],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                httpx2.get(f"{url}/healthz")
                break
            except httpx2.TransportError:
                time.sleep(0.1)
        load(url, clips, 1, 2.0, 10)  # warm-up
        rows = [load(url, clips, clients, args.seconds, args.max_requests) for clients in counts]
        server_peak_mb = peak_memory_mb(server.pid)
    finally:
        server.terminate()
        server.wait()
    for row in rows:
        row["vs_predict"] = row["requests_per_s"] / predict_per_s
    table([{k: v for k, v in row.items() if k != "first_errors"} for row in rows])
    print(f"baseline: predict on the same {args.clips} clips, {predict_per_s:.1f} clips/s; "
          f"server peak memory {server_peak_mb:.0f} MB")
    save("serve_load", {"args": {k: str(v) for k, v in vars(args).items()}, "predict_clips_per_s": predict_per_s,
                        "server_peak_mb": server_peak_mb, "rows": rows}, args.out)
    if any(row["errors"] for row in rows):
        sys.exit(f"errors under load: {[row['first_errors'] for row in rows if row['errors']]}")


if __name__ == "__main__":
    main()
