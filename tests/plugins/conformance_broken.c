/* A small in-memory backend that keeps the contract of backend.h unless told to break one
 * rule with break=RULE, so that each check of nsc-backend-conformance is seen to fail. */
#include <nodescaler/backend.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BR_MAX_INST 16
/* break=slow: one call sleeps this long, beyond the --timeout-ms broken.sh passes. */
#define BR_SLOW_MS 12000

static const char *const br_rules[] = {
    "unknown-option",   /* create accepts any option key */
    "bounds",           /* group b reports a target above its max */
    "duplicate-member", /* an instance of group a is listed in group b too */
    "unknown-group",    /* group_instances of an unknown group succeeds */
    "noop",             /* resize to the current target replaces an instance */
    "resize-bounds",    /* resize outside [min, max] is accepted (and ignored) */
    "evict-unknown",    /* evict skips instances it does not know and succeeds */
    "silent",           /* last_error() is always "" */
    "slow",             /* the first resize sleeps BR_SLOW_MS */
    "min-moves",        /* a grown group reports its target as its min */
    "evict-other",      /* evict removes another instance than the one named */
};

struct br_instance {
    char id[64];
    enum nsc_instance_state state;
};

struct br_group {
    const char *id;
    int32_t min_size, max_size, target_size, first_target;
    struct br_instance inst[BR_MAX_INST];
    size_t n_inst;
    unsigned serial;
};

struct nsc_backend {
    const struct nsc_host *host;
    char rule[32];
    struct br_group groups[2];
    int slept;
    char error[256];
};

static bool
br_is(const struct nsc_backend *b, const char *rule)
{
    return strcmp(b->rule, rule) == 0;
}

static int br_fail(struct nsc_backend *b, int status, const char *fmt, ...) NSC_PRINTF(3, 4);

static int
br_fail(struct nsc_backend *b, int status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(b->error, sizeof(b->error), fmt, ap);
    va_end(ap);
    return status;
}

static void
br_group_init(struct br_group *g, const char *id, int32_t mn, int32_t mx, int32_t n)
{
    int32_t i;

    g->id = id;
    g->min_size = mn;
    g->max_size = mx;
    g->target_size = g->first_target = n;
    for (i = 0; i < n; i++) {
        snprintf(g->inst[i].id, sizeof(g->inst[i].id), "broken://%s-%u", id, ++g->serial);
        g->inst[i].state = NSC_INSTANCE_RUNNING;
    }
    g->n_inst = (size_t)n;
}

static int
br_create(const struct nsc_host *host, const struct nsc_option *opts, size_t n_opts,
          struct nsc_backend **out, char *errbuf, size_t errbuf_len)
{
    const char *rule = host->option(host, "break", NULL);
    struct nsc_backend *b;
    size_t i;

    *out = NULL;
    if (rule != NULL) {
        for (i = 0; i < sizeof(br_rules) / sizeof(br_rules[0]); i++) {
            if (strcmp(rule, br_rules[i]) == 0)
                break;
        }
        if (i == sizeof(br_rules) / sizeof(br_rules[0])) {
            snprintf(errbuf, errbuf_len, "--backend-opt break=%s: no such rule", rule);
            return NSC_ERR_INVALID;
        }
    }
    for (i = 0; i < n_opts; i++) {
        if (strcmp(opts[i].key, "break") != 0 &&
            (rule == NULL || strcmp(rule, "unknown-option") != 0)) {
            snprintf(errbuf, errbuf_len, "unknown option --backend-opt %s (known: break)",
                     opts[i].key);
            return NSC_ERR_INVALID;
        }
    }
    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NSC_ERR_NOMEM;
    b->host = host;
    snprintf(b->rule, sizeof(b->rule), "%s", rule ? rule : "");
    br_group_init(&b->groups[0], "a", 0, 3, 1);
    br_group_init(&b->groups[1], "b", 1, 2, 1);
    *out = b;
    return NSC_OK;
}

