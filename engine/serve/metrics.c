/* /metrics: the Prometheus text exposition (format 0.0.4) of a copy of the served
 * counters, taken under the lock and rendered outside it. Names follow the Go autoscaler's
 * cluster_autoscaler_* where the meaning is the same; nodescaler_* are our own. */
#include "config.h"

#include "serve/serve_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct serve_buf {
    char *p;
    size_t len, cap;
    bool failed;
};

static void serve_put(struct serve_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
serve_put(struct serve_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        {
            size_t cap = (b->cap + (size_t)n + 1) * 2;
            char *p = realloc(b->p, cap);

            if (p == NULL) {
                b->failed = true;
                return;
            }
            b->p = p;
            b->cap = cap;
        }
    }
}

/* A label value as the format wants it: backslash, double quote and newline escaped. */
static void
serve_put_label(struct serve_buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            serve_put(b, "\\\\");
        else if (*v == '"')
            serve_put(b, "\\\"");
        else if (*v == '\n')
            serve_put(b, "\\n");
        else
            serve_put(b, "%c", *v);
    }
}

/* The shortest text that reads back as the same double, as Go's FormatFloat(v, 'g', -1). */
static void
serve_fmt_double(double v, char *t, size_t len)
{
    /* Counts, sizes and times in whole seconds: most samples, printed at once. */
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(t, len, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(t, len, "%.*g", prec, v);
        if (strtod(t, NULL) == v)
            break;
    }
}

static void
serve_put_double(struct serve_buf *b, double v)
{
    char t[40];

    serve_fmt_double(v, t, sizeof(t));
    serve_put(b, "%s", t);
}

