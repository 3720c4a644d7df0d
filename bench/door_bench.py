#!/usr/bin/env python3
"""The door benchmark: spam and virus checks before the 250, the agent's door against Postfix with
the same rspamd as a milter and the same clamd, in one run, medians of interleaved rounds.

Four set-ups, each fed the same letters by 20 concurrent `smtp-source` clients (one per letter,
a new connection per message) on a loopback port:

  * Pochta agent, door off, and Postfix without milters;
  * Pochta agent with `[door] rspamd = ... clamd = ...` (rspamd's normal worker over HTTP and clamd
    over its socket, side by side), and Postfix with `smtpd_milters` = rspamd's proxy worker in
    milter mode, self-scanning, whose antivirus module sends each whole letter to the same clamd.

One rspamd instance serves both sides (the normal worker for the agent, the proxy worker for
Postfix, the same rules, the same number of processes) and one clamd. rspamd is the private
configuration of `agent/src/door/private.rs`: the rules that ship with it, no module that fetches
maps, its resolver pointed at a closed loopback port; clamd has a one-signature (EICAR) database.
rspamd's own ClamAV scan is skipped for the agent's requests (the agent asks clamd itself), so each
letter is scanned once by rspamd and once by clamd on either side.

After the 250 both sides deliver into a Maildir (the agent: its queue, then its own Maildir
delivery; Postfix: its queue, then virtual(8)), fsync on; a run ends when the last letter is a file
in Maildir/new (the agent's Junk folder counts too). The figures: msgs/s accepted (all 250s
received), and CPU ms per message (utime+stime from /proc of the MTA's processes from the start
of the run until its queue is empty, plus the scanners' for the door-on row).

    bench/door_bench.py [--rounds 3] [--scale 1.0] [--keep DIR] [--rspamd-workers 2]
"""

import argparse
import base64
import json
import os
import random
import re
import shutil
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smtp_bench as sb  # noqa: E402  the Pochta and Postfix set-ups, shared
from smtp_bench import ROOT, SOURCE, free_port, log, wait_port  # noqa: E402

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
EICAR = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
EICAR_NAME = "Eicar-Test-Signature"
CLIENTS = 20
POCHTA_HOST = "pochta.bench.test"  # the agent's [smtp] hostname, its MTA-Name to rspamd
TICK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# Processes and their CPU


def proc_table():
    """pid -> (ppid, utime+stime+cutime+cstime in ticks) of every process."""
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # After the name: state ppid ... utime(12) stime(13) cutime(14) cstime(15), 1-based fields 14-17.
        out[int(p)] = (int(f[1]), int(f[11]) + int(f[12]) + int(f[13]) + int(f[14]))
    return out


def tree_cpu_ms(roots):
    """CPU of the processes `roots` and all their descendants, ms. Children that ended and were
    reaped are in their parent's cutime/cstime, so a delta over a run counts everything."""
    table = proc_table()
    kids = {}
    for pid, (ppid, _) in table.items():
        kids.setdefault(ppid, []).append(pid)
    seen, todo, ticks = set(), [r for r in roots if r in table], 0
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        ticks += table[p][1]
        todo.extend(kids.get(p, []))
    return ticks * 1000.0 / TICK


def spawn(cmd, log_path, **kw):
    out = open(log_path, "w")
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True, **kw)


def kill_group(p, sig=signal.SIGTERM, wait=10):
    if p is None or p.poll() is not None:
        return
    try:
        os.killpg(p.pid, sig)
    except ProcessLookupError:
        return
    try:
        p.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()


# ---------------------------------------------------------------------------------------------
# The scanners: one clamd, one rspamd with a normal worker (for the agent) and a milter proxy
# worker (for Postfix)


