#!/usr/bin/env python3
"""The SMTP benchmark: the same Postfix `smtp-source` loads against a private Postfix 3.7 and a
Pochta agent, interleaved, medians of several rounds, with the ratio per row.

Both sides: virtual Maildir domain example.org (user1..user100, 1user..50user), smtpd on a
loopback port, no DNS, no TLS, fsync on; a message counts once its file is in `Maildir/new`.
The agent comes from the real path: `pochta-server init` + `serve`, users created over the API,
`pochta-agent enroll`, then `[smtp]`/`[delivery]` set in its agent.toml.

The relay row: the agent relays to the outside world only for authenticated senders (PRODUCT.md
invariant), which smtp-source cannot be, so both sides get the same outside-bound message the same
way: to the alias fwd@example.org whose member is sink@outside.test; Postfix sends it to its
relayhost, the agent to its smarthost, both the same `smtp-sink`.

    bench/smtp_bench.py [--rounds 3] [--scale 1.0] [--keep DIR]
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
SERVER_BIN = os.path.join(TARGET, "release", "pochta-server")
AGENT_BIN = os.path.join(TARGET, "release", "pochta-agent")
SOURCE = "/usr/sbin/smtp-source"
SINK = "/usr/sbin/smtp-sink"
# smtp-source -r N -t user@example.org sends to user, 2user, ..., Nuser.
USERS = [f"user{i}" for i in range(1, 101)] + [f"{i}user" for i in range(1, 51)] + ["user"]
REFUSED = os.path.join(TARGET, "smtp_refused")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


# ---------------------------------------------------------------------------------------------
# The Pochta side


class Api:
    def __init__(self, url, token):
        self.url, self.token = url, token
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE  # the bench's own self-signed server

    def post(self, path, body):
        req = urllib.request.Request(
            self.url + "/api/v1" + path,
            data=json.dumps(body).encode(),
            headers={"authorization": f"Bearer {self.token}", "content-type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
            text = r.read()
            return json.loads(text) if text else None


class Pochta:
    """A central server (only for enrollment and stats) and one level-1 agent."""

    def __init__(self, base, smtp_port, sink_port):
        self.base, self.smtp_port = base, smtp_port
        self.mail = os.path.join(base, "mail")
        sdata, adata = os.path.join(base, "server"), os.path.join(base, "agent")
        self.adata = adata
        sport, aport = free_port(), free_port()
        out = subprocess.run(
            [SERVER_BIN, "init", "--data", sdata, "--domain", "example.org", "--listen", f"127.0.0.1:{sport}"],
            check=True, capture_output=True, text=True,
        ).stdout
        token = re.search(r"API token:\s+(\S+)", out).group(1)
        self.server_log = open(os.path.join(base, "server.log"), "w")
        self.server = subprocess.Popen(
            [SERVER_BIN, "serve", "--data", sdata], stdout=self.server_log, stderr=subprocess.STDOUT,
            env={**os.environ, "RUST_LOG": "warn"},
        )
        wait_port(sport)
        api = Api(f"https://127.0.0.1:{sport}", token)
        api.post("/sites", {"id": "bench", "name": "Bench", "level": 1})
        for u in USERS:
            api.post("/users", {"name": u, "site": "bench"})
        api.post("/groups", {"name": "fwd", "kind": "alias", "members": ["sink@outside.test"], "policy": "anyone"})
        code = api.post("/sites/bench/enrollment", {})["code"]
        subprocess.run(
            [AGENT_BIN, "enroll", "--data", adata, "--code", code, "--listen", f"127.0.0.1:{aport}",
             "--advertise-url", f"https://127.0.0.1:{aport}"],
            check=True, capture_output=True,
        )
        cfg_path = os.path.join(adata, "agent.toml")
        cfg = open(cfg_path).read()
        cfg = re.sub(r'(?m)^maildir_root = .*$', f'maildir_root = "{self.mail}"', cfg)
        cfg = re.sub(r'(?m)^smarthost = .*$', f'smarthost = "127.0.0.1:{sink_port}"', cfg)
        cfg = re.sub(r'(?m)^\[smtp\]\n', f'[smtp]\nlisten = "127.0.0.1:{smtp_port}"\nhostname = "pochta.bench.test"\n', cfg)
        assert f"127.0.0.1:{smtp_port}" in cfg and self.mail in cfg and str(sink_port) in cfg, cfg
        open(cfg_path, "w").write(cfg)
        self.agent_log = open(os.path.join(base, "agent.log"), "w")
        self.agent = subprocess.Popen(
            [AGENT_BIN, "run", "--data", adata], stdout=self.agent_log, stderr=subprocess.STDOUT,
        )
        wait_port(smtp_port)

    def maildir_new(self, user):
        return os.path.join(self.mail, user, "Maildir", "new")

    def queue_files(self):
        q = os.path.join(self.adata, "queue")
        return sum(len(os.listdir(os.path.join(q, d))) for d in os.listdir(q) if d != "ctl")

    def pids(self):
        return [self.agent.pid]

    def stop(self):
        for p in (self.agent, self.server):
            p.send_signal(signal.SIGTERM)
        for p in (self.agent, self.server):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


# ---------------------------------------------------------------------------------------------
# The Postfix side


class Postfix:
    def __init__(self, base, smtp_port, sink_port):
        self.base, self.smtp_port = base, smtp_port
        subprocess.run(
            [os.path.join(ROOT, "bench", "postfix-instance.sh"), "start", base, str(smtp_port), f"[127.0.0.1]:{sink_port}"],
            check=True, capture_output=True,
        )
        wait_port(smtp_port)

    def maildir_new(self, user):
        return os.path.join(self.base, "mail", "example.org", user, "new")

    def queue_files(self):
        n = 0
        for q in ("maildrop", "incoming", "active", "deferred", "hold"):
            for _, _, files in os.walk(os.path.join(self.base, "spool", q)):
                n += len(files)
        return n

    def pids(self):
        """The master and every process it started (plus postlogd), by the instance's pid file."""
        try:
            master = int(open(os.path.join(self.base, "spool", "pid", "master.pid")).read().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        out = [master]
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    st = open(f"/proc/{p}/stat").read()
                    if int(st.rsplit(")", 1)[1].split()[1]) == master:
                        out.append(int(p))
                except (OSError, ValueError, IndexError):
                    pass
        return out

    def stop(self):
        subprocess.run([os.path.join(ROOT, "bench", "postfix-instance.sh"), "stop", self.base], capture_output=True)


# ---------------------------------------------------------------------------------------------
# Measuring


def pss_kb(pid):
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def count_new(dirs):
    n = 0
    for d in dirs:
        try:
            with os.scandir(d) as it:
                n += sum(1 for _ in it)
        except FileNotFoundError:
            pass
    return n


class SinkCounter:
    """smtp-sink with -c: counts completed DATA commands (printed as a running counter)."""

    def __init__(self, port, base):
        self.count = 0
        self.proc = subprocess.Popen(
            [SINK, "-c", "-u", "nobody", f"127.0.0.1:{port}", "256"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=base,
        )
        threading.Thread(target=self._read, daemon=True).start()
        wait_port(port)

    def _read(self):
        buf = b""
        while True:
            b = self.proc.stdout.read1(4096)
            if not b:
                return
            buf += b
            nums = re.findall(rb"(\d+)", buf)
            if nums:
                self.count = int(nums[-1])
            buf = buf[-32:]

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def clear_maildirs(mta):
    for u in USERS + ["sink"]:
        d = mta.maildir_new(u)
        try:
            for f in os.listdir(d):
                os.unlink(os.path.join(d, f))
        except FileNotFoundError:
            pass


def run_load(mta, load, sink, memory=False):
    """Runs one load against `mta`; returns (figure, peak memory kB or None)."""
    args, expect, dirs = load["args"], load["expect"], [mta.maildir_new(u) for u in load["users"]]
    sink_start = sink.count
    mem = [0]
    t0 = time.monotonic()
    if load["kind"] == "refuse":
        # smtp-source stops at the first refused recipient: our own client (bench/smtp_refused.rs).
        cmd = [REFUSED, f"127.0.0.1:{mta.smtp_port}", *args]
    else:
        cmd = [SOURCE, *args, f"127.0.0.1:{mta.smtp_port}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    done_at = None
    deadline = t0 + load.get("timeout", 180)
    while True:
        now = time.monotonic()
        if memory:
            if isinstance(mta, Postfix):
                m = sum(pss_kb(p) for p in mta.pids())
            else:
                m = sum(rss_kb(p) for p in mta.pids())
            mem[0] = max(mem[0], m)
        finished = proc.poll() is not None
        kind = load["kind"]
        if kind == "deliver":
            got = count_new(dirs)
        elif kind == "sink":
            got = sink.count - sink_start
        else:
            got = int(proc.stdout.read().split()[0]) if finished else 0
        if got >= expect and finished:
            done_at = time.monotonic()
            break
        if now > deadline:
            err = proc.stderr.read().decode(errors="replace")[-400:] if finished else ""
            raise RuntimeError(f"{type(mta).__name__} {load['name']}: {got}/{expect} after {now - t0:.0f}s {err}")
        time.sleep(0.005 if kind == "refuse" or load.get("fine") else 0.02)
    if proc.returncode != 0 and load["kind"] != "refuse":
        raise RuntimeError(f"smtp-source failed: {proc.stderr.read().decode(errors='replace')[-400:]}")
    elapsed = done_at - t0
    return load["figure"](elapsed), (mem[0] if memory else None)


def settle(mta):
    """Waits until the queue is empty (nothing left over from the last load), then clears."""
    end = time.time() + 60
    while mta.queue_files() > 0 and time.time() < end:
        time.sleep(0.1)
    clear_maildirs(mta)
    os.sync()
    time.sleep(0.5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every message count")
    ap.add_argument("--keep", help="keep the working folder here")
    ap.add_argument("--only", help="comma-separated load names")
    a = ap.parse_args()
    src = os.path.join(ROOT, "bench", "smtp_refused.rs")
    if not os.path.exists(REFUSED) or os.path.getmtime(REFUSED) < os.path.getmtime(src):
        subprocess.run(["rustc", "--edition", "2024", "-O", src, "-o", REFUSED], check=True)
    for b in (SERVER_BIN, AGENT_BIN, SOURCE, SINK, REFUSED):
        if not os.access(b, os.X_OK):
            sys.exit(f"missing {b}")

    def n(x):
        return max(1, int(x * a.scale))

    m1, m2, m3, m4, m5 = n(5000), n(1000), n(300), n(20000), n(5000)
    common = ["-l", "4096", "-f", "bench@outside.test"]
    loads = [
        dict(name="conn", title=f"-s 20 -m {m1} -l 4096, new connection per message: msgs/s delivered",
             args=["-s", "20", "-m", str(m1), *common, "-t", "user1@example.org"], kind="deliver",
             users=["user1"], expect=m1, figure=lambda t, m=m1: m / t, better="higher", target=1.5, memory=True),
        dict(name="serial", title=f"-s 1 -m {m2}: ms per message",
             args=["-s", "1", "-m", str(m2), *common, "-t", "user2@example.org"], kind="deliver", fine=True,
             users=["user2"], expect=m2, figure=lambda t, m=m2: 1000 * t / m, better="lower", target=0.6),
        dict(name="rcpt50", title=f"-s 20 -r 50 -m {m3}: deliveries/s",
             args=["-s", "20", "-r", "50", "-m", str(m3), *common, "-t", "user@example.org"], kind="deliver",
             users=["user"] + [f"{i}user" for i in range(2, 51)], expect=50 * m3, figure=lambda t, m=m3: 50 * m / t,
             better="higher", target=1.5),
        dict(name="unknown", title=f"unknown recipient, 20 clients, {m4} conns: refused/s",
             args=["20", str(m4), "nobody@example.org"], kind="refuse", users=[],
             expect=m4, figure=lambda t, m=m4: m / t, better="higher", target=2.0),
        dict(name="relay", title=f"relay to smtp-sink, -s 20 -m {m5}: msgs/s",
             args=["-s", "20", "-m", str(m5), *common, "-t", "fwd@example.org"], kind="sink", users=[],
             expect=m5, figure=lambda t, m=m5: m / t, better="higher", target=1.5),
    ]
    if a.only:
        keep = a.only.split(",")
        loads = [l for l in loads if l["name"] in keep]

    base = a.keep or tempfile.mkdtemp(prefix="pochta-bench-smtp-")
    os.makedirs(base, exist_ok=True)
    os.chmod(base, 0o755)
    sink_port = free_port()
    sink = SinkCounter(sink_port, base)
    mtas = []
    try:
        log(f"setting up in {base} ...")
        pf = Postfix(os.path.join(base, "postfix"), free_port(), sink_port)
        mtas.append(pf)
        po = Pochta(os.path.join(base, "pochta"), free_port(), sink_port)
        mtas.append(po)
        # Warm-up: mailbox folders exist on both sides, caches are warm.
        for mta in (pf, po):
            for u in USERS:
                subprocess.run([SOURCE, "-m", "1", "-f", "w@outside.test", "-t", f"{u}@example.org",
                                f"127.0.0.1:{mta.smtp_port}"], check=True, capture_output=True)
            deadline = time.time() + 60
            while count_new([mta.maildir_new(u) for u in USERS]) < len(USERS) and time.time() < deadline:
                time.sleep(0.1)
            settle(mta)
        results = {l["name"]: {"Postfix": [], "Pochta": []} for l in loads}
        memory = {"Postfix": [], "Pochta": []}
        for r in range(a.rounds):
            for load in loads:
                order = [pf, po] if r % 2 == 0 else [po, pf]
                for mta in order:
                    who = "Postfix" if mta is pf else "Pochta"
                    fig, mem = run_load(mta, load, sink, memory=load.get("memory", False))
                    results[load["name"]][who].append(fig)
                    if mem is not None:
                        memory[who].append(mem)
                    log(f"round {r + 1} {load['name']:8} {who:8} {fig:10.2f}" + (f"  mem {mem / 1024:.1f} MB" if mem else ""))
                    settle(mta)
        print()
        print(f"SMTP benchmark: Postfix {postfix_version()} vs Pochta agent, medians of {a.rounds} interleaved rounds,"
              f" 4 KiB messages, fsync on, delivered = file in Maildir/new")
        print(f"{'load (smtp-source)':68} {'Postfix':>10} {'Pochta':>10} {'ratio':>7} {'target':>8}")
        ok = True
        for load in loads:
            p = statistics.median(results[load["name"]]["Postfix"])
            q = statistics.median(results[load["name"]]["Pochta"])
            ratio = q / p
            met = ratio >= load["target"] if load["better"] == "higher" else ratio <= load["target"]
            ok &= met
            sign = "≥" if load["better"] == "higher" else "≤"
            print(f"{load['title']:68} {p:10.1f} {q:10.1f} {ratio:6.2f}x {sign}{load['target']:.1f}x {'ok' if met else 'MISSED'}")
        if memory["Postfix"]:
            p = statistics.median(memory["Postfix"]) / 1024
            q = statistics.median(memory["Pochta"]) / 1024
            met = q <= 30
            ok &= met
            print(f"{'memory under the first load: Postfix PSS (all) / agent RSS, MB':68} {p:10.1f} {q:10.1f} {q / p:6.2f}x"
                  f" {'≤30 MB':>8} {'ok' if met else 'MISSED'}")
        print(f"(message counts: {m1}, {m2}, {m3}, {m4}, {m5}; relay row: to an alias whose member is outside,"
              f" Postfix via relayhost, the agent via smarthost, both to one smtp-sink)")
        return 0 if ok else 1
    finally:
        for m in mtas:
            m.stop()
        sink.stop()
        if not a.keep:
            shutil.rmtree(base, ignore_errors=True)


def postfix_version():
    try:
        return subprocess.run(["postconf", "-d", "-h", "mail_version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