static void
serve_family(struct serve_buf *b, const char *name, const char *type, const char *help)
{
    serve_put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A sample with at most one label (label NULL: none). */
static void
serve_sample(struct serve_buf *b, const char *name, const char *label, const char *value,
             double v)
{
    serve_put(b, "%s", name);
    if (label != NULL) {
        serve_put(b, "{%s=\"", label);
        serve_put_label(b, value);
        serve_put(b, "\"}");
    }
    serve_put(b, " ");
    serve_put_double(b, v);
    serve_put(b, "\n");
}

static const char *const serve_fn_names[SERVE_FN_N] = {"main", "cloudProviderRefresh",
                                                       "scaleUp", "findUnneeded"};
static const char *const serve_err_names[SERVE_ERR_N] = {"cloudProviderError", "apiCallError",
                                                         "internalError", "transientError",
                                                         "configurationError"};
static const char *const serve_call_names[SERVE_CALL_N] = {"refresh", "node_groups", "resize",
                                                           "evict"};
static const char *const serve_trigger_label[SERVE_TRIGGER_N] = {"scan", "pod", "frequent",
                                                                 "retry"};
static const char *const serve_res_names[SERVE_RES_N] = {"nodes",
                                                         "pods",
                                                         "poddisruptionbudgets",
                                                         "persistentvolumes",
                                                         "persistentvolumeclaims",
                                                         "storageclasses",
                                                         "namespaces"};
/* last_activity{activity}: the Go autoscaler's names for the same parts of the loop. */
static const char *const serve_activity_names[SERVE_FN_N] = {"main", "cloudProviderRefresh",
                                                             "scaleUp", "scaleDown"};

#define CA "cluster_autoscaler_"

static void
serve_render_gauges(struct serve_buf *b, const struct serve_metrics *m)
{
    const struct serve_gauges *g = &m->g;

    serve_family(b, CA "cluster_safe_to_autoscale", "gauge",
                 "Whether or not cluster is healthy enough for autoscaling. 1 if it is, 0 "
                 "otherwise.");
    serve_sample(b, CA "cluster_safe_to_autoscale", NULL, NULL, g->safe_to_autoscale ? 1 : 0);
    serve_family(b, CA "nodes_count", "gauge", "Number of nodes in cluster.");
    serve_sample(b, CA "nodes_count", "state", "ready", (double)g->nodes_ready);
    serve_sample(b, CA "nodes_count", "state", "unready", (double)g->nodes_unready);
    serve_sample(b, CA "nodes_count", "state", "notStarted", (double)g->nodes_not_started);
    serve_sample(b, CA "nodes_count", "state", "longUnregistered",
                 (double)g->nodes_long_unregistered);
    serve_sample(b, CA "nodes_count", "state", "unregistered", (double)g->nodes_unregistered);
    serve_family(b, CA "node_groups_count", "gauge", "Number of node groups managed by CA.");
    serve_sample(b, CA "node_groups_count", "node_group_type", "autoscaled",
                 (double)g->node_groups);
    serve_sample(b, CA "node_groups_count", "node_group_type", "autoprovisioned", 0);
    serve_family(b, CA "unschedulable_pods_count", "gauge",
                 "Number of unschedulable pods in the cluster.");
    serve_sample(b, CA "unschedulable_pods_count", "type", "unschedulable",
                 (double)g->unschedulable_pods);
    serve_family(b, CA "max_nodes_count", "gauge",
                 "Maximum number of nodes in all node groups");
    serve_sample(b, CA "max_nodes_count", NULL, NULL, (double)g->max_nodes);
    serve_family(b, CA "cluster_cpu_current_cores", "gauge",
                 "Current number of cores in the cluster, minus deleting nodes.");
    serve_sample(b, CA "cluster_cpu_current_cores", NULL, NULL, g->cpu_cores);
    serve_family(b, CA "cluster_memory_current_bytes", "gauge",
                 "Current number of bytes of memory in the cluster, minus deleting nodes.");
    serve_sample(b, CA "cluster_memory_current_bytes", NULL, NULL, g->memory_bytes);
    serve_family(b, CA "unneeded_nodes_count", "gauge",
                 "Number of nodes currently considered unneeded by CA.");
    serve_sample(b, CA "unneeded_nodes_count", NULL, NULL, (double)g->unneeded_nodes);
    serve_family(b, "nodescaler_informer_objects", "gauge",
                 "Objects of each watched kind in the cluster model.");
    for (size_t i = 0; i < SERVE_RES_N; i++)
        serve_sample(b, "nodescaler_informer_objects", "resource", serve_res_names[i],
                     (double)g->informer_objects[i]);
}

static void
serve_render_histograms(struct serve_buf *b, const struct serve_metrics *m)
{
    const char *name = CA "function_duration_seconds";
    char les[SERVE_N_BUCKETS][40];

    for (size_t i = 0; i < SERVE_N_BUCKETS; i++)
        serve_fmt_double(serve_bucket_bound(i), les[i], sizeof(les[i]));

    serve_family(b, name, "histogram", "Time taken by various parts of CA main loop.");
    for (size_t f = 0; f < SERVE_FN_N; f++) {
        const struct serve_histogram *h = &m->fn[f];
        uint64_t cum = 0;

        for (size_t i = 0; i < SERVE_N_BUCKETS; i++) {
            cum += h->buckets[i];
            serve_put(b, "%s_bucket{function=\"%s\",le=\"%s\"} %llu\n", name, serve_fn_names[f],
                      les[i], (unsigned long long)cum);
        }
        serve_put(b, "%s_bucket{function=\"%s\",le=\"+Inf\"} %llu\n", name, serve_fn_names[f],
                  (unsigned long long)h->count);
        serve_put(b, "%s_sum{function=\"%s\"} ", name, serve_fn_names[f]);
        serve_put_double(b, h->sum);
        serve_put(b, "\n");
        serve_put(b, "%s_count{function=\"%s\"} %llu\n", name, serve_fn_names[f],
                  (unsigned long long)h->count);
    }
}

static void
serve_render_counters(struct serve_buf *b, const struct serve_metrics *m, const char *backend)
{
    serve_family(b, CA "last_activity", "gauge",
                 "Last time certain part of CA logic executed.");
    for (size_t i = 0; i < SERVE_FN_N; i++)
        if (m->last_activity_s[i] > 0)
            serve_sample(b, CA "last_activity", "activity", serve_activity_names[i],
                         m->last_activity_s[i]);
    serve_family(b, CA "errors_total", "counter",
                 "The number of CA loops failed due to an error.");
    for (size_t i = 0; i < SERVE_ERR_N; i++)
        serve_sample(b, CA "errors_total", "type", serve_err_names[i], (double)m->errors[i]);
    serve_family(b, CA "scaled_up_nodes_total", "counter", "Number of nodes added by CA.");
    serve_sample(b, CA "scaled_up_nodes_total", NULL, NULL, (double)m->scaled_up_nodes);
    serve_family(b, CA "failed_scale_ups_total", "counter",
                 "Number of times scale-up operation has failed.");
    serve_sample(b, CA "failed_scale_ups_total", "reason", "cloudProviderError",
                 (double)m->failed_scale_ups);
    serve_family(b, CA "scaled_down_nodes_total", "counter", "Number of nodes removed by CA.");
    serve_sample(b, CA "scaled_down_nodes_total", "reason", "empty",
                 (double)m->scaled_down_empty);
    serve_sample(b, CA "scaled_down_nodes_total", "reason", "underutilized",
                 (double)m->scaled_down_underutilized);
    serve_family(b, CA "evicted_pods_total", "counter", "Number of pods evicted by CA.");
    serve_sample(b, CA "evicted_pods_total", "eviction_result", "succeeded",
                 (double)m->g.evicted_ok);
    serve_sample(b, CA "evicted_pods_total", "eviction_result", "failed",
                 (double)m->g.evicted_failed);
    serve_family(b, "nodescaler_failed_scale_downs_total", "counter",
                 "Node removals that failed and were rolled back.");
    serve_sample(b, "nodescaler_failed_scale_downs_total", NULL, NULL,
                 (double)m->failed_scale_downs);
    serve_family(b, "nodescaler_backend_calls_total", "counter",
                 "Calls made to the backend, by operation.");
    for (size_t i = 0; i < SERVE_CALL_N; i++) {
        serve_put(b, "nodescaler_backend_calls_total{backend=\"");
        serve_put_label(b, backend);
        serve_put(b, "\",call=\"%s\"} %llu\n", serve_call_names[i],
                  (unsigned long long)m->calls[i]);
    }
    serve_family(b, "nodescaler_loops_total", "counter", "Loops run, by what started them.");
    for (size_t i = 0; i < SERVE_TRIGGER_N; i++)
        serve_sample(b, "nodescaler_loops_total", "trigger", serve_trigger_label[i],
                     (double)m->loops[i]);
}

char *
serve_render_metrics(struct serve *s)
{
    struct serve_metrics m;
    struct serve_buf b = {NULL, 0, 0, false};

    pthread_mutex_lock(&s->lock);
    m = s->m;
    pthread_mutex_unlock(&s->lock);
    b.p = malloc(16384);
    if (b.p == NULL)
        return NULL;
    b.cap = 16384;
    b.p[0] = '\0';
    /* Gauges of a cluster never read would claim an empty cluster: leave them out. */
    if (m.have_gauges)
        serve_render_gauges(&b, &m);
    serve_render_counters(&b, &m, s->o.backend_name);
    serve_render_histograms(&b, &m);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