class Scanners:
    def __init__(self, base, workers):
        self.rspamd = self.clamd = None
        self.rdir, self.cdir = os.path.join(base, "rspamd"), os.path.join(base, "clamd")
        self.normal_port, self.milter_port = free_port(), free_port()
        self.socket = os.path.join(self.cdir, "clamd.sock")
        self.url = f"http://127.0.0.1:{self.normal_port}"
        self._clamd()
        self._rspamd(workers)

    def _clamd(self):
        if not os.access("/usr/sbin/clamd", os.X_OK):
            raise RuntimeError("clamd is not installed (apt-get install clamav-daemon)")
        d = self.cdir
        os.makedirs(os.path.join(d, "db"), exist_ok=True)
        with open(os.path.join(d, "db", "pochta-test.ndb"), "w") as f:
            f.write(f"{EICAR_NAME}:0:*:{EICAR.encode().hex()}\n")
        # As private.rs, plus a socket rspamd's workers (user _rspamd) may use.
        conf = (f"LocalSocket {self.socket}\nLocalSocketMode 666\nDatabaseDirectory {d}/db\nForeground yes\n"
                f"LogFile {d}/log\nPidFile {d}/clamd.pid\nStreamMaxLength 30M\nMaxThreads 4\n")
        open(os.path.join(d, "clamd.conf"), "w").write(conf)
        self.clamd = spawn(["/usr/sbin/clamd", "-c", os.path.join(d, "clamd.conf")], os.path.join(d, "stdout"))
        end = time.time() + 60
        while not self.clamd_ping():
            if self.clamd.poll() is not None or time.time() > end:
                raise RuntimeError(f"clamd did not start: {self._tail(os.path.join(d, 'log'))}"
                                   f"{self._tail(os.path.join(d, 'stdout'))}")
            time.sleep(0.1)

    def clamd_ping(self):
        import socket
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(2)
                s.connect(self.socket)
                s.sendall(b"zPING\0")
                return s.recv(8).startswith(b"PONG")
        except OSError:
            return False

    def _rspamd(self, workers):
        if not os.access("/usr/bin/rspamd", os.X_OK):
            raise RuntimeError("rspamd is not installed (apt-get install rspamd)")
        d = self.rdir
        os.makedirs(os.path.join(d, "db"), exist_ok=True)
        # The agent asks clamd itself, beside rspamd: rspamd's own ClamAV scan is for the milter side.
        open(os.path.join(d, "door_bench.lua"), "w").write(
            "rspamd_config:add_condition('CLAM_VIRUS', function(task)\n"
            "  local mta = task:get_request_header('MTA-Name')\n"
            f"  return not (mta and tostring(mta) == '{POCHTA_HOST}')\n"
            "end)\n")
        # private.rs's configuration (no outside DNS, no map-fetching modules, the shipped rules),
        # plus the milter proxy worker and the antivirus module for the Postfix side.
        conf = f"""options {{
  pidfile = "{d}/rspamd.pid";
  dbdir = "{d}/db";
  tempdir = "{d}/db";
  disable_monitoring = true;
  # No outside DNS: a closed loopback port answers every query at once.
  dns {{ nameserver = ["127.0.0.1:9"]; timeout = 0.1s; retransmits = 1; }}
}}
logging {{ type = "file"; filename = "{d}/log"; level = "warning"; }}
actions {{ reject = 15; add_header = 6; greylist = 4; }}
.include "$CONFDIR/groups.conf"
lua = "$RULESDIR/rspamd.lua";
lua = "{d}/door_bench.lua";
worker "normal" {{ bind_socket = "127.0.0.1:{self.normal_port}"; count = {workers}; task_timeout = 8s; }}
worker "rspamd_proxy" {{
  bind_socket = "127.0.0.1:{self.milter_port}";
  milter = yes;
  timeout = 120s;
  count = {workers};
  upstream "local" {{ default = yes; self_scan = yes; }}
  spam_header = "X-Spam";
  reject_message = "Spam message rejected";
}}
# Only the antivirus plugin, no other module.
modules {{ path = "$PLUGINSDIR/antivirus.lua"; }}
antivirus {{
  clamav {{
    type = "clamav";
    symbol = "CLAM_VIRUS";
    servers = "{self.socket}";
    action = "reject";
    # The whole letter, as the agent and clamav-milter send it (not only its attachments).
    scan_mime_parts = false;
    timeout = 20s;
  }}
}}
"""
        conf_path = os.path.join(d, "rspamd.conf")
        open(conf_path, "w").write(conf)
        cmd = ["/usr/bin/rspamd", "-f", "-c", conf_path]
        if os.geteuid() == 0:
            import pwd
            pw = pwd.getpwnam("_rspamd")
            for p in (d, os.path.join(d, "db")):
                os.chown(p, pw.pw_uid, pw.pw_gid)
            cmd += ["-u", "_rspamd", "-g", "_rspamd"]
        self.rspamd = spawn(cmd, os.path.join(d, "stdout"))
        for port in (self.normal_port, self.milter_port):
            try:
                wait_port(port, 60)
            except RuntimeError:
                raise RuntimeError(f"rspamd did not start: {self._tail(os.path.join(d, 'log'))}"
                                   f"{self._tail(os.path.join(d, 'stdout'))}")

    @staticmethod
    def _tail(path):
        try:
            return open(path, errors="replace").read()[-2000:]
        except OSError:
            return ""

    def pids(self):
        return [p.pid for p in (self.rspamd, self.clamd) if p]

    def check(self, data, from_="bench@outside.test", rcpt="user1@example.org", mta=POCHTA_HOST):
        """rspamd's verdict on a letter, as the agent asks for it (the normal worker)."""
        req = urllib.request.Request(
            self.url + "/checkv2", data=data, method="POST",
            headers={"IP": "127.0.0.1", "Helo": "client.outside.test", "From": from_, "Rcpt": rcpt,
                     "MTA-Name": mta})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def wait_idle(self, timeout=300):
        """Until rspamd's helpers (hyperscan compilation) and clamd use no CPU for a while."""
        end = time.time() + timeout
        last, quiet = tree_cpu_ms(self.pids()), 0
        while time.time() < end:
            time.sleep(1)
            now = tree_cpu_ms(self.pids())
            quiet = quiet + 1 if now - last < 30 else 0
            last = now
            if quiet >= 3:
                return
        log("warning: the scanners did not go idle")

    def stop(self):
        for p in (self.rspamd, self.clamd):
            kill_group(p)


