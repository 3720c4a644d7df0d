#!/usr/bin/env python3
"""The DKIM benchmark: the cost of signing outgoing mail, the Pochta agent against Postfix with
OpenDKIM as a milter, in one run, medians of interleaved rounds.

The load is smtp_bench's relay row: `smtp-source -s 20` (20 concurrent sessions, a new connection
per message) sends each letter to the alias fwd@example.org whose member is sink@outside.test, so
it leaves for the outside world: Postfix through its relayhost, the agent through its smarthost,
both the same `smtp-sink`. Two letters, 4 KiB (plain text) and 50 KiB (text plus a base64
attachment), From: a user of example.org; each with DKIM signing off and on. Four set-ups:

  * Postfix without milters, and Postfix with `smtpd_milters` = a private `opendkim` (RSA-2048,
    relaxed/relaxed, mode s, the header fields the agent signs, the same ones oversigned) on a
    Unix socket, as Debian configures it (`--milter inet`: on a TCP port of 127.0.0.1, where
    Nagle's algorithm and delayed ACKs hold up the milter's small packets);
  * a Pochta agent whose domain has no DKIM key, and one whose domain has an active RSA-2048 key
    (`POST /api/v1/dkim`, then `.../activate`, over the server's API; the agent gets it by
    replication), which signs every letter that leaves the deployment.

Both sides queue with fsync on. The figures: msgs/s accepted (smtp-source done), msgs/s at the
sink (the last letter received by smtp-sink), and CPU ms per message (utime+stime from /proc of
the MTA's processes from the start of a run until its queue is empty, plus opendkim's for the
Postfix DKIM-on rows). Checks: a sample of letters captured by smtp-sink before the rounds carries
exactly one DKIM-Signature (d=example.org) on the DKIM-on set-ups and none on the others, and the
agent's `pochta_messages_dkim_signed_total` grows by the number of letters in every DKIM-on run and
stays put in the DKIM-off ones.

    bench/dkim_bench.py [--rounds 3] [--messages 5000] [--scale 1.0] [--keep DIR] [--milter unix|inet]
"""

import argparse
import base64
import json
import os
import pwd
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import door_bench as db  # noqa: E402  processes and their CPU, letter text
import smtp_bench as sb  # noqa: E402  the Pochta and Postfix set-ups, the sink
from smtp_bench import ROOT, SINK, SOURCE, free_port, log, wait_port  # noqa: E402

