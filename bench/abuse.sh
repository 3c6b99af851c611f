#!/usr/bin/env bash
# bench/abuse.sh: issue 16's attacks on a running `berth hub serve`, with
# the issue's numbers, over loopback only. Prints the hub's memory (VmRSS
# from /proc) before and after (goal: growth under 50 MB) and what each
# attack got: refused, bounded, or redirected to the site itself.
#
#   1. 300 raw requests with random 500 KB methods to /healthz
#   2. 80 token requests with 9,000 scopes each
#   3. the sign-in redirect to /%09/evil.example/x
#   4. 5 wrong passwords for bob, then bob signs in from another address
#   5. a cross-site text/plain POST with cached Basic credentials
#   6. the sparse layer (finding 4): skipped, see store
#
# Then the slow-body run: 500 connections from one address sending a
# /token POST body, a manifest PUT body and a sign-in form a byte a second,
# while another address (127.0.0.2) asks GET /v2/ every 50 ms.
#
# Needs: go, python3. Knobs: BERTH (default: built into the work dir),
# BENCH_DIR (default a temp dir), SLOW=0 to skip the slow-body run (it takes
# the hub's body idle timeout, 30 s by default; BODY_IDLE=5s shortens it).
set -euo pipefail
cd "$(dirname "$0")/.."

work=${BENCH_DIR:-$(mktemp -d /tmp/babuse.XXXXXX)}
mkdir -p "$work"
if [ -z "${BERTH:-}" ]; then
	BERTH=$work/berth
	go build -o "$BERTH" ./cmd/berth
fi
command -v python3 >/dev/null || { echo "bench/abuse.sh: python3 is missing" >&2; exit 1; }

