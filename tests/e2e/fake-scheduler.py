#!/usr/bin/env python3
"""A stand-in for kube-scheduler in the e2e tests: binds pending pods to Ready nodes where
their CPU and memory requests fit, their nodeSelector matches and their tolerations cover
the node's NoSchedule/NoExecute taints; marks the others PodScheduled=False/Unschedulable,
as the real scheduler does, so that the autoscaler sees them. Runs until --seconds pass or
it is killed. Only the few rules the tests' workloads exercise are modelled."""
import argparse
import json
import sys
import time
import urllib.error
import urllib.request

UNITS = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
         "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def quantity(text):
    """A Kubernetes quantity as a number of base units (cores for cpu: '500m' is 0.5)."""
    text = str(text)
    if text.endswith("m"):
        return float(text[:-1]) / 1000.0
    for suffix in sorted(UNITS, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * UNITS[suffix]
    return float(text)


class Api:
    def __init__(self, base, token):
        self.base = base.rstrip("/")
        self.token = token

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, None
        except (urllib.error.URLError, OSError, ValueError):
            return 0, None


def requests_of(pod):
    cpu = mem = 0.0
    for c in pod.get("spec", {}).get("containers", []) or []:
        req = (c.get("resources") or {}).get("requests") or {}
        cpu += quantity(req.get("cpu", "0"))
        mem += quantity(req.get("memory", "0"))
    return cpu, mem


def ready(node):
    if node.get("spec", {}).get("unschedulable"):
        return False
    for cond in node.get("status", {}).get("conditions", []) or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def tolerated(taint, tolerations):
    if taint.get("effect") not in ("NoSchedule", "NoExecute"):
        return True
    for t in tolerations or []:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        if t.get("operator") == "Exists" and (not t.get("key") or t.get("key") == taint.get("key")):
            return True
        if t.get("key") == taint.get("key") and t.get("value", "") == taint.get("value", ""):
            return True
    return False


def fits(pod, node, used):
    spec = pod.get("spec", {})
    labels = node.get("metadata", {}).get("labels", {}) or {}
    for k, v in (spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    for taint in node.get("spec", {}).get("taints", []) or []:
        if not tolerated(taint, spec.get("tolerations")):
            return False
    alloc = node.get("status", {}).get("allocatable", {}) or {}
    cpu, mem = requests_of(pod)
    ucpu, umem = used.get(node["metadata"]["name"], (0.0, 0.0))
    return (ucpu + cpu <= quantity(alloc.get("cpu", "0")) + 1e-9
            and umem + mem <= quantity(alloc.get("memory", "0")) + 1e-9)


def one_round(api, marked):
    st, nodes = api.call("GET", "/api/v1/nodes")
    st2, pods = api.call("GET", "/api/v1/pods")
    if st != 200 or st2 != 200:
        return
    nodes = [n for n in nodes.get("items", []) if ready(n)]
    used = {}
    pending = []
    for pod in pods.get("items", []):
        name = pod.get("spec", {}).get("nodeName")
        if name:
            cpu, mem = requests_of(pod)
            ucpu, umem = used.get(name, (0.0, 0.0))
            used[name] = (ucpu + cpu, umem + mem)
        elif not pod["metadata"].get("deletionTimestamp"):
            pending.append(pod)
    pending.sort(key=lambda p: p["metadata"].get("creationTimestamp", ""))
    for pod in pending:
        meta = pod["metadata"]
        target = next((n for n in nodes if fits(pod, n, used)), None)
        path = "/api/v1/namespaces/%s/pods/%s" % (meta["namespace"], meta["name"])
        if target is not None:
            body = {"apiVersion": "v1", "kind": "Binding",
                    "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
                    "target": {"apiVersion": "v1", "kind": "Node",
                               "name": target["metadata"]["name"]}}
            if api.call("POST", path + "/binding", body)[0] == 201:
                cpu, mem = requests_of(pod)
                tname = target["metadata"]["name"]
                ucpu, umem = used.get(tname, (0.0, 0.0))
                used[tname] = (ucpu + cpu, umem + mem)
                marked.discard(path)
            continue
        if path in marked:
            continue
        status = pod.get("status") or {}
        status["phase"] = "Pending"
        status["conditions"] = [{"type": "PodScheduled", "status": "False",
                                 "reason": "Unschedulable",
                                 "message": "0/%d nodes are available" % len(nodes)}]
        pod["status"] = status
        if api.call("PUT", path + "/status", pod)[0] == 200:
            marked.add(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--server", required=True)
    ap.add_argument("--token", default="")
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--interval", type=float, default=0.2)
    args = ap.parse_args()
    api = Api(args.server, args.token)
    marked = set()
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        one_round(api, marked)
        time.sleep(args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