OPENDKIM = "/usr/sbin/opendkim"
SESSIONS = 20
DOMAIN = "example.org"
SELECTOR_PF = "bench"  # OpenDKIM's selector (Pochta's comes from the server: pochta-YYYYMM)
# agent/src/mail/dkim.rs SIGNED: the fields signed when present, these oversigned (listed twice).
SIGN_HEADERS = ["From", "Reply-To", "Subject", "Date", "To", "Cc", "Sender", "Message-ID", "In-Reply-To",
                "References", "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Content-Disposition",
                "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "Auto-Submitted"]
OVERSIGN_HEADERS = ["From", "Reply-To", "Subject", "Date", "To", "Cc"]


# ---------------------------------------------------------------------------------------------
# The Pochta side: smtp_bench's set-up, plus the server's API and the agent's HTTPS endpoint


class Api(sb.Api):
    """smtp_bench's API client, remembered (its Pochta keeps none), with GET."""

    last = None

    def __init__(self, url, token):
        super().__init__(url, token)
        Api.last = self

    def get(self, path):
        req = urllib.request.Request(self.url + "/api/v1" + path, headers={"authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
            return json.loads(r.read())


sb.Api = Api  # smtp_bench's Pochta makes its client through the module's name


class Pochta(sb.Pochta):
    def __init__(self, base, smtp_port, sink_port):
        super().__init__(base, smtp_port, sink_port)
        self.api = Api.last
        cfg = open(os.path.join(self.adata, "agent.toml")).read()
        # The agent's own HTTPS listener: the first `listen` of the file, before any [section].
        top = re.split(r"(?m)^\[", cfg, maxsplit=1)[0]
        self.http = "https://" + re.search(r'(?m)^listen\s*=\s*"([^"]+)"', top).group(1)

    def agent_get(self, path):
        with urllib.request.urlopen(self.http + path, context=self.api.ctx, timeout=30) as r:
            return r.read().decode()

    def signed_total(self):
        m = re.search(r"(?m)^pochta_messages_dkim_signed_total\{[^}]*\}\s+(\d+)", self.agent_get("/metrics"))
        if not m:
            raise RuntimeError("the agent's /metrics has no pochta_messages_dkim_signed_total")
        return int(m.group(1))

    def wait_sync(self, timeout=30):
        """Until the agent's replica has the server's version."""
        want = self.api.get("/version")["version"]
        end = time.time() + timeout
        while True:
            have = json.loads(self.agent_get("/status"))["version"]
            if have >= want:
                return have
            if time.time() > end:
                raise RuntimeError(f"the agent's replica is at version {have}, the server's at {want}")
            time.sleep(0.1)

    def activate_dkim(self):
        """A new RSA-2048 key for the domain, activated; returns (selector, record)."""
        key = self.api.post("/dkim", {})
        assert key["state"] == "pending" and key["record"].startswith("v=DKIM1; k=rsa;"), key
        done = self.api.post(f"/dkim/{key['selector']}/activate", {})
        assert done["state"] == "active", done
        self.wait_sync()
        return key["selector"], key["record"]


# ---------------------------------------------------------------------------------------------
# The Postfix side: smtp_bench's relay instance, with further main.cf settings; OpenDKIM


class Postfix(sb.Postfix):
    def __init__(self, base, smtp_port, sink_port, settings=()):
        self.base, self.smtp_port = base, smtp_port
        r = subprocess.run([os.path.join(ROOT, "bench", "postfix-instance.sh"), "start", base, str(smtp_port),
                            f"[127.0.0.1]:{sink_port}", "127.0.0.1", "", *settings], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"the Postfix instance in {base} did not start: {r.stderr[-1500:]}")
        wait_port(smtp_port)


class OpenDkim:
    """A private opendkim in the foreground: its own configuration, key, socket and PID file."""

    def __init__(self, base, transport="unix"):
        if not os.access(OPENDKIM, os.X_OK):
            raise RuntimeError("opendkim is not installed (apt-get install opendkim)")
        d = self.dir = os.path.join(base, "opendkim")
        os.makedirs(d, exist_ok=True)
        # A Unix socket, as Debian's opendkim.conf has it; or TCP on loopback, whose small milter
        # packets meet Nagle and delayed ACKs (Postfix does not set TCP_NODELAY on milter sockets).
        if transport == "unix":
            self.socket = os.path.join(d, "opendkim.sock")
            listen, self.milter = f"local:{self.socket}", f"unix:{self.socket}"
        else:
            port = free_port()
            self.socket = ("127.0.0.1", port)
            listen, self.milter = f"inet:{port}@127.0.0.1", f"inet:127.0.0.1:{port}"
        key = os.path.join(d, f"{SELECTOR_PF}.private")
        subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True, capture_output=True)
        os.chmod(key, 0o600)
        pub = subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-outform", "DER"], check=True,
                             capture_output=True).stdout
        self.record = f"v=DKIM1; k=rsa; p={base64.b64encode(pub).decode()}"
        open(os.path.join(d, f"{SELECTOR_PF}.txt"), "w").write(f"{SELECTOR_PF}._domainkey.{DOMAIN} TXT \"{self.record}\"\n")
        conf = f"""# The bench's private signer: RSA-2048, relaxed/relaxed, sign only, for {DOMAIN}.
Mode                    s
Domain                  {DOMAIN}
Selector                {SELECTOR_PF}
KeyFile                 {key}
Canonicalization        relaxed/relaxed
SignatureAlgorithm      rsa-sha256
SignHeaders             {",".join(SIGN_HEADERS)}
OversignHeaders         {",".join(OVERSIGN_HEADERS)}
InternalHosts           127.0.0.1
Socket                  {listen}
# Postfix's smtpd (user postfix) connects to the Unix socket.
UMask                   000
PidFile                 {d}/opendkim.pid
Background              no
Syslog                  no
SoftwareHeader          no
AutoRestart             no
# The key lives under the bench's temporary folder, below the world-writable /tmp.
RequireSafeKeys         no
Nameservers             127.0.0.1
"""
        cmd = [OPENDKIM, "-f", "-x", os.path.join(d, "opendkim.conf")]
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("opendkim")
                for p in (d, key):
                    os.chown(p, pw.pw_uid, pw.pw_gid)
                conf += "UserID                  opendkim:opendkim\n"
            except KeyError:
                pass  # no such user: it stays root, which reads the key as well
        open(os.path.join(d, "opendkim.conf"), "w").write(conf)
        self.proc = db.spawn(cmd, os.path.join(d, "stdout"))
        end = time.time() + 30
        while not self.listening():
            if self.proc.poll() is not None or time.time() > end:
                raise RuntimeError("opendkim did not start: "
                                   + open(os.path.join(d, "stdout"), errors="replace").read()[-2000:])
            time.sleep(0.05)

    def listening(self):
        import socket
        try:
            with socket.socket(socket.AF_UNIX if isinstance(self.socket, str) else socket.AF_INET) as s:
                s.settimeout(1)
                s.connect(self.socket)
                return True
        except OSError:
            return False

    def pids(self):
        return [self.proc.pid]

    def stop(self):
        db.kill_group(self.proc)


# ---------------------------------------------------------------------------------------------
# The letters


def headers(rnd, ctype, extra=()):
    return ["From: Ivan Petrov <user1@example.org>", "To: Partner <partner@outside.test>",
            f"Subject: {db.sentence(rnd)[:60].rstrip('.?!')}", "Date: Mon, 02 Jun 2025 10:15:00 +0000",
            f"Message-ID: <bench.{rnd.randrange(10**12)}@example.org>", "MIME-Version: 1.0",
            f"Content-Type: {ctype}", *extra]


def letter_plain(rnd, size):
    body = []
    for p in db.paragraphs(rnd, size):
        body += db.wrap(p) + [""]
    return "\n".join(headers(rnd, 'text/plain; charset="us-ascii"', ["Content-Transfer-Encoding: 7bit"])
                     + [""] + body) + "\n"


def letter_attachment(rnd, size):
    b = f"=_mix_{rnd.randrange(10**9)}"
    text = []
    for p in db.paragraphs(rnd, 1500):
        text += db.wrap(p) + [""]
    raw = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + bytes(rnd.randrange(256) for _ in range(max(1000, size * 3 // 4)))
    enc = base64.b64encode(raw).decode()
    att = [enc[k:k + 76] for k in range(0, len(enc), 76)]
    lines = headers(rnd, f'multipart/mixed; boundary="{b}"') + [
        "", f"--{b}", 'Content-Type: text/plain; charset="us-ascii"', "Content-Transfer-Encoding: 7bit", "", *text,
        f"--{b}", 'Content-Type: application/pdf; name="report.pdf"', "Content-Transfer-Encoding: base64",
        'Content-Disposition: attachment; filename="report.pdf"', "", *att, f"--{b}--", ""]
    return "\n".join(lines) + "\n"


def make_letter(folder, name, make, size):
    """A letter of about `size` bytes (LF line ends: smtp-source -F sends each line with CRLF)."""
    want = size
    for _ in range(30):
        text = make(random.Random(size), want)
        if abs(len(text) - size) <= size // 50:
            break
        want += size - len(text)
    path = os.path.join(folder, name)
    open(path, "w", newline="").write(text)
    return dict(path=path, size=len(text))


# ---------------------------------------------------------------------------------------------
# Checks and loads


def source(mta, letter, n):
    return subprocess.Popen([SOURCE, "-s", str(SESSIONS), "-m", str(n), "-F", letter["path"], "-f", "bench@outside.test",
                             "-M", "client.outside.test", "-t", "fwd@example.org", f"127.0.0.1:{mta.smtp_port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_empty(mta, timeout=120):
    end = time.time() + timeout
    while mta.queue_files() > 0:
        if time.time() > end:
            raise RuntimeError(f"{mta.name}: {mta.queue_files()} letter(s) still queued after {timeout}s")
        time.sleep(0.02)


def settle(mta):
    wait_empty(mta)
    os.sync()
    time.sleep(0.5)


def dkim_fields(dump):
    """The DKIM-Signature fields (unfolded) of one smtp-sink dump: X-* lines, then the letter."""
    text = dump.replace("\r\n", "\n")
    head = text.split("\n\n", 1)[0]
    fields, cur = [], None
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and cur is not None:
            cur += " " + line.strip()
            continue
        if cur is not None:
            fields.append(cur)
        cur = line
    if cur is not None:
        fields.append(cur)
    return [f.split(":", 1)[1].strip() for f in fields if f.lower().startswith("dkim-signature:")]


def tags(sig):
    return {k.strip(): v.strip() for k, v in (t.split("=", 1) for t in sig.split(";") if "=" in t)}


def verify(base, sink_port, mtas, letters, k=3):
    """Before the rounds: k letters of each size through every set-up, to a dumping smtp-sink on
    the sink's port; every DKIM-on dump has exactly one signature of the domain, the others none."""
    d = os.path.join(base, "sink-dump")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o777)
    proc = subprocess.Popen([SINK, "-u", "nobody", "-d", f"{d}/%M.", f"127.0.0.1:{sink_port}", "256"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=base)
    wait_port(sink_port)
    try:
        for mta in mtas:
            before = mta.signed_total() if isinstance(mta, Pochta) else None
            for f in os.listdir(d):
                os.unlink(os.path.join(d, f))
            for letter in letters.values():
                p = source(mta, letter, k)
                if p.wait(60) != 0:
                    raise SystemExit(f"FAILED: {mta.name}: smtp-source: {p.stderr.read().decode(errors='replace')[-400:]}")
            end = time.time() + 60
            while len(os.listdir(d)) < k * len(letters) and time.time() < end:
                time.sleep(0.05)
            wait_empty(mta)
            time.sleep(0.3)  # the last dump file closed
            dumps = [open(os.path.join(d, f), errors="replace").read() for f in sorted(os.listdir(d))]
            if len(dumps) != k * len(letters):
                raise SystemExit(f"FAILED: {mta.name}: {len(dumps)} of {k * len(letters)} letters reached the sink")
            sigs = [dkim_fields(x) for x in dumps]
            want = 1 if mta.dkim else 0
            bad = [s for s in sigs if len(s) != want]
            if bad:
                raise SystemExit(f"FAILED: {mta.name}: a letter at the sink has {len(bad[0])} DKIM-Signature(s),"
                                 f" expected {want}: {bad[0]}")
            if want:
                t = tags(sigs[min(range(len(dumps)), key=lambda i: len(dumps[i]))][0])  # a 4 KiB one
                if t.get("d") != DOMAIN or t.get("a") != "rsa-sha256" or t.get("c") != "relaxed/relaxed":
                    raise SystemExit(f"FAILED: {mta.name}: unexpected signature {sigs[0][0]}")
                bits = len(re.sub(r"\s", "", t.get("b", ""))) * 6 // 8 * 8
                h = re.sub(r"\s", "", t.get("h", ""))
                log(f"  check {mta.name:20} {len(dumps)} letters at the sink, one DKIM-Signature each:"
                    f" d={t['d']} s={t.get('s')} a={t['a']} c={t['c']} b= {bits} bits\n"
                    f"  {'':26} h={h}")
            else:
                log(f"  check {mta.name:20} {len(dumps)} letters at the sink, no DKIM-Signature")
            if before is not None:
                grew = mta.signed_total() - before
                if grew != want * len(dumps):
                    raise SystemExit(f"FAILED: {mta.name}: pochta_messages_dkim_signed_total grew by {grew},"
                                     f" expected {want * len(dumps)}")
    finally:
        proc.terminate()
        proc.wait()
    shutil.rmtree(d, ignore_errors=True)


def run_load(mta, letter, n, sink, opendkim):
    """One run: n letters, 20 sessions. Returns (accepted msgs/s, at-sink msgs/s, MTA CPU ms/msg,
    opendkim's CPU ms/msg)."""
    is_pochta = isinstance(mta, Pochta)
    signed0 = mta.signed_total() if is_pochta else None
    start = sink.count
    cpu0, dk0 = db.tree_cpu_ms(mta.pids()), db.tree_cpu_ms(opendkim.pids())
    t0 = time.monotonic()
    p = source(mta, letter, n)
    accepted = arrived = None
    deadline = t0 + 60 + n / 5
    try:
        while accepted is None or arrived is None:
            now = time.monotonic()
            if accepted is None and p.poll() is not None:
                accepted = now
                if p.returncode != 0:
                    raise RuntimeError(f"{mta.name}: smtp-source failed: {p.stderr.read().decode(errors='replace')[-400:]}")
            if arrived is None and sink.count - start >= n:
                arrived = now
            if now > deadline:
                raise RuntimeError(f"{mta.name}: {sink.count - start}/{n} at the sink after {now - t0:.0f}s")
            time.sleep(0.005)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    wait_empty(mta, 60)
    cpu = db.tree_cpu_ms(mta.pids()) - cpu0
    dk = db.tree_cpu_ms(opendkim.pids()) - dk0
    if is_pochta:
        grew = mta.signed_total() - signed0
        if grew != (n if mta.dkim else 0):
            raise RuntimeError(f"{mta.name}: pochta_messages_dkim_signed_total grew by {grew} in a run of {n}"
                               f" letters, expected {n if mta.dkim else 0}")
    if sink.count - start != n:
        raise RuntimeError(f"{mta.name}: {sink.count - start} letters at the sink, expected {n}")
    return n / (accepted - t0), n / (max(accepted, arrived) - t0), cpu / n, dk / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--messages", type=int, default=5000,
                    help="letters per 4 KiB run, as smtp_bench's relay row (the 50 KiB runs send a quarter of it)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the message counts")
    ap.add_argument("--keep", help="keep the working folder here")
    ap.add_argument("--milter", choices=("unix", "inet"), default="unix",
                    help="how Postfix reaches opendkim: a Unix socket (default) or TCP on 127.0.0.1")
    a = ap.parse_args()
    for b in (sb.SERVER_BIN, sb.AGENT_BIN, SOURCE, SINK, OPENDKIM):
        if not os.access(b, os.X_OK):
            sys.exit(f"missing {b}")
    counts = {"4k": max(SESSIONS, int(a.messages * a.scale)), "50k": max(SESSIONS, int(a.messages * a.scale / 4))}

    base = a.keep or tempfile.mkdtemp(prefix="pochta-bench-dkim-")
    os.makedirs(base, exist_ok=True)
    os.chmod(base, 0o755)
    started, sink = [], None
    began = time.monotonic()

    def on_signal(sig, _frame):
        raise SystemExit(128 + sig)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        log(f"setting up in {base} ...")
        folder = os.path.join(base, "letters")
        os.makedirs(folder, exist_ok=True)
        letters = {"4k": make_letter(folder, "4k-plain.eml", letter_plain, 4 * 1024),
                   "50k": make_letter(folder, "50k-attachment.eml", letter_attachment, 50 * 1024)}
        sink_port = free_port()
        opendkim = OpenDkim(base, a.milter)
        started.append(opendkim)
        milter = [f"smtpd_milters = {opendkim.milter}", "milter_protocol = 6",
                  "milter_default_action = tempfail"]
        pf_off = Postfix(os.path.join(base, "postfix-plain"), free_port(), sink_port)
        started.append(pf_off)
        pf_on = Postfix(os.path.join(base, "postfix-opendkim"), free_port(), sink_port, milter)
        started.append(pf_on)
        po_off = Pochta(os.path.join(base, "pochta-plain"), free_port(), sink_port)
        started.append(po_off)
        po_on = Pochta(os.path.join(base, "pochta-dkim"), free_port(), sink_port)
        started.append(po_on)
        for m, name, on in ((pf_off, "Postfix", False), (pf_on, "Postfix + OpenDKIM", True),
                            (po_off, "Pochta no key", False), (po_on, "Pochta with key", True)):
            m.name, m.dkim = name, on
        po_off.wait_sync()
        selector, record = po_on.activate_dkim()
        log(f"  Pochta: key {selector} active, agent in sync ({record[:40]}...)")

        verify(base, sink_port, [pf_off, pf_on, po_off, po_on], letters)
        time.sleep(3)  # Postfix's cached connections to the dumping sink are gone (2 s)
        sink = sb.SinkCounter(sink_port, base)
        # Warm-up, on all four, both sizes.
        for mta in (pf_off, pf_on, po_off, po_on):
            for size in ("4k", "50k"):
                run_load(mta, letters[size], max(SESSIONS, counts[size] // 10), sink, opendkim)
            settle(mta)

        rows = [("4k", False), ("4k", True), ("50k", False), ("50k", True)]
        pair = {False: (pf_off, po_off), True: (pf_on, po_on)}
        res = {(size, on, who): [] for size, on in rows for who in ("Postfix", "Pochta")}
        for r in range(a.rounds):
            for size, on in rows:
                pf, po = pair[on]
                for mta in ([pf, po] if r % 2 == 0 else [po, pf]):
                    who = "Postfix" if mta is pf else "Pochta"
                    acc, arr, cpu, dk = run_load(mta, letters[size], counts[size], sink, opendkim)
                    if who == "Pochta" or not on:
                        dk = 0.0  # opendkim serves only the Postfix DKIM-on set-up
                    res[(size, on, who)].append((acc, arr, cpu, dk))
                    log(f"round {r + 1} {size:>3} DKIM {'on ' if on else 'off'} {who:8} {acc:8.1f} msgs/s accepted,"
                        f" {arr:8.1f} at the sink, CPU {cpu:.3f}" + (f" + opendkim {dk:.3f}" if dk else "") + " ms/msg")
                    settle(mta)

        def med(size, on, who, k):
            return statistics.median(x[k] for x in res[(size, on, who)])

        def cpu(size, on, who):
            return med(size, on, who, 2) + med(size, on, who, 3)

        print()
        print(f"DKIM benchmark: Postfix {sb.postfix_version()} + OpenDKIM {opendkim_version()} vs Pochta agent,"
              f" medians of {a.rounds} interleaved rounds")
        print(f"relay to smtp-sink (alias fwd@example.org -> sink@outside.test), smtp-source -s {SESSIONS},"
              f" new connection per message; {counts['4k']} x {letters['4k']['size'] / 1024:.1f} KiB plain,"
              f" {counts['50k']} x {letters['50k']['size'] / 1024:.1f} KiB with attachment per run;"
              " RSA-2048 relaxed/relaxed; fsync on")
        print()
        g = f"{'Postfix':>9} {'Pochta':>9} {'ratio':>7}"
        hdr = f"{'row':22} | {'msgs/s accepted':^27} | {'msgs/s at smtp-sink':^27} | {'CPU ms/msg':^27}"
        print(hdr)
        print(f"{'':22} | {g} | {g} | {g}")
        print("-" * len(hdr))
        for size, on in rows:
            title = f"{'4 KiB' if size == '4k' else '50 KiB'}, DKIM {'on' if on else 'off'}"
            cells = []
            for k in (0, 1):
                p, q = med(size, on, "Postfix", k), med(size, on, "Pochta", k)
                cells.append(f"{p:9.1f} {q:9.1f} {q / p:6.2f}x")
            p, q = cpu(size, on, "Postfix"), cpu(size, on, "Pochta")
            cells.append(f"{p:9.3f} {q:9.3f} {q / p:6.2f}x")
            print(f"{title:22} | " + " | ".join(cells))
        print()
        for size in ("4k", "50k"):
            label = "4 KiB" if size == "4k" else "50 KiB"
            pc = cpu(size, True, "Postfix") - cpu(size, False, "Postfix")
            qc = cpu(size, True, "Pochta") - cpu(size, False, "Pochta")
            pt = 1 - med(size, True, "Postfix", 0) / med(size, False, "Postfix", 0)
            qt = 1 - med(size, True, "Pochta", 0) / med(size, False, "Pochta", 0)
            print(f"  {label}: signing costs (CPU on - off) Postfix+OpenDKIM {pc:.3f} ms/msg, Pochta {qc:.3f} ms/msg;"
                  f" accepted msgs/s drop {pt * 100:.0f}% vs {qt * 100:.0f}%; DKIM on: Postfix processes"
                  f" {med(size, True, 'Postfix', 2):.3f} + opendkim {med(size, True, 'Postfix', 3):.3f} ms/msg")
        print(f"  Postfix: smtpd_milters = {opendkim.milter} (opendkim mode s, selector {SELECTOR_PF}, SignHeaders as the agent's list,"
              f" OversignHeaders {','.join(OVERSIGN_HEADERS)}); Pochta: active key {selector} over the API,"
              " signed at delivery to the smarthost; pochta_messages_dkim_signed_total checked every run")
        print(f"  CPU: utime+stime of the MTA's processes (Postfix: master and children; Pochta: the agent), from the"
              f" start of a run until its queue is empty; smtp-source and smtp-sink not counted")
        log(f"done in {time.monotonic() - began:.0f}s")
        return 0
    finally:
        if sink:
            sink.stop()
        for s in reversed(started):
            try:
                s.stop()
            except Exception as e:  # noqa: BLE001  stop the rest regardless
                log(f"stopping {type(s).__name__}: {e}")
        for pid, (ppid, _) in db.proc_table().items():
            if ppid == os.getpid():
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        if not a.keep:
            shutil.rmtree(base, ignore_errors=True)


def opendkim_version():
    try:
        out = subprocess.run([OPENDKIM, "-V"], capture_output=True, text=True).stdout
        return re.search(r"v(\d\S*)", out).group(1)
    except (OSError, AttributeError):
        return "?"


if __name__ == "__main__":
    sys.exit(main())
