/* A minimal nodescaler backend: one node group held in memory, resized on request. It
 * keeps every rule of <nodescaler/backend.h>; replace the memory with calls to a cloud. */
#include <nodescaler/backend.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SK_MAX 64

/* The backend's state: opaque to the core, which only ever holds a pointer to it. No
 * global variables: the core may run two instances on two threads. */
struct nsc_backend {
    const struct nsc_host *host;
    int32_t min_size, max_size, target;
    /* Instances: "skeleton://N"; a cloud would report its machines instead. */
    unsigned serial[SK_MAX];
    enum nsc_instance_state state[SK_MAX];
    size_t n;
    unsigned next;
    /* The text last_error() returns: valid until the next call, as the header says. */
    char error[256];
};

static int sk_fail(struct nsc_backend *b, int status, const char *fmt, ...) NSC_PRINTF(3, 4);

static int
sk_fail(struct nsc_backend *b, int status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(b->error, sizeof(b->error), fmt, ap);
    va_end(ap);
    return status;
}

/* A whole-string integer in [lo, hi]; 0 or NSC_ERR_INVALID. */
static int
sk_int(const char *text, int32_t lo, int32_t hi, int32_t *out)
{
    char *end;
    long v = strtol(text, &end, 10);

    if (*text == '\0' || *end != '\0' || v < lo || v > hi)
        return NSC_ERR_INVALID;
    *out = (int32_t)v;
    return 0;
}

/* Options arrive as --backend-opt KEY=VALUE. Refuse keys you do not know: a misspelt key
 * that is silently ignored leaves a default in place that nobody asked for. */
static int
sk_create(const struct nsc_host *host, const struct nsc_option *opts, size_t n_opts,
          struct nsc_backend **out, char *errbuf, size_t errbuf_len)
{
    static const char *const keys[] = {"size", "min", "max"};
    struct nsc_backend *b;
    const char *v;
    size_t i, k;

    *out = NULL;
    for (i = 0; i < n_opts; i++) {
        for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            if (strcmp(opts[i].key, keys[k]) == 0)
                break;
        }
        if (k == sizeof(keys) / sizeof(keys[0])) {
            snprintf(errbuf, errbuf_len,
                     "unknown option --backend-opt %s (skeleton takes size, min, max)",
                     opts[i].key);
            return NSC_ERR_INVALID;
        }
    }
    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NSC_ERR_NOMEM;
    b->host = host;
    b->min_size = 0;
    b->max_size = 10;
    b->target = 1;
    /* host->option() also reads an environment variable when the option is absent. */
    if (((v = host->option(host, "max", "SKELETON_MAX")) != NULL &&
         sk_int(v, 1, SK_MAX, &b->max_size) < 0) ||
        ((v = host->option(host, "min", NULL)) != NULL &&
         sk_int(v, 0, b->max_size, &b->min_size) < 0) ||
        ((v = host->option(host, "size", NULL)) != NULL &&
         sk_int(v, b->min_size, b->max_size, &b->target) < 0)) {
        snprintf(errbuf, errbuf_len,
                 "bad --backend-opt value \"%s\": size, min and max are integers with "
                 "0 <= min <= size <= max <= %d",
                 v, SK_MAX);
        free(b);
        return NSC_ERR_INVALID;
    }
    for (b->n = 0; b->n < (size_t)b->target; b->n++) {
        b->serial[b->n] = ++b->next;
        b->state[b->n] = NSC_INSTANCE_RUNNING;
    }
    host->log(host, NSC_LOG_INFO, "one group of %d (min %d, max %d)", (int)b->target,
              (int)b->min_size, (int)b->max_size);
    *out = b;
    return NSC_OK;
}

static void
sk_destroy(struct nsc_backend *b)
{
    free(b);
}

/* Once per loop. A cloud backend lists its machines here (through host->http, which has a
 * timeout) and never waits for an operation: what is still running shows as CREATING or
 * DELETING. Here, what was asked since the last refresh is done. */
static int
sk_refresh(struct nsc_backend *b)
{
    size_t i, kept = 0;

    for (i = 0; i < b->n; i++) {
        if (b->state[i] == NSC_INSTANCE_DELETING)
            continue;
        b->serial[kept] = b->serial[i];
        b->state[kept++] = NSC_INSTANCE_RUNNING;
    }
    b->n = kept;
    b->error[0] = '\0';
    return NSC_OK;
}