static void
br_destroy(struct nsc_backend *b)
{
    free(b);
}

/* What a cloud does between two loops: new machines run, deleted ones are gone. */
static int
br_refresh(struct nsc_backend *b)
{
    size_t i, k, kept;

    for (i = 0; i < 2; i++) {
        struct br_group *g = &b->groups[i];

        for (k = 0, kept = 0; k < g->n_inst; k++) {
            if (g->inst[k].state == NSC_INSTANCE_DELETING)
                continue;
            g->inst[k].state = NSC_INSTANCE_RUNNING;
            g->inst[kept++] = g->inst[k];
        }
        g->n_inst = kept;
    }
    return NSC_OK;
}

static int
br_node_groups(struct nsc_backend *b, const struct nsc_sink *sink)
{
    size_t i;
    int rc;

    for (i = 0; i < 2; i++) {
        const struct br_group *g = &b->groups[i];
        struct nsc_group rec;

        memset(&rec, 0, sizeof(rec));
        rec.struct_size = sizeof(rec);
        rec.id = g->id;
        rec.min_size = g->min_size;
        rec.max_size = g->max_size;
        rec.target_size = g->target_size;
        if (br_is(b, "bounds") && i == 1)
            rec.target_size = g->max_size + 1;
        if (br_is(b, "min-moves") && g->target_size > g->first_target)
            rec.min_size = g->target_size;
        rec.template_node_json = "{\"kind\":\"Node\",\"apiVersion\":\"v1\",\"status\":"
                                 "{\"allocatable\":{\"cpu\":\"2\",\"memory\":\"4Gi\"}}}";
        if ((rc = sink->group(sink, &rec)) < 0)
            return rc;
    }
    return NSC_OK;
}

static struct br_group *
br_find(struct nsc_backend *b, const char *id)
{
    size_t i;

    for (i = 0; i < 2; i++) {
        if (strcmp(b->groups[i].id, id) == 0)
            return &b->groups[i];
    }
    br_fail(b, NSC_ERR_NOT_FOUND, "no group %s", id);
    return NULL;
}

static int
br_emit(const struct br_instance *in, const struct nsc_sink *sink)
{
    struct nsc_instance rec;

    memset(&rec, 0, sizeof(rec));
    rec.struct_size = sizeof(rec);
    rec.provider_id = in->id;
    rec.state = in->state;
    return sink->instance(sink, &rec);
}

static int
br_group_instances(struct nsc_backend *b, const char *group_id, const struct nsc_sink *sink)
{
    struct br_group *g = br_find(b, group_id);
    size_t k;
    int rc;

    if (g == NULL)
        return br_is(b, "unknown-group") ? NSC_OK : NSC_ERR_NOT_FOUND;
    for (k = 0; k < g->n_inst; k++) {
        if ((rc = br_emit(&g->inst[k], sink)) < 0)
            return rc;
    }
    if (br_is(b, "duplicate-member") && g == &b->groups[1] && b->groups[0].n_inst > 0)
        return br_emit(&b->groups[0].inst[0], sink);
    return NSC_OK;
}

static size_t
br_live(const struct br_group *g)
{
    size_t k, n = 0;

    for (k = 0; k < g->n_inst; k++)
        n += g->inst[k].state != NSC_INSTANCE_DELETING;
    return n;
}

static int
br_add(struct br_group *g)
{
    if (g->n_inst == BR_MAX_INST)
        return NSC_ERR_OUT_OF_RESOURCES;
    snprintf(g->inst[g->n_inst].id, sizeof(g->inst[0].id), "broken://%s-%u", g->id,
             ++g->serial);
    g->inst[g->n_inst].state = NSC_INSTANCE_CREATING;
    g->n_inst++;
    return NSC_OK;
}

