/* Template nodes: the v1.Node a new instance of a group will become, built from the
 * instance type (cpus, memory bytes, gpus), the nodepool's labels and taints, and the
 * labels the Exoscale CCM and SKS put on nodes, so that a group can scale from zero. */
#include "config.h"

#include "backend.h"

#include <stdio.h>
#include <string.h>

static bool
valid_effect(const char *e)
{
    return e != NULL && (strcmp(e, "NoSchedule") == 0 || strcmp(e, "PreferNoSchedule") == 0 ||
                         strcmp(e, "NoExecute") == 0);
}

/* The node's capacity, or with allocatable its capacity less what the kubelet keeps
 * (--backend-opt reserved-cpu-m / reserved-memory-mib), never below zero. */
static json_t *
resources(const struct nsc_backend *b, const struct exo_group *g, const struct exo_itype *t,
          bool allocatable)
{
    json_t *r = json_object();
    int64_t cpu_m = (int64_t)t->cpus * 1000, mem = (int64_t)t->memory_bytes;

    if (allocatable) {
        cpu_m = cpu_m > b->reserved_cpu_m ? cpu_m - b->reserved_cpu_m : 0;
        mem = mem > b->reserved_memory_bytes ? mem - b->reserved_memory_bytes : 0;
    }
    if (cpu_m % 1000 == 0)
        json_object_set_new(r, "cpu", json_sprintf("%lld", (long long)(cpu_m / 1000)));
    else
        json_object_set_new(r, "cpu", json_sprintf("%lldm", (long long)cpu_m));
    json_object_set_new(r, "memory", json_sprintf("%lld", (long long)mem));
    json_object_set_new(r, "pods", json_sprintf("%d", b->max_pods));
    if (g->disk_gib > 0)
        json_object_set_new(r, "ephemeral-storage",
                            json_sprintf("%lldGi", (long long)g->disk_gib));
    if (t->gpus > 0)
        json_object_set_new(r, "nvidia.com/gpu", json_sprintf("%lld", (long long)t->gpus));
    return r;
}

char *
exo_template_node(struct nsc_backend *b, const struct exo_group *g, const struct exo_itype *t)
{
    json_t *labels, *taints, *node, *v;
    const char *k;
    char name[160];
    char *out;

    if (t == NULL)
        return NULL;
    labels = json_object();
    taints = json_array();
    /* The nodepool's own labels first: the well-known ones below win on a clash, as
     * kubelet's and the CCM's do on a real node. */
    json_object_foreach(g->labels, k, v)
    {
        if (json_is_string(v))
            json_object_set(labels, k, v);
    }
    snprintf(name, sizeof(name), "template-%s", g->name ? g->name : g->id);
    json_object_set_new(labels, "kubernetes.io/hostname", json_string(name));
    json_object_set_new(labels, "kubernetes.io/os", json_string("linux"));
    json_object_set_new(labels, "kubernetes.io/arch", json_string("amd64"));
    json_object_set_new(labels, "topology.kubernetes.io/region",
                        json_string(b->client.cfg.zone));
    if (t->family != NULL && t->size != NULL)
        json_object_set_new(labels, "node.kubernetes.io/instance-type",
                            json_sprintf("%s.%s", t->family, t->size));
    if (b->cluster_id != NULL)
        json_object_set_new(labels, "node.exoscale.net/nodepool-id", json_string(g->id));
    json_object_foreach(g->taints, k, v)
    {
        const char *value = json_string_value(json_object_get(v, "value"));
        const char *effect = json_string_value(json_object_get(v, "effect"));

        if (!valid_effect(effect)) {
            b->host->log(b->host, NSC_LOG_WARNING,
                         "group %s: taint %s has effect '%s', not one Kubernetes knows; left "
                         "out of the template",
                         g->id, k, effect ? effect : "(none)");
            continue;
        }
        json_array_append_new(taints, json_pack("{s:s,s:s,s:s}", "key", k, "value",
                                                value ? value : "", "effect", effect));
    }
    node =
        json_pack("{s:s,s:s,s:{s:s,s:o},s:{s:o},s:{s:o,s:o,s:[{s:s,s:s}]}}", "apiVersion", "v1",
                  "kind", "Node", "metadata", "name", name, "labels", labels, "spec", "taints",
                  taints, "status", "capacity", resources(b, g, t, false), "allocatable",
                  resources(b, g, t, true), "conditions", "type", "Ready", "status", "True");
    if (node == NULL)
        return NULL;
    out = json_dumps(node, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(node);
    return out;
}
