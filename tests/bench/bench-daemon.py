#!/usr/bin/env python3
"""bench-daemon.py: the running daemon (--backend=sks) against the kube-apiserver and
Exoscale emulators loaded with a synthetic cluster: start-up, idle and scale-up loop CPU,
pending pod to :scale latency, Exoscale calls per idle loop and peak RSS.

Usage: bench-daemon.py --builddir=DIR [--sizes=1000x30,5000x30] [--repeats=5]
                       [--json=FILE] [--keep] [--deadline=SECONDS]
DIR is an optimised build (no sanitizers); `make bench-daemon` makes one and runs this.
Python standard library only."""

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

TOKEN = "bench-admin-token"
# The SKS key of the world nsc-gencluster writes (tests/bench/gen.h).
EXO_KEY = "EXObench000000000000000001"
EXO_SECRET = "bench-secret-0123456789abcdefghijklmnopqrst"
SCAN_INTERVAL_S = 10
IDLE_LOOPS = 3
# The Go Cluster Autoscaler with the Exoscale provider (notes/cluster-autoscaler.md).
INCUMBENT = {"loop_s": 17, "rss_mib": 1024, "pending_to_scale_s": 37,
             "exoscale_calls_per_loop": {50: 1500, 1000: 25000}}
# A klog line: I1206 02:49:46.419793   17431 nodescaler] text
KLOG = re.compile(r"^[IWEF](\d\d)(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{6})\s+\d+ [^\]]*\] (.*)$")
LOOP_DONE = re.compile(r"main loop (\d+) done in (\d+) ms, (-?\d+) ms CPU "
                       r"\(process CPU (-?\d+) ms\)")


class BenchError(Exception):
    pass


def log(msg):
    print("bench-daemon: " + msg, file=sys.stderr, flush=True)


def wait_for(what, cond, deadline_s, poll_s=0.1):
    """Poll cond() until it returns a true value, at most deadline_s seconds."""
    end = time.monotonic() + deadline_s
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= end:
            raise BenchError("no %s within %d s" % (what, deadline_s))
        time.sleep(poll_s)


def http(method, url, body=None, token=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"{}")


def read_port(path):
    try:
        with open(path) as f:
            s = f.read().strip()
        return int(s) if s else None
    except (OSError, ValueError):
        return None


def klog_lines(path, day):
    """(wall time, text) of each klog line of the file; day: a UTC date for month/day."""
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            m = KLOG.match(line)
            if not m:
                continue
            mo, dd, hh, mi, ss, us, text = m.groups()
            t = datetime.datetime(day.year, int(mo), int(dd), int(hh), int(mi), int(ss),
                                  int(us), tzinfo=datetime.timezone.utc)
            out.append((t.timestamp(), text))
    return out


def loops_done(path, day):
    """Every 'main loop N done' line: dicts of n, wall, ms, cpu_ms, process_cpu_ms."""
    res = []
    for t, text in klog_lines(path, day):
        m = LOOP_DONE.search(text)
        if m:
            res.append({"n": int(m.group(1)), "wall": t, "ms": int(m.group(2)),
                        "cpu_ms": int(m.group(3)), "process_cpu_ms": int(m.group(4))})
    return res


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise BenchError("no VmHWM for pid %d" % pid)


