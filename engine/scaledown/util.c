/* Scale-down utilization: how much of a node its pods request, the number compared with
 * --scale-down-utilization-threshold (or the GPU threshold on GPU nodes). */
#include "scaledown/scaledown.h"

#include <stdio.h>
#include <string.h>

const char *
scaledown_util_res_name(enum scaledown_util_res r)
{
    switch (r) {
    case SD_UTIL_CPU:
        return "cpu";
    case SD_UTIL_MEMORY:
        return "memory";
    case SD_UTIL_GPU:
        return "gpu";
    }
    return "unknown";
}

/* requested / (allocatable - ignored); an empty denominator makes the node look full, so
 * that it never becomes a candidate on a number that means nothing. */
static double
ratio(int64_t requested, int64_t allocatable, int64_t ignored)
{
    int64_t denom = allocatable - ignored;
    if (denom <= 0)
        return requested > 0 || ignored > 0 ? 1.0 : 0.0;
    return (double)requested / (double)denom;
}

int
scaledown_utilization(const struct model *m, const struct model_node *n,
                      const struct model_pod *const *pods, uint32_t n_pods,
                      const struct scaledown_options *o, int64_t now_s,
                      struct scaledown_util *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof(*out));
    uint32_t gpu = o->gpu_resource
                       ? intern_find(&m->strings, o->gpu_resource, strlen(o->gpu_resource))
                       : INTERN_NONE;
    int64_t alloc_gpu = gpu != INTERN_NONE ? res_ext_get(&n->alloc, gpu) : 0;
    out->gpu_node = alloc_gpu > 0;
    if (!out->gpu_node) {
        if (n->alloc.fixed[RES_CPU] <= 0 || n->alloc.fixed[RES_MEMORY] <= 0) {
            snprintf(err, err_len, "node %s has no allocatable %s", n->name,
                     n->alloc.fixed[RES_CPU] <= 0 ? "cpu" : "memory");
            return NSC_ERR_INVALID;
        }
    }
    int64_t req[3] = {0, 0, 0}, ign[3] = {0, 0, 0};
    for (uint32_t i = 0; i < n_pods; i++) {
        const struct model_pod *p = pods[i];
        if (p->phase == PHASE_SUCCEEDED || p->phase == PHASE_FAILED ||
            scaledown_pod_long_terminating(p, now_s))
            continue;
        const struct res *r = &p->spec->req;
        int64_t g = gpu != INTERN_NONE ? res_ext_get(r, gpu) : 0;
        bool ignored = (o->ignore_daemonsets_utilization && model_pod_is_daemonset(m, p)) ||
                       (o->ignore_mirror_pods_utilization && model_pod_is_mirror(m, p));
        int64_t *acc = ignored ? ign : req;
        acc[0] += r->fixed[RES_CPU];
        acc[1] += r->fixed[RES_MEMORY];
        acc[2] += g;
    }
    out->cpu = ratio(req[0], n->alloc.fixed[RES_CPU], ign[0]);
    out->memory = ratio(req[1], n->alloc.fixed[RES_MEMORY], ign[1]);
    if (out->gpu_node) {
        /* As the Go autoscaler: a GPU node is judged on its GPUs alone, the expensive part. */
        out->gpu = ratio(req[2], alloc_gpu, ign[2]);
        out->value = out->gpu;
        out->res = SD_UTIL_GPU;
    } else if (out->memory > out->cpu) {
        out->value = out->memory;
        out->res = SD_UTIL_MEMORY;
    } else {
        out->value = out->cpu;
        out->res = SD_UTIL_CPU;
    }
    return 0;
}