# ---------------------------------------------------------------------------------------------
# The two MTAs, as smtp_bench.py sets them up


class Postfix(sb.Postfix):
    """smtp_bench's private instance, no relayhost, with further main.cf settings."""

    def __init__(self, base, smtp_port, settings=()):
        self.base, self.smtp_port = base, smtp_port
        r = subprocess.run([os.path.join(ROOT, "bench", "postfix-instance.sh"), "start", base, str(smtp_port),
                            "", "127.0.0.1", "", *settings], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"the Postfix instance in {base} did not start: {r.stderr[-1500:]}")
        wait_port(smtp_port)

    def dirs(self, users):
        return [self.maildir_new(u) for u in users]


class Pochta(sb.Pochta):
    def dirs(self, users):
        return [self.maildir_new(u) for u in users] + [os.path.join(self.mail, u, "Maildir", ".Junk", "new")
                                                       for u in users]

    def open_door(self, scanners):
        """Restarts the agent with `[door]` set to the shared scanners."""
        self.agent.send_signal(signal.SIGTERM)
        try:
            self.agent.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.agent.kill()
            self.agent.wait()
        cfg_path = os.path.join(self.adata, "agent.toml")
        cfg = open(cfg_path).read()
        door = (f'rspamd = "{scanners.url}"\nclamd = "{scanners.socket}"\n'
                'scan_timeout_secs = 20.0\nfail_open = false\n')
        if re.search(r"(?m)^\[door\]\s*$", cfg):
            # The section the enrollment wrote: our keys replace its own.
            head, rest = re.split(r"(?m)^\[door\]\s*\n", cfg, maxsplit=1)
            body, sep, tail = rest.partition("\n[")
            body = "\n".join(l for l in body.split("\n")
                             if not re.match(r"\s*(rspamd|clamd|scan_timeout_secs|fail_open)\s*=", l))
            cfg = head + "[door]\n" + door + body + sep + tail
        else:
            cfg = cfg.rstrip("\n") + "\n\n[door]\n" + door
        open(cfg_path, "w").write(cfg)
        self.agent = subprocess.Popen([sb.AGENT_BIN, "run", "--data", self.adata], stdout=self.agent_log,
                                      stderr=subprocess.STDOUT)
        try:
            wait_port(self.smtp_port)
        except RuntimeError:
            raise RuntimeError(f"the agent with [door] did not start; agent.toml:\n{cfg}")


# ---------------------------------------------------------------------------------------------
# The letters

WORDS = """the of and to in is that for it as was with be by on not he this are or his from at which but
have an they you were her she there been one all we their has would when if so no will more can who
about out up them some could what into than time only other new people any then its may these two
like first over did such our now most after also made many before must through back years where much
your way well down should because each just those how too little state good very make world still own
see men work long get here between both life being under never day same another know while last might
us great old year off come since against go came right used take three meeting report quarter budget
project team schedule review office order invoice delivery customer service account update product
price market plan week month friday monday thanks regards please attached document draft version
comments changes agenda minutes summary proposal contract shipment warehouse supplier payment receipt""".split()


