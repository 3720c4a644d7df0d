"""IMAP benchmark on a running Pochta demo (scripts/bench-imap starts one).

Prints:
  * SMTP 250 -> visible over IMAP IDLE at the same site: p50/p99/max over N letters;
  * IMAP login + SELECT + FETCH of 100 headers per second, 10 clients at once.
"""
import imaplib
import json
import multiprocessing
import smtplib
import ssl
import sys
import time

CTX = ssl._create_unverified_context()


def hostport(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


def logged_in(imaps, user, password):
    """A session, once Dovecot (started by the agent with the demo) takes logins."""
    deadline = time.monotonic() + 30
    while True:
        m = imaplib.IMAP4_SSL(*hostport(imaps), ssl_context=CTX)
        try:
            m.login(user, password)
            return m
        except imaplib.IMAP4.error:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def idle_latency(demo, user, password, n):
    hq = next(a for a in demo["agents"] if a["site"] == "hq")
    m = logged_in(hq["imaps"], user, password)
    m.select("INBOX")
    smtp = smtplib.SMTP(*hostport(hq["smtp"]))
    waits = []
    body = "Subject: idle {i}\r\nFrom: someone@example.net\r\n\r\n" + "x" * 3000 + "\r\n"
    for i in range(n):
        tag = m._new_tag()
        m.send(tag + b" IDLE\r\n")
        m.readline()  # "+ idling"
        smtp.sendmail("someone@example.net", [user], body.format(i=i))
        t250 = time.monotonic()
        while True:
            line = m.readline()
            if b"EXISTS" in line:
                waits.append(time.monotonic() - t250)
                break
        m.send(b"DONE\r\n")
        while not m.readline().startswith(tag):
            pass
    smtp.quit()
    m.logout()
    waits.sort()
    pick = lambda q: waits[min(len(waits) - 1, int(q * len(waits)))] * 1000
    return pick(0.5), pick(0.99), waits[-1] * 1000


def client(args):
    imaps, user, password, secs = args
    done = 0
    end = time.monotonic() + secs
    while time.monotonic() < end:
        m = imaplib.IMAP4_SSL(*hostport(imaps), ssl_context=CTX)
        m.login(user, password)
        m.select("INBOX", readonly=True)
        _, items = m.fetch("1:100", "(BODY.PEEK[HEADER])")
        assert sum(1 for it in items if isinstance(it, tuple)) == 100
        m.logout()
        done += 1
    return done


def login_rate(demo, user, password, clients, secs):
    hq = next(a for a in demo["agents"] if a["site"] == "hq")
    with multiprocessing.Pool(clients) as pool:
        t = time.monotonic()
        counts = pool.map(client, [(hq["imaps"], user, password, secs)] * clients)
        took = time.monotonic() - t
    return sum(counts) / took


def main():
    demo = json.load(open(sys.argv[1]))
    user = demo["sample_users"][0]
    password = demo["user_password"]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    p50, p99, mx = idle_latency(demo, user, password, n)
    print(f"SMTP 250 -> IMAP IDLE EXISTS, same site, {n} letters: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {mx:.1f} ms")
    rate = login_rate(demo, user, password, 10, 10)
    print(f"IMAP login + SELECT + FETCH 100 headers, 10 clients: {rate:.1f} sessions/s")


if __name__ == "__main__":
    main()