/* Records are built on the stack: the sink copies them before it returns. */
static int
sk_node_groups(struct nsc_backend *b, const struct nsc_sink *sink)
{
    struct nsc_group g;

    memset(&g, 0, sizeof(g));
    g.struct_size = sizeof(g);
    g.id = "skeleton";
    g.min_size = b->min_size;
    g.max_size = b->max_size;
    g.target_size = b->target;
    /* What a new node of the group looks like, so that the core can scale from zero. */
    g.template_node_json =
        "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"labels\":"
        "{\"node.kubernetes.io/instance-type\":\"skeleton\"}},\"status\":{"
        "\"capacity\":{\"cpu\":\"2\",\"memory\":\"4Gi\",\"pods\":\"110\"},"
        "\"allocatable\":{\"cpu\":\"2\",\"memory\":\"4Gi\",\"pods\":\"110\"}}}";
    return sink->group(sink, &g);
}

static int
sk_group_instances(struct nsc_backend *b, const char *group_id, const struct nsc_sink *sink)
{
    size_t i;
    int rc;

    if (strcmp(group_id, "skeleton") != 0)
        return sk_fail(b, NSC_ERR_NOT_FOUND, "no group %s (the only one is skeleton)",
                       group_id);
    for (i = 0; i < b->n; i++) {
        struct nsc_instance in;
        char id[64];

        snprintf(id, sizeof(id), "skeleton://%u", b->serial[i]);
        memset(&in, 0, sizeof(in));
        in.struct_size = sizeof(in);
        in.provider_id = id;
        in.state = b->state[i];
        if ((rc = sink->instance(sink, &in)) < 0)
            return rc;
    }
    return NSC_OK;
}

static size_t
sk_live(const struct nsc_backend *b)
{
    size_t i, n = 0;

    for (i = 0; i < b->n; i++)
        n += b->state[i] != NSC_INSTANCE_DELETING;
    return n;
}

/* An absolute target, so that the core may retry it safely; return once the cloud has
 * accepted the request, not once the machines run. */
static int
sk_resize(struct nsc_backend *b, const char *group_id, int32_t target)
{
    size_t i;

    if (strcmp(group_id, "skeleton") != 0)
        return sk_fail(b, NSC_ERR_NOT_FOUND, "no group %s", group_id);
    if (target < b->min_size || target > b->max_size)
        return sk_fail(b, NSC_ERR_INVALID, "target %d is outside [%d, %d]", (int)target,
                       (int)b->min_size, (int)b->max_size);
    while (sk_live(b) < (size_t)target) {
        b->serial[b->n] = ++b->next;
        b->state[b->n++] = NSC_INSTANCE_CREATING;
    }
    for (i = b->n; i > 0 && sk_live(b) > (size_t)target; i--)
        b->state[i - 1] = NSC_INSTANCE_DELETING;
    b->target = target;
    return NSC_OK;
}

/* Remove exactly the named instances, all or nothing, and lower the target. */
static int
sk_evict(struct nsc_backend *b, const char *group_id, const char *const *ids, size_t n_ids)
{
    size_t i, k;

    if (strcmp(group_id, "skeleton") != 0)
        return sk_fail(b, NSC_ERR_NOT_FOUND, "no group %s", group_id);
    if ((int64_t)b->target - (int64_t)n_ids < b->min_size)
        return sk_fail(b, NSC_ERR_INVALID, "removing %zu would go below min %d", n_ids,
                       (int)b->min_size);
    for (i = 0; i < n_ids; i++) {
        for (k = 0; k < b->n; k++) {
            char id[64];

            snprintf(id, sizeof(id), "skeleton://%u", b->serial[k]);
            if (strcmp(id, ids[i]) == 0 && b->state[k] != NSC_INSTANCE_DELETING)
                break;
        }
        if (k == b->n)
            return sk_fail(b, NSC_ERR_INVALID, "%s is not a live instance of skeleton", ids[i]);
    }
    for (i = 0; i < n_ids; i++) {
        for (k = 0; k < b->n; k++) {
            char id[64];

            snprintf(id, sizeof(id), "skeleton://%u", b->serial[k]);
            if (strcmp(id, ids[i]) == 0)
                b->state[k] = NSC_INSTANCE_DELETING;
        }
    }
    b->target -= (int32_t)n_ids;
    return NSC_OK;
}

static const char *
sk_last_error(struct nsc_backend *b)
{
    return b->error;
}

/* NSC_BACKEND_HEADER fills the ABI version, the table's size, the name and the version. */
static const struct nsc_backend_ops sk_ops = {
    NSC_BACKEND_HEADER("skeleton", "0.1.0"),
    sk_create,
    sk_destroy,
    sk_refresh,
    sk_node_groups,
    sk_group_instances,
    sk_resize,
    sk_evict,
    sk_last_error,
    NULL, /* group_for_node is optional */
};

/* The one exported symbol. */
NSC_EXPORT const struct nsc_backend_ops *
nsc_backend_entry_v1(void)
{
    return &sk_ops;
}