def sentence(rnd):
    words = [rnd.choice(WORDS) for _ in range(rnd.randint(6, 16))]
    return " ".join(words).capitalize() + rnd.choice([".", ".", ".", "?", "!"])


def paragraphs(rnd, size):
    out, n = [], 0
    while n < size:
        p = " ".join(sentence(rnd) for _ in range(rnd.randint(3, 7)))
        out.append(p)
        n += len(p) + 2
    return out


def wrap(text, width=72):
    lines, line = [], ""
    for w in text.split():
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}" if line else w
    if line:
        lines.append(line)
    return lines


def headers(rnd, i, ctype, extra=()):
    senders = ["news@shop.example.net", "anna.petrova@partner.example.com", "billing@supplier.example",
               "j.smith@university.example.edu", "team@project.example.org"]
    day = 1 + i % 28
    h = [f"From: {rnd.choice(senders)}", f"To: user{i + 1}@example.org",
         f"Subject: {sentence(rnd)[:60].rstrip('.?!')}",
         f"Date: Mon, {day:02d} Jun 2025 10:{i % 60:02d}:00 +0000",
         f"Message-ID: <bench.{i}.{rnd.randrange(10**12)}@outside.test>", "MIME-Version: 1.0", *extra,
         f"Content-Type: {ctype}"]
    return h


def letter_plain(rnd, i, size):
    body = []
    for p in paragraphs(rnd, size - 600):
        body += wrap(p) + [""]
    return "\n".join(headers(rnd, i, 'text/plain; charset="us-ascii"', ["Content-Transfer-Encoding: 7bit"])
                       + [""] + body) + "\n"