static int
br_resize(struct nsc_backend *b, const char *group_id, int32_t target)
{
    struct br_group *g = br_find(b, group_id);
    size_t k;

    if (br_is(b, "slow") && !b->slept) {
        struct timespec ts = {BR_SLOW_MS / 1000, (BR_SLOW_MS % 1000) * 1000000L};

        b->slept = 1;
        nanosleep(&ts, NULL);
    }
    if (g == NULL)
        return NSC_ERR_NOT_FOUND;
    if (target < g->min_size || target > g->max_size) {
        if (br_is(b, "resize-bounds"))
            return NSC_OK;
        return br_fail(b, NSC_ERR_INVALID, "group %s: target %d is outside [%d, %d]", g->id,
                       (int)target, (int)g->min_size, (int)g->max_size);
    }
    if (target == g->target_size && br_is(b, "noop") && g->n_inst > 0) {
        g->inst[0].state = NSC_INSTANCE_DELETING;
        return br_add(g);
    }
    while (br_live(g) < (size_t)target) {
        if (br_add(g) < 0)
            return br_fail(b, NSC_ERR_OUT_OF_RESOURCES, "group %s: no room", g->id);
    }
    for (k = g->n_inst; k > 0 && br_live(g) > (size_t)target; k--)
        g->inst[k - 1].state = NSC_INSTANCE_DELETING;
    g->target_size = target;
    return NSC_OK;
}

static int
br_evict(struct nsc_backend *b, const char *group_id, const char *const *ids, size_t n_ids)
{
    struct br_group *g = br_find(b, group_id);
    size_t i, k, n_known = 0;

    if (g == NULL)
        return NSC_ERR_NOT_FOUND;
    for (i = 0; i < n_ids; i++) {
        for (k = 0; k < g->n_inst; k++) {
            if (strcmp(g->inst[k].id, ids[i]) == 0 && g->inst[k].state != NSC_INSTANCE_DELETING)
                break;
        }
        if (k == g->n_inst && !br_is(b, "evict-unknown"))
            return br_fail(b, NSC_ERR_INVALID, "group %s: %s is not a live member", g->id,
                           ids[i]);
        n_known += k < g->n_inst;
    }
    if (g->target_size - (int32_t)n_known < g->min_size)
        return br_fail(b, NSC_ERR_INVALID, "group %s: would go below min %d", g->id,
                       (int)g->min_size);
    for (i = 0; i < n_ids; i++) {
        for (k = 0; k < g->n_inst; k++) {
            bool named = strcmp(g->inst[k].id, ids[i]) == 0;

            if (br_is(b, "evict-other") ? !named && g->inst[k].state != NSC_INSTANCE_DELETING
                                        : named) {
                g->inst[k].state = NSC_INSTANCE_DELETING;
                break;
            }
        }
    }
    g->target_size -= (int32_t)n_known;
    return NSC_OK;
}

static const char *
br_last_error(struct nsc_backend *b)
{
    return br_is(b, "silent") ? "" : b->error;
}

static const struct nsc_backend_ops br_ops = {
    NSC_BACKEND_HEADER("conformance-broken", "1.0.0"),
    br_create,
    br_destroy,
    br_refresh,
    br_node_groups,
    br_group_instances,
    br_resize,
    br_evict,
    br_last_error,
    NULL,
};

/* break=abi cannot come through an option: the table is read before create. */
static const struct nsc_backend_ops br_ops_newer = {
    NSC_ABI_MAJOR,
    NSC_ABI_MINOR + 1,
    (uint32_t)sizeof(struct nsc_backend_ops),
    "conformance-broken",
    "1.0.0",
    br_create,
    br_destroy,
    br_refresh,
    br_node_groups,
    br_group_instances,
    br_resize,
    br_evict,
    br_last_error,
    NULL,
};

NSC_EXPORT const struct nsc_backend_ops *
nsc_backend_entry_v1(void)
{
    const char *env = getenv("NSC_CONFORMANCE_BREAK");

    return env != NULL && strcmp(env, "abi") == 0 ? &br_ops_newer : &br_ops;
}
