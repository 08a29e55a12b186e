#!/usr/bin/env python3
"""Soak test of `he-tool serve`: mixed good and bad traffic on loopback for a bounded time.

Started by scripts/soak.sh, which makes the fixture (scripts/serve-fixture.sh) and starts the
server. Standard library only. Traffic, from several threads at once:

- good evaluations: an encrypted bundled image posted with its client's key id (the keys are
  uploaded on 409, as the real client does), the result decrypted with `he-tool decrypt --json`
  and its class compared with the plaintext model's prediction;
- key uploads (idempotent PUTs) of several clients whose keys do not all fit in the server's
  key cache, so that keys are evicted and read back from the spill directory;
- slow clients: a body that stalls or trickles a byte at a time (expects 408, connection closed);
- aborted uploads: a key upload cut off half-way by closing the socket;
- malformed requests: chunk sizes above 2^64 or garbage, Transfer-Encoding gzip, TRACE, a
  Content-Length over the limit, random and damaged ciphertexts, unknown ids and models.

Every answer is checked against the status (and error kind) it must have. The server's
resident memory (VmRSS) and open descriptors are sampled from /proc at the start (after a
warm-up that fills the key cache), every 15 s, and at the end after a quiet period.

Fails (exit 1) when a good request gets a wrong answer, any answer is unexpected (a 5xx in
particular), the server dies, or RSS / descriptors grow past the tolerance:
RSS_end <= RSS_start * (1 + --rss-tolerance) + --rss-slack-mb, fds_end <= fds_start + --fd-slack.
"""
import argparse
import collections
import hashlib
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, required=True, help="the server's process id (for /proc)")
    p.add_argument("--fixture", required=True)
    p.add_argument("--clients", type=int, default=3)
    p.add_argument("--he-tool", default=".build/release/he-tool")
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--warmup-seconds", type=float, default=60)
    p.add_argument("--request-timeout", type=float, default=5, help="the server's --request-timeout")
    p.add_argument("--max-body-mb", type=int, required=True, help="the server's --max-body-mb")
    p.add_argument("--rss-tolerance", type=float, default=0.25)
    p.add_argument("--rss-slack-mb", type=float, default=128)
    p.add_argument("--fd-slack", type=int, default=8)
    p.add_argument("--report", default=None, help="write the figures as JSON here")
    return p.parse_args()