def letter_html(rnd, i, size):
    paras = paragraphs(rnd, (size - 1200) // 2)
    b = f"=_alt_{i}_{rnd.randrange(10**9)}"
    text = []
    for p in paras:
        text += wrap(p) + [""]
    html = ["<html><head><meta charset=\"us-ascii\"></head><body>"]
    for p in paras:
        html += wrap(f"<p style=\"font-family:Arial\">{p}</p>")
    html += ["<p><a href=\"https://www.example.net/account\">Your account</a></p>", "</body></html>"]
    lines = headers(rnd, i, f'multipart/alternative; boundary="{b}"') + [
        "", f"--{b}", 'Content-Type: text/plain; charset="us-ascii"', "Content-Transfer-Encoding: 7bit", "", *text,
        f"--{b}", 'Content-Type: text/html; charset="us-ascii"', "Content-Transfer-Encoding: 7bit", "", *html,
        f"--{b}--", ""]
    return "\n".join(lines) + "\n"


def letter_attachment(rnd, i, size, payload=None):
    b = f"=_mix_{i}_{rnd.randrange(10**9)}"
    text = []
    for p in paragraphs(rnd, 1200):
        text += wrap(p) + [""]
    if payload is None:
        raw = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + bytes(rnd.randrange(256) for _ in range(max(1000, (size - 3000) * 3 // 4)))
    else:
        raw = payload
    enc = base64.b64encode(raw).decode()
    att = [enc[k:k + 76] for k in range(0, len(enc), 76)]
    name = "report.pdf" if payload is None else "test.com"
    lines = headers(rnd, i, f'multipart/mixed; boundary="{b}"') + [
        "", f"--{b}", 'Content-Type: text/plain; charset="us-ascii"', "Content-Transfer-Encoding: 7bit", "", *text,
        f"--{b}", f'Content-Type: application/octet-stream; name="{name}"', "Content-Transfer-Encoding: base64",
        f'Content-Disposition: attachment; filename="{name}"', "", *att, f"--{b}--", ""]
    return "\n".join(lines) + "\n"


def make_letters(folder, n=CLIENTS, seed=1):
    """n letters of 20-50 KiB: mostly plain text, a quarter HTML, three with a PDF-like base64
    attachment. LF line ends: smtp-source -F sends each line with CRLF."""
    lo, hi = 20 * 1024, 50 * 1024
    os.makedirs(folder, exist_ok=True)
    out = []
    sizes = random.Random(seed)
    for i in range(n):
        target = sizes.randint(lo, hi)
        kind = "attachment" if i % 7 == 3 else "html" if i % 4 == 1 else "plain"
        make = {"plain": letter_plain, "html": letter_html, "attachment": letter_attachment}[kind]
        # Aim at the size: regenerate (the same words) with a corrected target until it fits.
        want = target
        for _ in range(20):
            text = make(random.Random(seed * 1000 + i), i, want)
            if lo <= len(text) <= hi:
                break
            want += target - len(text)
        path = os.path.join(folder, f"{i:02d}-{kind}.eml")
        open(path, "w", newline="").write(text)
        out.append(dict(path=path, kind=kind, size=len(text), rcpt=f"user{i + 1}"))
    return out


# ---------------------------------------------------------------------------------------------
# Checks and loads


def send_one(port, data, rcpt="user1@example.org"):
    """(code, text) of the answer to a letter's data (or to the first refused command)."""
    data = re.sub(rb"\r?\n", b"\r\n", data if isinstance(data, bytes) else data.encode())
    try:
        with smtplib.SMTP("127.0.0.1", port, local_hostname="client.outside.test", timeout=60) as s:
            s.sendmail("bench@outside.test", [rcpt], data)
            return 250, "ok"
    except smtplib.SMTPDataError as e:
        return e.smtp_code, e.smtp_error.decode(errors="replace")
    except smtplib.SMTPRecipientsRefused as e:
        code, text = list(e.recipients.values())[0]
        return code, text.decode(errors="replace")
    except smtplib.SMTPResponseException as e:
        return e.smtp_code, e.smtp_error.decode(errors="replace")


def verify(name, port, checks_on, clean):
    """GTUBE and EICAR are refused (5xx) when checks are on and accepted when off; a clean letter
    always passes. Fails loudly otherwise."""
    rnd = random.Random(7)
    gtube = letter_plain(rnd, 0, 3000).replace("\n\n", f"\n\n{GTUBE}\n\n", 1)
    eicar = letter_attachment(rnd, 0, 4000, payload=EICAR.encode())
    results = {"clean": send_one(port, clean), "GTUBE": send_one(port, gtube), "EICAR": send_one(port, eicar)}
    for what, (code, text) in results.items():
        want_refused = checks_on and what != "clean"
        ok = 500 <= code < 600 if want_refused else code == 250
        log(f"  check {name:22} {what:5} -> {code} {text.strip()[:70]}")
        if not ok:
            raise SystemExit(f"FAILED: {name}: the {what} letter got {code} {text.strip()!r}, expected "
                             f"{'a 5xx refusal' if want_refused else '250'}"
                             + (": the scanners do not run as configured" if what != "clean" else ""))


def settle(mta, users):
    end = time.time() + 120
    while mta.queue_files() > 0 and time.time() < end:
        time.sleep(0.05)
    for d in mta.dirs(users):
        try:
            for f in os.listdir(d):
                os.unlink(os.path.join(d, f))
        except FileNotFoundError:
            pass
    os.sync()
    time.sleep(0.5)


def run_load(mta, letters, per_client, scanners):
    """One run: every client sends its letter per_client times. Returns (accepted msgs/s,
    delivered msgs/s, MTA CPU ms/msg, scanners' CPU ms/msg)."""
    users = [l["rcpt"] for l in letters]
    dirs = mta.dirs(users)
    total = per_client * len(letters)
    cpu0, scan0 = tree_cpu_ms(mta.pids()), tree_cpu_ms(scanners.pids())
    t0 = time.monotonic()
    procs = [subprocess.Popen([SOURCE, "-s", "1", "-m", str(per_client), "-F", l["path"], "-f", "bench@outside.test",
                               "-M", "client.outside.test", "-t", f"{l['rcpt']}@example.org",
                               f"127.0.0.1:{mta.smtp_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for l in letters]
    accepted = delivered = None
    deadline = t0 + 60 + total / 5
    try:
        while accepted is None or delivered is None:
            now = time.monotonic()
            if accepted is None and all(p.poll() is not None for p in procs):
                accepted = now
                bad = [p for p in procs if p.returncode != 0]
                if bad:
                    raise RuntimeError(f"{type(mta).__name__}: smtp-source failed: "
                                       f"{bad[0].stderr.read().decode(errors='replace')[-400:]}")
            if delivered is None and sb.count_new(dirs) >= total:
                delivered = now
            if now > deadline:
                raise RuntimeError(f"{type(mta).__name__}: {sb.count_new(dirs)}/{total} delivered after {now - t0:.0f}s")
            time.sleep(0.01)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    end = time.time() + 60
    while mta.queue_files() > 0 and time.time() < end:
        time.sleep(0.02)
    cpu = tree_cpu_ms(mta.pids()) - cpu0
    scan = tree_cpu_ms(scanners.pids()) - scan0
    return total / (accepted - t0), total / (max(accepted, delivered) - t0), cpu / total, scan / total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the message count (1.0: 100 per client)")
    ap.add_argument("--keep", help="keep the working folder here")
    ap.add_argument("--rspamd-workers", type=int, default=os.cpu_count() or 2,
                    help="processes of rspamd's normal worker and of its proxy worker, each (default: CPUs)")
    a = ap.parse_args()
    for b in (sb.SERVER_BIN, sb.AGENT_BIN, SOURCE):
        if not os.access(b, os.X_OK):
            sys.exit(f"missing {b}")
    per_client = max(1, int(100 * a.scale))

    base = a.keep or tempfile.mkdtemp(prefix="pochta-bench-door-")
    os.makedirs(base, exist_ok=True)
    os.chmod(base, 0o755)
    started = []

    def on_signal(sig, _frame):
        raise SystemExit(128 + sig)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        log(f"setting up in {base} ...")
        letters = make_letters(os.path.join(base, "letters"))
        users = [l["rcpt"] for l in letters]
        scanners = Scanners(base, a.rspamd_workers)
        started.append(scanners)
        sport = free_port()  # no relaying in this bench: an address nobody listens on
        pf_off = Postfix(os.path.join(base, "postfix-plain"), free_port())
        started.append(pf_off)
        milter = [f"smtpd_milters = inet:127.0.0.1:{scanners.milter_port}", "milter_protocol = 6",
                  "milter_default_action = tempfail",
                  "milter_mail_macros = i {mail_addr} {client_addr} {client_name} {auth_authen}"]
        pf_on = Postfix(os.path.join(base, "postfix-milter"), free_port(), milter)
        started.append(pf_on)
        po_off = Pochta(os.path.join(base, "pochta-plain"), free_port(), sport)
        started.append(po_off)
        po_on = Pochta(os.path.join(base, "pochta-door"), free_port(), sport)
        started.append(po_on)
        po_on.open_door(scanners)

        log("waiting for rspamd to finish compiling its rules ...")
        scanners.wait_idle()
        # The letters as rspamd sees them: none may be refused or greylisted.
        for l in letters:
            v = scanners.check(open(l["path"], "rb").read(), rcpt=f"{l['rcpt']}@example.org")
            log(f"  {os.path.basename(l['path']):18} {l['size'] // 1024:3} KiB  rspamd {v['score']:5.2f} {v['action']}")
            if v["action"] not in ("no action", "add header"):
                raise SystemExit(f"FAILED: rspamd says {v['action']} to {l['path']}: {sorted(v.get('symbols', {}))}")
        # The agent's requests skip rspamd's ClamAV (it asks clamd itself); the milter's do not.
        eicar = letter_attachment(random.Random(3), 0, 4000, payload=EICAR.encode()).encode()
        v = scanners.check(eicar)
        if "CLAM_VIRUS" in v.get("symbols", {}):
            raise SystemExit("FAILED: rspamd's ClamAV scan runs for the agent's requests too")

        clean = open(letters[0]["path"], "rb").read()
        for name, mta, on in (("Postfix", pf_off, False), ("Postfix + rspamd milter", pf_on, True),
                              ("Pochta door off", po_off, False), ("Pochta door on", po_on, True)):
            verify(name, mta.smtp_port, on, clean)
        # Warm-up: every mailbox exists, caches are warm, on all four.
        for mta in (pf_off, pf_on, po_off, po_on):
            run_load(mta, letters, 2, scanners)
            settle(mta, users)

        rows = {"off": (pf_off, po_off), "on": (pf_on, po_on)}
        res = {(row, who): [] for row in rows for who in ("Postfix", "Pochta")}
        for r in range(a.rounds):
            for row, (pf, po) in rows.items():
                for mta in ([pf, po] if r % 2 == 0 else [po, pf]):
                    who = "Postfix" if mta is pf else "Pochta"
                    if row == "on":
                        scanners.wait_idle(30)
                    acc, dlv, cpu, scan = run_load(mta, letters, per_client, scanners)
                    res[(row, who)].append((acc, dlv, cpu, scan))
                    log(f"round {r + 1} door {row:3} {who:8} {acc:8.1f} msgs/s accepted, {dlv:8.1f} delivered,"
                        f" CPU {cpu:.2f} + scanners {scan:.2f} ms/msg")
                    settle(mta, users)

        def med(row, who, k):
            return statistics.median(x[k] for x in res[(row, who)])

        total = per_client * len(letters)
        kinds = {k: sum(1 for l in letters if l["kind"] == k) for k in ("plain", "html", "attachment")}
        print()
        print(f"Door benchmark: Postfix {sb.postfix_version()} vs Pochta agent, rspamd {rspamd_version()} +"
              f" clamd {clamd_version()}, medians of {a.rounds} interleaved rounds")
        print(f"{CLIENTS} concurrent smtp-source clients, new connection per message, {total} messages per run:"
              f" {kinds['plain']} plain / {kinds['html']} HTML / {kinds['attachment']} base64-attachment letters,"
              f" {min(l['size'] for l in letters) // 1024}-{max(l['size'] for l in letters) // 1024} KiB")
        print()
        hdr = f"{'':42} {'Postfix':>9} {'Pochta':>9} {'ratio':>7}   {'CPU ms/msg Postfix':>20} {'Pochta':>9} {'ratio':>7}"
        print(hdr)
        print("-" * len(hdr))
        ok = True
        for row, title in (("off", "door off (no checks)"), ("on", "door on (rspamd + clamd)")):
            p, q = med(row, "Postfix", 0), med(row, "Pochta", 0)
            pc = med(row, "Postfix", 2) + (med(row, "Postfix", 3) if row == "on" else 0)
            qc = med(row, "Pochta", 2) + (med(row, "Pochta", 3) if row == "on" else 0)
            print(f"{title + ', msgs/s accepted':42} {p:9.1f} {q:9.1f} {q / p:6.2f}x   {pc:20.2f} {qc:9.2f} {qc / pc:6.2f}x")
            if row == "on":
                ok = q > p
        print()
        for row in ("off", "on"):
            print(f"  door {row}: delivered into Maildir/new msgs/s: Postfix {med(row, 'Postfix', 1):.1f},"
                  f" Pochta {med(row, 'Pochta', 1):.1f}; CPU ms/msg MTA only: Postfix {med(row, 'Postfix', 2):.2f},"
                  f" Pochta {med(row, 'Pochta', 2):.2f}" + (
                      f"; scanners: Postfix side {med(row, 'Postfix', 3):.2f}, Pochta side {med(row, 'Pochta', 3):.2f}"
                      if row == "on" else ""))
        print("  door on: Postfix: smtpd_milters = rspamd proxy worker (milter, self_scan), ClamAV via rspamd's"
              " antivirus module (whole letter); Pochta: [door] rspamd normal worker (HTTP) + clamd (INSTREAM)"
              " in parallel; one rspamd instance"
              f" ({a.rspamd_workers} process(es) per worker), one clamd, for both")
        print("  after the 250: both queue the letter (fsync) and deliver it into Maildir (Postfix: virtual(8);"
              " the agent: its local delivery); CPU counted until the queue is empty")
        print(f"  target: Pochta with checks ahead of Postfix + rspamd milter: {'ok' if ok else 'MISSED'}")
        return 0 if ok else 1
    finally:
        for s in reversed(started):
            try:
                s.stop()
            except Exception as e:  # noqa: BLE001  stop the rest regardless
                log(f"stopping {type(s).__name__}: {e}")
        # Anything of ours still running (a set-up that failed half-way): our own children, by pid.
        for pid, (ppid, _) in proc_table().items():
            if ppid == os.getpid():
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        if not a.keep:
            shutil.rmtree(base, ignore_errors=True)


def rspamd_version():
    try:
        out = subprocess.run(["/usr/bin/rspamd", "--version"], capture_output=True, text=True).stdout
        return re.search(r"version (\S+)", out).group(1)
    except (OSError, AttributeError):
        return "?"


def clamd_version():
    try:
        out = subprocess.run(["/usr/sbin/clamd", "--version"], capture_output=True, text=True).stdout
        return out.split()[1].split("/")[0]
    except (OSError, IndexError):
        return "?"


if __name__ == "__main__":
    sys.exit(main())
