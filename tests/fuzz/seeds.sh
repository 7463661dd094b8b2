#!/bin/sh
# Builds the seed corpus of every libFuzzer target, one folder per target under OUT/seeds,
# from the fixtures in tests/data (list items and watch events cut out of the model
# fixtures, canned Exoscale answers made from the emulator's world, the static groups
# files, the kubeconfigs), plus every finding of tests/data/fuzz/findings/TARGET-*, so that
# each run replays them. Usage: seeds.sh SRCDIR OUT
set -eu
src=$1
out=$2
rm -rf "$out/seeds"
mkdir -p "$out/seeds"
exec python3 - "$src" "$out/seeds" <<'PY'
import glob, hashlib, json, os, sys

src, out = sys.argv[1], sys.argv[2]
MAX = 64 * 1024  # seeds past this only slow the runs down


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX:
        return
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def load(path):
    with open(os.path.join(src, path), "rb") as f:
        return f.read()


def compact(v):
    return json.dumps(v, separators=(",", ":"))


# Findings: kept as seeds so that a fixed bug cannot come back unnoticed.
for p in sorted(glob.glob(os.path.join(src, "tests/data/fuzz/findings/*-*"))):
    name = os.path.basename(p)
    for t in ("quantity", "model_text", "model_json", "model_diff", "jscan", "watch", "kubeconfig",
              "exec", "exo_sks", "exo_pool", "static", "flags", "priority", "template"):
        if name.startswith(t + "-"):
            put(t, open(p, "rb").read())


# Quantities: the first column of the table.
for line in load("tests/data/model/quantities.txt").decode().splitlines():
    if line and not line.startswith("#"):
        put("quantity", line.split("\t")[0])
for q in ["1.5Gi", "129e6", "+1E3", ".5", "-100m", "9223372036854775807", "1Ei", " 2Ki "]:
    put("quantity", q)

# Model objects: whole lists, each item, each item as a watch event.
lists = ["tests/data/model/list.json", "tests/data/model/scan-list.json",
         "tests/data/model/requests.json", "tests/data/replay/snapshot.json",
         "tests/data/replay/kubectl-1.20-dump.json", "tests/data/replay/priority/snapshot.json"]
lists += sorted(glob.glob(os.path.join(src, "tests/data/schedcheck/*.json")))
for path in lists:
    raw = load(path)
    for t in ("model_text", "model_json", "model_diff", "jscan"):
        put(t, raw)
    try:
        doc = json.loads(raw)
    except ValueError:
        continue
    items = doc.get("items", []) if isinstance(doc, dict) else []
    for it in items[:40]:
        for t in ("model_text", "model_json", "model_diff"):
            put(t, json.dumps(it, indent=1))
        put("jscan", compact({"type": "ADDED", "object": it}))
        if isinstance(it, dict) and it.get("kind") == "Node":
            put("template", compact(it))
    if items:
        put("jscan", compact({"kind": "List", "metadata": {"resourceVersion": "7"},
                              "items": items[:5]}))
    # Watch streams: the first byte picks the kind (fuzz_watch.c), then one event a line.
    by_kind = {}
    for it in items[:40]:
        if isinstance(it, dict):
            by_kind.setdefault(it.get("kind"), []).append(it)
    for pick, kind in enumerate(["Pod", "Node", "PodDisruptionBudget", "PersistentVolume",
                                 "PersistentVolumeClaim", "Namespace"]):
        objs = by_kind.get(kind, [])[:6]
        if not objs:
            continue
        events = [compact({"type": "ADDED", "object": o}) for o in objs]
        events.append(compact({"type": "MODIFIED", "object": objs[0]}))
        events.append(compact({"type": "BOOKMARK", "object": {
            "kind": kind, "metadata": {"resourceVersion": "12345"}}}))
        events.append(compact({"type": "DELETED", "object": objs[-1]}))
        put("watch", bytes([pick]) + ("\n".join(events) + "\n").encode())
        put("watch", bytes([pick]) + ("\r\n".join(events[:2]) + "\r\n" + compact(
            {"type": "ERROR", "object": {"kind": "Status", "code": 410,
                                         "message": "too old resource version"}})).encode())

# Kubeconfigs, valid and invalid.
for p in sorted(glob.glob(os.path.join(src, "tests/data/kube/kubeconfig/*/*"))):
    put("kubeconfig", open(p, "rb").read())

