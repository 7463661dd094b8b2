/* Test helpers: build Kubernetes JSON objects from the short forms used by the fixtures
 * under tests/data/{sim,scaleup}. */
#ifndef NSC_TEST_SIM_FIXTURE_H
#define NSC_TEST_SIM_FIXTURE_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

/* {"name","labels","taints","alloc","unschedulable","provider"} -> v1.Node (new ref). */
static inline json_t *
fx_node(json_t *d)
{
    const char *name = json_string_value(json_object_get(d, "name"));
    json_t *labels = json_deep_copy(json_object_get(d, "labels"));
    if (!labels)
        labels = json_object();
    if (!json_object_get(labels, "kubernetes.io/hostname"))
        json_object_set_new(labels, "kubernetes.io/hostname", json_string(name));
    json_t *alloc = json_object_get(d, "alloc");
    json_t *n = json_pack(
        "{s:s, s:{s:s, s:o}, s:{}, s:{s:O, s:O, s:[{s:s, s:s}]}}", "kind", "Node", "metadata",
        "name", name, "labels", labels, "spec", "status", "capacity",
        alloc ? alloc : json_pack("{s:s,s:s,s:s}", "cpu", "4", "memory", "8Gi", "pods", "110"),
        "allocatable",
        alloc ? alloc : json_pack("{s:s,s:s,s:s}", "cpu", "4", "memory", "8Gi", "pods", "110"),
        "conditions", "type", "Ready", "status", "True");
    json_t *spec = json_object_get(n, "spec");
    if (json_object_get(d, "taints"))
        json_object_set(spec, "taints", json_object_get(d, "taints"));
    if (json_object_get(d, "unschedulable"))
        json_object_set(spec, "unschedulable", json_object_get(d, "unschedulable"));
    if (json_object_get(d, "provider"))
        json_object_set(spec, "providerID", json_object_get(d, "provider"));
    if (!alloc) {
        /* json_pack's O took extra refs of the two fresh objects: drop ours. */
        json_t *st = json_object_get(n, "status");
        json_decref(json_object_get(st, "capacity"));
        json_decref(json_object_get(st, "allocatable"));
    }
    return n;
}

/* {"name","ns","node","labels","cpu","mem","spec","phase","owner","pending"} -> v1.Pod. */
static inline json_t *
fx_pod(json_t *d)
{
    const char *ns = json_string_value(json_object_get(d, "ns"));
    json_t *spec = json_deep_copy(json_object_get(d, "spec"));
    if (!spec)
        spec = json_object();
    if (!json_object_get(spec, "containers")) {
        json_t *req = json_object();
        if (json_object_get(d, "cpu"))
            json_object_set(req, "cpu", json_object_get(d, "cpu"));
        if (json_object_get(d, "mem"))
            json_object_set(req, "memory", json_object_get(d, "mem"));
        json_object_set_new(
            spec, "containers",
            json_pack("[{s:s, s:{s:o}}]", "name", "c", "resources", "requests", req));
    }
    if (json_object_get(d, "node"))
        json_object_set(spec, "nodeName", json_object_get(d, "node"));
    json_t *meta = json_pack("{s:O, s:s}", "name", json_object_get(d, "name"), "namespace",
                             ns ? ns : "default");
    if (json_object_get(d, "labels"))
        json_object_set(meta, "labels", json_object_get(d, "labels"));
    /* any other metadata (creationTimestamp, annotations) as given */
    if (json_is_object(json_object_get(d, "meta")))
        json_object_update(meta, json_object_get(d, "meta"));
    if (json_object_get(d, "owner")) {
        const char *o = json_string_value(json_object_get(d, "owner"));
        json_object_set_new(meta, "ownerReferences",
                            json_pack("[{s:s, s:s, s:s, s:b}]", "kind",
                                      strncmp(o, "ds-", 3) == 0 ? "DaemonSet" : "ReplicaSet",
                                      "name", o, "uid", o, "controller", 1));
    }
    const char *phase = json_string_value(json_object_get(d, "phase"));
    json_t *status = json_pack("{s:s}", "phase",
                               phase                        ? phase
                               : json_object_get(d, "node") ? "Running"
                                                            : "Pending");
    if (!json_object_get(d, "node") && !json_is_false(json_object_get(d, "pending")))
        json_object_set_new(status, "conditions",
                            json_pack("[{s:s, s:s, s:s}]", "type", "PodScheduled", "status",
                                      "False", "reason", "Unschedulable"));
    return json_pack("{s:s, s:o, s:o, s:o}", "kind", "Pod", "metadata", meta, "spec", spec,
                     "status", status);
}

#endif