hub_pid=
cleanup() {
	set +e
	[ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null && wait "$hub_pid" 2>/dev/null
	[ -z "${BENCH_DIR:-}" ] && rm -rf "$work"
	return 0
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
port=$(free_port)
mport=$(free_port)
root=$work/hub
echo alice-pw | "$BERTH" hub user add alice --root "$root" >/dev/null
echo bob-pw | "$BERTH" hub user add bob --root "$root" >/dev/null

"$BERTH" hub serve --addr "127.0.0.1:$port" --root "$root" --no-seed --analysis-workers 0 \
	--metrics-addr "127.0.0.1:$mport" --body-idle-timeout "${BODY_IDLE:-30s}" \
	>"$work/hub.out" 2>"$work/hub.log" &
hub_pid=$!
for _ in $(seq 100); do
	grep -q "serving on" "$work/hub.out" 2>/dev/null && break
	sleep 0.1
done
grep -q "serving on" "$work/hub.out" || { echo "the hub did not start:" >&2; cat "$work/hub.log" >&2; exit 1; }

python3 - "$hub_pid" "127.0.0.1:$port" "127.0.0.1:$mport" "${SLOW:-1}" <<'EOF'
import base64, hashlib, http.client, random, re, socket, string, sys, threading, time
import urllib.parse

pid, addr, maddr, slow = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] != "0"
host, port = addr.split(":")[0], int(addr.split(":")[1])

def rss():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return -1

def request(method, path, headers=None, body=None, src=None, a=addr):
    h, p = a.split(":")
    c = http.client.HTTPConnection(h, int(p), timeout=60, source_address=(src, 0) if src else None)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data

def basic(user, pw):
    return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()

def tally(codes):
    out = {}
    for c in codes:
        out[c] = out.get(c, 0) + 1
    return ", ".join(f"{n}x {c}" for c, n in sorted(out.items()))

def big_methods():
    letters = string.ascii_uppercase.encode()
    codes = []
    for _ in range(300):
        m = bytes(random.choice(letters) for _ in range(1000)) * 500
        s = socket.create_connection((host, port))
        s.sendall(m + b" /healthz HTTP/1.1\r\nHost: " + addr.encode() + b"\r\nConnection: close\r\n\r\n")
        resp = b""
        while chunk := s.recv(65536):
            resp += chunk
        s.close()
        codes.append(resp.split(b" ")[1].decode() if resp.startswith(b"HTTP/") else "closed")
    _, _, body = request("GET", "/metrics", a=maddr)
    labels = sorted(set(re.findall(r'method="([^"]*)"', body.decode())))
    pub, _, _ = request("GET", "/metrics")
    return f"bounded: {tally(codes)}; /metrics {len(body)} bytes, method labels {labels}; public /metrics {pub}"

def big_tokens():
    scope = " ".join(f"repository:x/y{i}:pull" for i in range(9000))
    q = urllib.parse.urlencode({"service": addr, "scope": scope})
    codes, sizes = [], []
    for _ in range(80):
        st, _, body = request("GET", "/token?" + q)
        codes.append(st)
        sizes.append(len(body))
    return f"refused: {tally(codes)}, answers of at most {max(sizes)} bytes"

def redirect():
    st, hdr, page = request("GET", "/signin")
    cookie = hdr.get("set-cookie", "").split(";")[0]
    csrf = re.search(rb'name="csrf" value="([0-9a-f]+)"', page).group(1).decode()
    form = urllib.parse.urlencode({"csrf": csrf, "username": "alice", "password": "alice-pw", "next": "/\t/evil.example/x"})
    st, hdr, _ = request("POST", "/signin?next=/%09/evil.example/x", {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}, form)
    loc = hdr.get("location", "")
    where = "redirected to the site itself" if loc.startswith("/") and not loc.startswith("//") and "\t" not in loc and "\\" not in loc else "REDIRECTED AWAY"
    return f"{where}: {st} Location {loc!r}"

def lockout():
    q = "/token?" + urllib.parse.urlencode({"service": addr, "account": "bob"})
    wrong = [request("GET", q, {"Authorization": basic("bob", f"guess{i}")})[0] for i in range(5)]
    g, ghdr, _ = request("GET", q, {"Authorization": basic("bob", "bob-pw")})
    b, _, _ = request("GET", q, {"Authorization": basic("bob", "bob-pw")}, src="127.0.0.2")
    verdict = "refused the guesser only" if b == 200 and g == 429 else "OWNER LOCKED OUT" if b != 200 else "guesser not slowed"
    return f"{verdict}: wrong passwords {tally(wrong)}; bob's password from the guesser's address {g} (Retry-After {ghdr.get('retry-after')}), from 127.0.0.2 {b}"

def cross_site():
    blob = b"made across sites"
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    h = {"Authorization": basic("alice", "alice-pw"), "Origin": "http://evil.example", "Content-Type": "text/plain"}
    up, _, _ = request("POST", f"/v2/alice/csrfmade/blobs/uploads/?digest={digest}", h, blob)
    star, _, _ = request("PUT", "/api/v1/repositories/alice/csrfmade/star", h, b"x")
    made, _, _ = request("GET", "/api/v1/repositories/alice/csrfmade")
    st, hdr, _ = request("GET", "/api/v1/user")
    verdict = "refused" if up == 403 and star == 403 and made == 404 else "NOT REFUSED"
    return f"{verdict}: blob POST {up}, star PUT {star}, alice/csrfmade {made}; anonymous /api/v1/user {st} WWW-Authenticate {hdr.get('www-authenticate')!r}"

def slow_bodies(n=500):
    heads = [
        "POST /token HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\n",
        "PUT /v2/alice/app/manifests/v1 HTTP/1.1\r\nHost: %s\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 200\r\n\r\n",
        "POST /signin HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\n",
    ]
    start = time.monotonic()
    closed, answered, ended = [None] * n, [False] * n, [0.0] * n
    def trickle(i):
        t0 = time.monotonic()
        try:
            s = socket.create_connection((host, port), timeout=120)
        except OSError:
            closed[i], ended[i] = time.monotonic() - t0, time.monotonic() - start
            return
        stop = threading.Event()
        def writer():
            try:
                s.sendall((heads[i % 3] % addr).encode())
                while not stop.wait(1):
                    s.sendall(b"a")
            except OSError:
                pass
        threading.Thread(target=writer, daemon=True).start()
        got = 0
        try:
            while chunk := s.recv(4096):
                got += len(chunk)
        except OSError:
            pass
        closed[i], answered[i], ended[i] = time.monotonic() - t0, got > 0, time.monotonic() - start
        stop.set()
        s.close()
    threads = [threading.Thread(target=trickle, args=(i,)) for i in range(n)]
    worst, pings, done = [0.0], [0], threading.Event()
    def ping():
        while not done.wait(0.05):
            t0 = time.monotonic()
            request("GET", "/v2/", src="127.0.0.2")
            worst[0] = max(worst[0], time.monotonic() - t0)
            pings[0] += 1
    pinger = threading.Thread(target=ping)
    pinger.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    pinger.join()
    refused = sum(1 for i in range(n) if closed[i] < 0.5 and not answered[i])
    held = sorted(closed[i] for i in range(n) if not (closed[i] < 0.5 and not answered[i]))
    return (f"{n} connections: {refused} refused at once, {len(held)} held and cut after "
            f"{held[0]:.1f}-{held[-1]:.1f} s of their own (all closed {max(ended):.1f} s after the first opened); "
            f"GET /v2/ from 127.0.0.2: {pings[0]} answers, slowest {worst[0]*1000:.0f} ms") if held else f"{n} connections: {refused} refused"

before = rss()
print(f"hub RSS before: {before} MB")
for name, fn in [("1. 300 random 500 KB methods", big_methods), ("2. 80 token requests with 9,000 scopes", big_tokens),
                 ("3. sign-in redirect to /%09/evil.example/x", redirect), ("4. 5 wrong passwords for bob, then bob from 127.0.0.2", lockout),
                 ("5. cross-site text/plain POST with Basic credentials", cross_site)]:
    t0 = time.monotonic()
    print(f"{name}: {fn()} [{time.monotonic()-t0:.1f} s, RSS {rss()} MB]", flush=True)
print("6. sparse 150-byte layer: skipped: see store (finding 4 is the layer code's)")
after = rss()
print(f"hub RSS after: {after} MB (growth {after-before} MB; goal under 50 MB: {'met' if after-before < 50 else 'MISSED'})")
if slow:
    print(f"slow bodies: {slow_bodies()} [RSS {rss()} MB]", flush=True)
EOF