# Exec credentials.
status = {"token": "fuzz-token-0123456789", "expirationTimestamp": "2030-01-02T03:04:05Z"}
for api in ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"):
    put("exec", compact({"kind": "ExecCredential", "apiVersion": api, "status": status}))
put("exec", compact({"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1",
                     "status": {"clientCertificateData": "-----BEGIN CERTIFICATE-----\nx\n"
                                "-----END CERTIFICATE-----\n",
                                "clientKeyData": "-----BEGIN PRIVATE KEY-----\ny\n"
                                "-----END PRIVATE KEY-----\n"}}))
put("exec", "2026-11-26T17:33:17.123+01:00")

# Static groups files.
for p in sorted(glob.glob(os.path.join(src, "tests/data/static/*/*.json"))):
    put("static", open(p, "rb").read())
for p in sorted(glob.glob(os.path.join(src, "tests/data/replay/*groups.json"))):
    raw = open(p, "rb").read()
    put("static", raw)
    try:
        for g in json.loads(raw).get("groups", []):
            if isinstance(g, dict) and isinstance(g.get("template"), (dict, str)):
                t = g["template"]
                put("template", t if isinstance(t, str) else compact(t))
    except ValueError:
        pass

# Flags: one argument per line.
for args in (["--backend=static", "--backend-opt", "groups=/nonexistent", "--once", "--dry-run"],
             ["--scan-interval=10s", "--expander=priority,least-waste",
              "--cores-total=0:320000", "--memory-total", "0:6400000"],
             ["--scale-down-utilization-threshold=0.5", "--max-graceful-termination-sec=600",
              "--balance-similar-node-groups=true", "-v=4"],
             ["--nodes=1:10:general", "--max-node-provision-time=15m", "--help"]):
    put("flags", "\n".join(args))

# Priority expander configurations.
for p in sorted(glob.glob(os.path.join(src, "tests/data/replay/priority/*.yaml"))):
    put("priority", open(p, "rb").read())
put("priority", "10:\n  - .*\n50:\n  - ^spot-.*\n  - gpu\n")

# Exoscale: canned answers from the emulator's world, then each error answer in turn.
world = json.loads(load("tests/data/exoscale/world.json"))
errors = json.loads(load("tests/data/exoscale/errors.json"))["cases"]
op_ok = {"id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "state": "success"}
op_pending = dict(op_ok, state="pending")


def answers(pairs):
    return "".join("@@ %s %d\n%s\n" % (p, s, b if isinstance(b, str) else compact(b))
                   for p, s, b in pairs)


def instance(iid, pool):
    return {"id": iid, "state": "running", "manager": {"id": pool, "type": "instance-pool"},
            "instance-type": {"id": world["instance-types"][0]["id"]}}


common = [("/instance-type/", 200, world["instance-types"][0]),
          ("/quota/instance", 200, {"resource": "instance", "usage": 3, "limit": 50}),
          ("/operation/", 200, op_ok)]
cl = world["sks-clusters"][0]
np = cl["nodepools"][0]
sks = [("/sks-cluster", 200, {"sks-clusters": [cl]}), ("/sks-cluster/" + cl["id"], 200, cl),
       ("/sks-cluster/%s/nodepool/" % cl["id"], 200, op_pending),
       ("/instance-pool/", 200, {"id": np["instance-pool"]["id"], "size": np["size"],
                                 "state": "running", "instances": np.get("instances", [])}),
       ("/instance", 200, {"instances": [instance(i["id"], np["instance-pool"]["id"])
                                         for i in np.get("instances", [])]})] + common
pool = world["instance-pools"][0]
pools = [("/instance-pool", 200, {"instance-pools": world["instance-pools"]}),
         ("/instance-pool/" + pool["id"], 200, dict(pool, state="running")),
         ("/instance-pool/%s:" % pool["id"], 200, op_pending),
         ("/instance", 200, {"instances": [instance(i["id"], pool["id"])
                                           for i in pool.get("instances", [])]})] + common
for target, base in (("exo_sks", sks), ("exo_pool", pools)):
    put(target, answers(base))
    for e in errors:
        put(target, answers([(p, e["status"], e["body"]) if p == "/instance" else (p, s, b)
                             for p, s, b in base]))
PY