class Soak:
    def __init__(self, args):
        self.a = args
        self.lock = threading.Lock()
        self.counts = collections.Counter()  # kind -> requests
        self.statuses = collections.Counter()  # "kind status" -> n
        self.failures = []  # unexpected answers and wrong results
        self.stop_at = None
        self.clients = []
        profile = os.path.join(args.fixture, "model", "client.heprofile")
        expected = dict(line.split("\t") for line in open(os.path.join(args.fixture, "expected.tsv")).read().split("\n") if line)
        for n in range(1, args.clients + 1):
            d = os.path.join(args.fixture, f"client-{n}")
            keys = open(os.path.join(d, "me.heevk"), "rb").read()
            images = []
            for name, cls in sorted(expected.items()):
                hect = os.path.join(d, name.replace(".png", ".hect"))
                images.append((name, int(cls), open(hect, "rb").read()))
            self.clients.append({"dir": d, "keys": keys, "id": hashlib.sha256(keys).hexdigest(), "images": images,
                                 "secret": os.path.join(d, "me.hesk"), "profile": profile})
        self.key_upload_lock = threading.Lock()

    # -- bookkeeping ------------------------------------------------------------------------
    def note(self, kind, status, ok, detail=""):
        with self.lock:
            self.counts[kind] += 1
            self.statuses[f"{kind} {status}"] += 1
            if not ok:
                self.failures.append(f"{kind}: {status} {detail}"[:400])

    def running(self):
        return time.time() < self.stop_at

    # -- HTTP -------------------------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, timeout=600):
        c = http.client.HTTPConnection("127.0.0.1", self.a.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
        finally:
            c.close()

    @staticmethod
    def kind_of(data):
        try:
            return json.loads(data).get("error")
        except Exception:
            return None

    def raw(self, payload, read=True, timeout=30):
        """Sends raw bytes; returns (status, error kind, closed) of the answer, or None."""
        s = socket.create_connection(("127.0.0.1", self.a.port), timeout=timeout)
        try:
            s.sendall(payload)
            if not read:
                return None
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    return None
                buf += chunk
            head, _, rest = buf.partition(b"\r\n\r\n")
            status = int(head.split(b" ")[1])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v.strip())
            while len(rest) < length:
                chunk = s.recv(65536)
                if not chunk:
                    break
                rest += chunk
            return status, self.kind_of(rest[:length])
        except (ConnectionError, socket.timeout, OSError) as e:
            return ("error", str(e))
        finally:
            s.close()

    # -- traffic ----------------------------------------------------------------------------
    def upload(self, client):
        st, _, data = self.request("PUT", f"/v1/keys/{client['id']}", body=client["keys"],
                                   headers={"Content-Type": "application/octet-stream"})
        ok = st in (200, 201) or (st == 503)  # 503: parsing slots busy, a documented answer
        self.note("key_upload", st, ok, data[:200].decode(errors="replace"))
        return st

    def good_eval(self):
        client = random.choice(self.clients)
        name, cls, body = random.choice(client["images"])
        for attempt in range(4):
            st, h, data = self.request("POST", "/v1/models/mnist/eval", body=body,
                                       headers={"He-Eval-Keys": client["id"], "Content-Type": "application/octet-stream"})
            if st == 409:
                self.note("good_eval", st, True)
                with self.key_upload_lock:  # one client uploads at a time, as a real one would
                    self.upload(client)
                continue
            if st in (503, 429):
                self.note("good_eval", st, True)
                time.sleep(min(5, int(h.get("retry-after", "1"))))
                continue
            break
        else:
            return
        if st != 200:
            self.note("good_eval", st, False, data[:300].decode(errors="replace"))
            return
        with tempfile.NamedTemporaryFile(suffix=".hect", delete=False) as f:
            f.write(data)
            path = f.name
        try:
            out = subprocess.run([self.a.he_tool, "decrypt", path, "--profile", client["profile"], "--secret-key", client["secret"], "--json"],
                                 capture_output=True, text=True, timeout=120)
            if out.returncode != 0:
                self.note("good_eval", "decrypt-failed", False, out.stderr[:300])
                return
            logits = json.loads(out.stdout)["outputs"][0]["logits"]
            got = max(range(len(logits)), key=lambda i: logits[i])
            self.note("good_eval", 200, got == cls, f"{name}: decrypted class {got}, expected {cls}")
        finally:
            os.unlink(path)

    def slow_client(self):
        client = random.choice(self.clients)
        name, _, body = random.choice(client["images"])
        head = (f"POST /v1/models/mnist/eval HTTP/1.1\r\nHost: x\r\nHe-Eval-Keys: {client['id']}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        s = socket.create_connection(("127.0.0.1", self.a.port), timeout=self.a.request_timeout + 30)
        try:
            s.sendall(head + body[:random.randint(0, 1000)])
            if random.random() < 0.5:  # trickle a byte every 0.2 s, never finishing
                for i in range(int(self.a.request_timeout * 5) + 10):
                    try:
                        s.sendall(body[1000 + i:1001 + i])
                    except OSError:
                        break
                    time.sleep(0.2)
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
            status = int(buf.split(b" ")[1]) if buf.startswith(b"HTTP/1.1 ") else "none"
            # 408 normally; 409 if the keys were evicted from the spill directory meanwhile.
            self.note("slow_client", status, status in (408, 409), buf[:200].decode(errors="replace"))
        except (OSError, socket.timeout) as e:
            self.note("slow_client", "error", False, str(e))
        finally:
            s.close()

    def aborted_upload(self):
        client = random.choice(self.clients)
        keys = client["keys"]
        cut = random.randint(1, len(keys) - 1)
        head = (f"PUT /v1/keys/{hashlib.sha256(keys[:cut] + b'x').hexdigest()} HTTP/1.1\r\nHost: x\r\n"
                f"Content-Length: {len(keys)}\r\n\r\n").encode()
        try:
            self.raw(head + keys[:min(cut, 8 << 20)], read=False)
            self.note("aborted_upload", "closed", True)
        except OSError as e:
            self.note("aborted_upload", "error", False, str(e))

    def malformed(self):
        client = random.choice(self.clients)
        cid = client["id"]
        name, _, body = random.choice(client["images"])
        damaged = bytearray(body)
        damaged[random.randint(56, len(damaged) - 1)] ^= 1 << random.randint(0, 7)
        fresh = os.urandom(32).hex()
        eval_head = f"POST /v1/models/mnist/eval HTTP/1.1\r\nHost: x\r\nHe-Eval-Keys: {cid}\r\n"
        cases = [
            ("chunk_over_2^64", (f"PUT /v1/keys/{fresh} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 "1ffffffffffffffffffff\r\nab\r\n0\r\n\r\n").encode(), {400}, "malformed_request"),
            ("chunk_garbage", (eval_head + "Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n").encode(), {400, 409}, None),
            ("te_gzip", (f"PUT /v1/keys/{fresh} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc").encode(), {400}, "malformed_request"),
            ("te_gzip_chunked", (f"PUT /v1/keys/{fresh} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n").encode(),
             {501}, "unsupported_transfer_coding"),
            ("trace", b"TRACE /healthz HTTP/1.1\r\nHost: x\r\n\r\n", {405}, "method_not_allowed"),
            ("too_large", (f"PUT /v1/keys/{fresh} HTTP/1.1\r\nHost: x\r\nContent-Length: {(self.a.max_body_mb << 20) + 1}\r\n\r\n").encode(),
             {413}, "body_too_large"),
        ]
        what, payload, statuses, kind = random.choice(cases)
        answer = self.raw(payload)
        ok = answer is not None and answer[0] in statuses and (kind is None or answer[1] == kind)
        self.note("malformed", answer[0] if answer else "none", ok, f"{what}: {answer}")
        # Bad bodies through a normal client.
        # (503: the evaluation slots are checked once the body is in, before its content.)
        choice = random.randint(0, 4)
        if choice == 0:
            st, _, data = self.request("POST", "/v1/models/mnist/eval", body=os.urandom(4096), headers={"He-Eval-Keys": cid})
            self.note("bad_body", st, st in (400, 409, 503), f"random ciphertext: {data[:200]}")
        elif choice == 1:
            st, _, data = self.request("POST", "/v1/models/mnist/eval", body=bytes(damaged), headers={"He-Eval-Keys": cid})
            self.note("bad_body", st, st in (409, 503) or (st == 400 and b"damaged" in data), f"damaged ciphertext: {data[:200]}")
        elif choice == 2:
            st, _, data = self.request("POST", "/v1/models/mnist/eval", body=body, headers={"He-Eval-Keys": fresh})
            self.note("bad_body", st, st == 409, f"unknown keys: {data[:200]}")
        elif choice == 3:
            st, _, data = self.request("POST", "/v1/models/nope/eval", body=body, headers={"He-Eval-Keys": cid})
            self.note("bad_body", st, st == 404, f"unknown model: {data[:200]}")
        else:
            junk = os.urandom(2048)
            st, _, data = self.request("PUT", f"/v1/keys/{hashlib.sha256(junk).hexdigest()}", body=junk)
            self.note("bad_body", st, st == 400, f"junk keys: {data[:200]}")

    # -- process sampling -------------------------------------------------------------------
    def sample(self):
        rss = None
        with open(f"/proc/{self.a.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024
        fds = len(os.listdir(f"/proc/{self.a.pid}/fd"))
        return {"t": round(time.time() - self.t0, 1), "rss_mb": round(rss, 1), "fds": fds}

    def alive(self):
        return os.path.exists(f"/proc/{self.a.pid}/status")

    # -- the run ----------------------------------------------------------------------------
    def worker(self, kinds, weights):
        while self.running() and self.alive():
            kind = random.choices(kinds, weights)[0]
            try:
                getattr(self, kind)()
            except Exception as e:  # a transport failure is an unexpected answer too
                self.note(kind, "exception", False, repr(e))
                time.sleep(1)

    def run(self):
        self.t0 = time.time()
        # Warm-up: every client's keys uploaded and one evaluation each, then the baseline.
        for c in self.clients:
            self.upload(c)
        warm_until = self.t0 + self.a.warmup_seconds
        while time.time() < warm_until:
            self.good_eval()
        time.sleep(2)
        start = self.sample()
        samples = [start]
        self.stop_at = time.time() + self.a.minutes * 60
        threads = [threading.Thread(target=self.worker, args=(["good_eval"], [1]), daemon=True) for _ in range(2)]
        threads += [threading.Thread(target=self.worker, args=(["slow_client"], [1]), daemon=True) for _ in range(2)]
        threads += [threading.Thread(target=self.worker, args=(["malformed", "aborted_upload", "upload_any"], [8, 1, 1]), daemon=True)]
        for t in threads:
            t.start()
        while self.running() and self.alive():
            time.sleep(min(15, max(0.1, self.stop_at - time.time())))
            if self.alive():
                samples.append(self.sample())
                s = samples[-1]
                print(f"soak: t={s['t']:.0f}s rss={s['rss_mb']:.0f} MB fds={s['fds']} requests={sum(self.counts.values())} "
                      f"failures={len(self.failures)}", flush=True)
        for t in threads:
            t.join(timeout=self.a.request_timeout + 120)
        alive = self.alive()
        time.sleep(self.a.request_timeout + 3)  # lingering connections close
        end = self.sample() if alive else None
        return start, end, samples, alive

    def upload_any(self):
        self.upload(random.choice(self.clients))


def main():
    a = parse_args()
    soak = Soak(a)
    start, end, samples, alive = soak.run()
    report = {
        "minutes": a.minutes, "requests": sum(soak.counts.values()), "by_kind": dict(soak.counts),
        "by_kind_and_status": dict(sorted(soak.statuses.items())), "failures": soak.failures[:50],
        "failure_count": len(soak.failures), "start": start, "end": end, "server_alive": alive,
    }
    verdicts = []
    if not alive:
        verdicts.append("the server died")
    if soak.failures:
        verdicts.append(f"{len(soak.failures)} unexpected answers or wrong results")
    if end:
        rss_bound = start["rss_mb"] * (1 + a.rss_tolerance) + a.rss_slack_mb
        fd_bound = start["fds"] + a.fd_slack
        report["rss_bound_mb"] = round(rss_bound, 1)
        report["fd_bound"] = fd_bound
        if end["rss_mb"] > rss_bound:
            verdicts.append(f"RSS grew from {start['rss_mb']} MB to {end['rss_mb']} MB (bound {rss_bound:.0f} MB)")
        if end["fds"] > fd_bound:
            verdicts.append(f"descriptors grew from {start['fds']} to {end['fds']} (bound {fd_bound})")
    report["samples"] = samples
    report["verdict"] = "pass" if not verdicts else "fail: " + "; ".join(verdicts)
    if a.report:
        with open(a.report, "w") as f:
            json.dump(report, f, indent=2)
    summary = {k: v for k, v in report.items() if k != "samples"}
    print(json.dumps(summary, indent=2))
    sys.exit(0 if not verdicts else 1)


if __name__ == "__main__":
    main()