class Case:
    """One cluster size: the emulators, the daemon and the figures measured."""

    def __init__(self, args, nodes, pods_per_node):
        self.args = args
        self.nodes = nodes
        self.pods_per_node = pods_per_node
        self.work = tempfile.mkdtemp(prefix="nsc-bench-daemon-%d." % nodes)
        self.procs = []
        self.day = datetime.datetime.now(datetime.timezone.utc).date()
        self.bin = lambda rel: os.path.join(args.builddir, rel)

    def path(self, name):
        return os.path.join(self.work, name)

    def start(self, name, argv, env=None):
        out = open(self.path(name + ".log"), "w")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                             cwd=self.work)
        out.close()
        self.procs.append(p)
        return p

    def stop(self):
        # The daemon first, and on its own: it releases the lease on the way out.
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)
        else:
            log("kept %s" % self.work)

    def alive(self, p, name):
        if p.poll() is not None:
            tail = open(self.path(name + ".log"), errors="replace").read()[-2000:]
            raise BenchError("%s exited with %s:\n%s" % (name, p.returncode, tail))

    def generate(self):
        t0 = time.monotonic()
        subprocess.run([self.bin("tests/bench/nsc-gencluster"), "--provider=exoscale",
                        "--nodes=%d" % self.nodes, "--pods-per-node=%d" % self.pods_per_node,
                        "--pending=0", "--snapshot=" + self.path("cluster.json"),
                        "--world-file=" + self.path("world.json")], check=True)
        log("%d nodes x %d pods generated in %.1f s (%d MB)" % (
            self.nodes, self.pods_per_node, time.monotonic() - t0,
            os.path.getsize(self.path("cluster.json")) >> 20))

    def start_emulators(self):
        t0 = time.monotonic()
        kube = self.start("kube", [self.bin("tests/emulator/kube-emulator"),
                                   "--port-file=" + self.path("kport"), "--token=" + TOKEN,
                                   "--load=" + self.path("cluster.json")])
        exo = self.start("exoscale", [self.bin("tests/emulator/exoscale-emulator"),
                                      "--world", self.path("world.json"),
                                      "--port-file", self.path("eport")])

        def ready():
            self.alive(kube, "kube")
            self.alive(exo, "exoscale")
            return read_port(self.path("kport")) and read_port(self.path("eport"))

        wait_for("emulators listening", ready, self.args.deadline)
        self.kube_url = "http://127.0.0.1:%d" % read_port(self.path("kport"))
        self.exo_url = "http://127.0.0.1:%d" % read_port(self.path("eport"))
        log("emulators loaded in %.1f s" % (time.monotonic() - t0))
        # The namespace of the benchmark's pending pods; the snapshot holds none.
        http("POST", self.kube_url + "/api/v1/namespaces",
             {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}},
             TOKEN)
        with open(self.path("kubeconfig"), "w") as f:
            f.write("apiVersion: v1\nkind: Config\ncurrent-context: bench\nclusters:\n"
                    "- name: emu\n  cluster:\n    server: %s\nusers:\n- name: u\n  user:\n"
                    "    token: %s\ncontexts:\n- name: bench\n  context: {cluster: emu, "
                    "user: u}\n" % (self.kube_url, TOKEN))

    def calls(self):
        return http("GET", self.exo_url + "/_emu/calls")

    def start_daemon(self):
        env = dict(os.environ)
        env.update({"NSC_BACKEND_PATH": self.bin("plugins/sks/.libs"),
                    "EXOSCALE_API_KEY": EXO_KEY, "EXOSCALE_API_SECRET": EXO_SECRET,
                    "EXOSCALE_ZONE": "ch-gva-2", "EXOSCALE_API_ENDPOINT": self.exo_url + "/v2"})
        http("POST", self.exo_url + "/_emu/calls/reset", {})
        self.t_start = time.time()
        self.nsc = self.start("nsc", [self.bin("nodescaler"), "--backend=sks",
                                      "--kubeconfig=" + self.path("kubeconfig"),
                                      "--address=127.0.0.1:0",
                                      "--scan-interval=%ds" % SCAN_INTERVAL_S, "--v=4"], env)

    def loops(self):
        self.alive(self.nsc, "nsc")
        return loops_done(self.path("nsc.log"), self.day)

    def wait_loops(self, n, what):
        return wait_for(what, lambda: len(self.loops()) >= n and self.loops(),
                        self.args.deadline, 0.05)

    def startup_and_idle(self, r):
        first = self.wait_loops(1, "first loop")[0]
        r["startup_wall_s"] = round(first["wall"] - self.t_start, 3)
        r["startup_cpu_s"] = first["process_cpu_ms"] / 1000
        r["first_loop_s"] = first["ms"] / 1000
        http("POST", self.exo_url + "/_emu/calls/reset", {})
        done = self.wait_loops(1 + IDLE_LOOPS, "%d idle loops" % IDLE_LOOPS)
        c = self.calls()
        idle = done[1:1 + IDLE_LOOPS]
        r["idle_loop_cpu_s"] = [x["cpu_ms"] / 1000 for x in idle]
        r["idle_loop_wall_s"] = [x["ms"] / 1000 for x in idle]
        # Between loops: watches, the lease; CPU per scan interval, loop included.
        r["idle_period_cpu_s"] = round(
            (idle[-1]["process_cpu_ms"] - done[0]["process_cpu_ms"]) / 1000 / IDLE_LOOPS, 3)
        r["exoscale_calls_per_idle_loop"] = c["total"] / IDLE_LOOPS
        r["exoscale_calls_idle_by_op"] = c["operations"]
        r["load_average_1m"] = round(os.getloadavg()[0], 2)

    def pending_pod(self, k):
        name = "bench-%d" % k
        base = self.kube_url + "/api/v1/namespaces/bench/pods"
        # Seven CPUs: no running node (8 CPUs, about 7 used) nor the node planned for the
        # previous pod can take it, so each pod needs a scale-up of its own.
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": "bench",
                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                 "name": "bench", "uid": "u-bench",
                                                 "controller": True}]},
               "spec": {"containers": [{"name": "main", "image": "example/bench:1",
                                        "resources": {"requests": {"cpu": "7",
                                                                   "memory": "8Gi"}}}]},
               "status": {"phase": "Pending"}}
        pod = http("POST", base, pod, TOKEN)
        # What the scheduler does next: mark it unschedulable.
        pod["status"]["conditions"] = [{"type": "PodScheduled", "status": "False",
                                        "reason": "Unschedulable",
                                        "message": "0/%d nodes are available: %d Insufficient "
                                                   "cpu." % (self.nodes, self.nodes)}]
        http("PUT", base + "/" + name + "/status", pod, TOKEN)
        return name

    def latency(self, r):
        lat, lat_status, cpu = [], [], []
        for k in range(self.args.repeats):
            http("POST", self.kube_url + "/admin/writes/reset", {}, TOKEN)
            n_scale = self.calls()["operations"].get("scale-sks-nodepool", 0)
            n_loops = len(self.loops())
            name = self.pending_pod(k)

            def scaled():
                c = self.calls()
                return c["operations"].get("scale-sks-nodepool", 0) > n_scale and c

            c = wait_for("scale-sks-nodepool call for %s" % name, scaled, self.args.deadline)
            writes = http("GET", self.kube_url + "/admin/writes", token=TOKEN)["writes"]
            created = [w["at_ms"] for w in writes
                       if w["method"] == "POST" and w["path"] == "/api/v1/namespaces/bench/pods"]
            status = [w["at_ms"] for w in writes if w["method"] == "PUT" and
                      w["path"] == "/api/v1/namespaces/bench/pods/%s/status" % name]
            if not created or not status:
                raise BenchError("the kube write log lacks the writes of pod %s" % name)
            t_scale = c["times"]["scale-sks-nodepool"]["last_ms"]
            lat.append((t_scale - created[0]) / 1000)
            lat_status.append((t_scale - status[0]) / 1000)
            # The loop that grew the group: the first to end after the call.
            done = wait_for("end of the scale-up loop", lambda: [
                x for x in self.loops()[n_loops:] if x["wall"] * 1000 >= t_scale - 1],
                self.args.deadline, 0.05)
            cpu.append(done[0]["cpu_ms"] / 1000)
            # The resize's operation ends, and a loop that began after it has seen that,
            # before the next pod: the backend refuses to resize a nodepool whose
            # operation it still believes running, and the group would be backed off.
            wait_for("nodepools settled", lambda: all(
                np.get("state") == "running"
                for cl in http("GET", self.exo_url + "/_emu/state").get("sks-clusters", [])
                for np in cl.get("nodepools", [])), self.args.deadline)
            settled = time.time()
            wait_for("a loop after the resize", lambda: [
                x for x in self.loops() if x["wall"] - x["ms"] / 1000 > settled],
                self.args.deadline, 0.05)
            log("pod %s: :scale after %.3f s, scale-up loop %.3f s CPU" % (
                name, lat[-1], cpu[-1]))
        r["pending_to_scale_s"] = lat
        r["unschedulable_to_scale_s"] = lat_status
        r["scaleup_loop_cpu_s"] = cpu

    def run(self):
        r = {"nodes": self.nodes, "pods_per_node": self.pods_per_node,
             "pods": self.nodes * self.pods_per_node}
        try:
            self.generate()
            self.start_emulators()
            self.start_daemon()
            self.startup_and_idle(r)
            self.latency(r)
            r["peak_rss_mib"] = round(vm_hwm_kib(self.nsc.pid) / 1024, 1)
            r["loops"] = len(self.loops())
        finally:
            self.stop()
        return r


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def table(results):
    head = ["figure", "incumbent (Go CA, Exoscale)"] + [
        "%d nodes x %d pods" % (r["nodes"], r["pods_per_node"]) for r in results]
    inc_calls = INCUMBENT["exoscale_calls_per_loop"]
    rows = [
        ("start-up to first loop done, wall s", "-",
         ["%.2f" % r["startup_wall_s"] for r in results]),
        ("start-up CPU s", "-", ["%.2f" % r["startup_cpu_s"] for r in results]),
        ("idle loop wall s (median)", "%d" % INCUMBENT["loop_s"],
         ["%.3f" % statistics.median(r["idle_loop_wall_s"]) for r in results]),
        ("idle loop CPU s (median)", "-",
         ["%.3f" % statistics.median(r["idle_loop_cpu_s"]) for r in results]),
        ("CPU per 10 s scan interval, idle", "-",
         ["%.3f" % r["idle_period_cpu_s"] for r in results]),
        ("scale-up loop CPU s (median)", "-",
         ["%.3f" % statistics.median(r["scaleup_loop_cpu_s"]) for r in results]),
        ("pending pod -> :scale s, median [min-max]", "%d" % INCUMBENT["pending_to_scale_s"],
         ["%.2f [%.2f-%.2f]" % tuple(summary(r["pending_to_scale_s"]).values())
          for r in results]),
        ("Exoscale calls per idle loop", "%d at 50 nodes, %d at 1,000" % (
            inc_calls[50], inc_calls[1000]),
         ["%g" % r["exoscale_calls_per_idle_loop"] for r in results]),
        ("peak RSS MiB (VmHWM)", "%d" % INCUMBENT["rss_mib"],
         ["%.1f" % r["peak_rss_mib"] for r in results]),
        ("load average (1 min) while idle", "-",
         ["%.2f" % r["load_average_1m"] for r in results]),
    ]
    widths = [max(len(head[0]), max(len(x[0]) for x in rows)),
              max(len(head[1]), max(len(x[1]) for x in rows))]
    for i in range(len(results)):
        widths.append(max(len(head[2 + i]), max(len(x[2][i]) for x in rows)))

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    out = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for name, inc, vals in rows:
        out.append(line([name, inc] + vals))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--builddir", required=True,
                    help="an optimised build tree (configure without --enable-sanitizers)")
    ap.add_argument("--sizes", default="1000x30,5000x30",
                    help="NODESxPODS_PER_NODE, comma-separated")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", help="write the results here too")
    ap.add_argument("--keep", action="store_true", help="keep the work folders")
    ap.add_argument("--deadline", type=int, default=900,
                    help="seconds any one wait may take before the run fails")
    args = ap.parse_args()
    args.builddir = os.path.abspath(args.builddir)
    sizes = []
    for s in args.sizes.split(","):
        m = re.fullmatch(r"(\d+)x(\d+)", s.strip())
        if not m or int(m.group(1)) < 1:
            ap.error("--sizes: '%s' is not NODESxPODS_PER_NODE" % s)
        sizes.append((int(m.group(1)), int(m.group(2))))
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    for rel in ("nodescaler", "plugins/sks/.libs/sks.so", "tests/bench/nsc-gencluster",
                "tests/emulator/kube-emulator", "tests/emulator/exoscale-emulator"):
        if not os.path.exists(os.path.join(args.builddir, rel)):
            ap.error("--builddir: %s has no %s (make bench-daemon builds it)" % (
                args.builddir, rel))
    results = []
    try:
        for nodes, ppn in sizes:
            log("case %d nodes x %d pods" % (nodes, ppn))
            results.append(Case(args, nodes, ppn).run())
    except (BenchError, OSError, subprocess.CalledProcessError,
            urllib.error.URLError) as e:
        log("FAILED: %s" % e)
        return 1
    doc = {"machine": {"cpus": os.cpu_count(), "uname": " ".join(os.uname()),
                       "date": datetime.datetime.now(datetime.timezone.utc).isoformat()},
           "scan_interval_s": SCAN_INTERVAL_S, "incumbent": INCUMBENT, "cases": results}
    for r in results:
        r["pending_to_scale_summary_s"] = summary(r["pending_to_scale_s"])
    print(table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
    else:
        print(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
