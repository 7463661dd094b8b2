/* The control loop's per-group and cluster state between loops: readiness buckets, upcoming
 * nodes, failed scale-ups and exponential back-off, after the Go autoscaler's clusterstate. */
#include "loop/gstate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nodescaler/backend.h>

/* 9999-12-31T23:59:59.999Z: a time past it is a unit mistake, not a date. */
#define GS_NOW_MAX 253402300799999LL
/* Longest accepted duration option: a year. Keeps now + duration far from overflow. */
#define GS_DURATION_MAX (366LL * 24 * 3600 * 1000)

struct gs_inst {
    char *provider_id;
    size_t group;
    enum nsc_instance_state state;
    enum nsc_error_class error_class;
    const char *error_message;     /* borrowed from the group_set, only during the update */
    int64_t unregistered_since_ms; /* 0 while it has a node or is being deleted */
    bool has_node;
    bool error_noted;   /* its creation error already backed the group off */
    bool timeout_noted; /* its provision timeout already backed the group off */
};

struct gs_group {
    char *id;
    int32_t min_size, max_size, target_size;
    size_t n_ready, n_unready, n_not_started, n_deleting;
    size_t n_unregistered, n_long_unregistered, n_failed;
    size_t n_removals;
    int32_t upcoming;
    /* Kept across updates while the group exists. */
    int64_t backoff_ms; /* current back-off length, 0 when no entry */
    int64_t backoff_until_ms;
    int64_t last_failed_ms;
    char *backoff_reason;
    char *backoff_message;
    int64_t last_scale_up_ms;
    bool request_active;
    bool request_expired; /* the last noted scale-up timed out short of its nodes */
    int32_t request_to;
    int64_t request_at_ms;
    unsigned n_transient; /* resizes refused transiently in a row */
};

struct gstate {
    struct gstate_options o; /* string arrays point at the copies below */
    char **startup_taints;
    char **startup_prefixes;
    struct gs_group *groups;
    size_t n_groups;
    size_t *by_id; /* group indices sorted by ID */
    struct gs_inst *insts;
    size_t n_insts;
    uint32_t *hash; /* instance index + 1, 0 = empty; open addressing */
    size_t hash_cap;
    struct gstate_removal *removals;
    size_t n_removals;
    struct gstate_totals totals;
    int64_t last_scale_up_ms;
    bool valid;
    char fail[256];
};

static void gs_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
gs_err(char *err, size_t err_len, const char *fmt, ...)
{
    if (!err || err_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

void
gstate_options_default(struct gstate_options *o)
{
    memset(o, 0, sizeof(*o));
    o->max_node_provision_time_ms = 15 * 60 * 1000;
    o->max_node_startup_time_ms = 15 * 60 * 1000;
    o->initial_backoff_ms = 5 * 60 * 1000;
    o->max_backoff_ms = 30 * 60 * 1000;
    o->backoff_reset_timeout_ms = 3 * 3600 * 1000;
    o->ok_total_unready_count = 3;
    o->max_total_unready_percentage = 45.0;
}

static void
gs_free_strings(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int
gs_copy_strings(const char *const *in, size_t n, const char *flag, char ***out, char *err,
                size_t err_len)
{
    *out = NULL;
    if (n == 0)
        return 0;
    if (!in || n > GSTATE_MAX_TAINTS) {
        gs_err(err, err_len, "%s: %zu values (at most %d)", flag, n, GSTATE_MAX_TAINTS);
        return NSC_ERR_INVALID;
    }
    char **v = calloc(n, sizeof(*v));
    if (!v)
        return NSC_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!in[i] || !in[i][0]) {
            gs_err(err, err_len, "%s: value %zu is empty", flag, i + 1);
            gs_free_strings(v, n);
            return NSC_ERR_INVALID;
        }
        v[i] = strdup(in[i]);
        if (!v[i]) {
            gs_free_strings(v, n);
            return NSC_ERR_NOMEM;
        }
    }
    *out = v;
    return 0;
}

static int
gs_check_duration(int64_t v, const char *flag, char *err, size_t err_len)
{
    if (v <= 0 || v > GS_DURATION_MAX) {
        gs_err(err, err_len, "%s: %lld ms is outside (0, %lld]", flag, (long long)v,
               (long long)GS_DURATION_MAX);
        return NSC_ERR_INVALID;
    }
    return 0;
}

int
gstate_create(const struct gstate_options *o, struct gstate **out, char *err, size_t err_len)
{
    *out = NULL;
    int rc;
    if ((rc = gs_check_duration(o->max_node_provision_time_ms, "--max-node-provision-time", err,
                                err_len)) < 0 ||
        (rc = gs_check_duration(o->max_node_startup_time_ms, "--max-node-startup-time", err,
                                err_len)) < 0 ||
        (rc = gs_check_duration(o->initial_backoff_ms, "--initial-node-group-backoff-duration",
                                err, err_len)) < 0 ||
        (rc = gs_check_duration(o->max_backoff_ms, "--max-node-group-backoff-duration", err,
                                err_len)) < 0 ||
        (rc = gs_check_duration(o->backoff_reset_timeout_ms,
                                "--node-group-backoff-reset-timeout", err, err_len)) < 0)
        return rc;
    if (o->initial_backoff_ms > o->max_backoff_ms) {
        gs_err(err, err_len,
               "--initial-node-group-backoff-duration (%lld ms) is above "
               "--max-node-group-backoff-duration (%lld ms)",
               (long long)o->initial_backoff_ms, (long long)o->max_backoff_ms);
        return NSC_ERR_INVALID;
    }
    if (o->ok_total_unready_count < 0 || o->ok_total_unready_count > GSTATE_MAX_NODES) {
        gs_err(err, err_len, "--ok-total-unready-count: %lld is outside [0, %d]",
               (long long)o->ok_total_unready_count, GSTATE_MAX_NODES);
        return NSC_ERR_INVALID;
    }
    /* Written so that NaN fails too. */
    if (!(o->max_total_unready_percentage >= 0.0 && o->max_total_unready_percentage <= 100.0)) {
        gs_err(err, err_len, "--max-total-unready-percentage: %g is outside [0, 100]",
               o->max_total_unready_percentage);
        return NSC_ERR_INVALID;
    }
    struct gstate *g = calloc(1, sizeof(*g));
    if (!g)
        return NSC_ERR_NOMEM;
    g->o = *o;
    rc = gs_copy_strings(o->startup_taints, o->n_startup_taints, "--startup-taint",
                         &g->startup_taints, err, err_len);
    if (rc == 0)
        rc = gs_copy_strings(o->startup_taint_prefixes, o->n_startup_taint_prefixes,
                             "--startup-taint-prefix", &g->startup_prefixes, err, err_len);
    if (rc < 0) {
        if (rc == NSC_ERR_NOMEM)
            gs_err(err, err_len, "out of memory copying the startup taints");
        gstate_free(g);
        return rc;
    }
    g->o.startup_taints = (const char *const *)g->startup_taints;
    g->o.startup_taint_prefixes = (const char *const *)g->startup_prefixes;
    snprintf(g->fail, sizeof(g->fail), "no node state yet");
    *out = g;
    return 0;
}

static void
gs_free_tables(struct gs_group *groups, size_t n_groups, size_t *by_id, struct gs_inst *insts,
               size_t n_insts, uint32_t *hash, struct gstate_removal *removals)
{
    for (size_t i = 0; groups && i < n_groups; i++) {
        free(groups[i].id);
        free(groups[i].backoff_reason);
        free(groups[i].backoff_message);
    }
    free(groups);
    free(by_id);
    for (size_t i = 0; insts && i < n_insts; i++)
        free(insts[i].provider_id);
    free(insts);
    free(hash);
    free(removals);
}

void
gstate_free(struct gstate *g)
{
    if (!g)
        return;
    gs_free_tables(g->groups, g->n_groups, g->by_id, g->insts, g->n_insts, g->hash,
                   g->removals);
    gs_free_strings(g->startup_taints, g->o.n_startup_taints);
    gs_free_strings(g->startup_prefixes, g->o.n_startup_taint_prefixes);
    free(g);
}

/* ---- lookups ---- */

static uint64_t
gs_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The slot holding provider_id, or the empty slot where it would go. */
static size_t
gs_slot(const uint32_t *hash, size_t cap, const struct gs_inst *insts, const char *provider_id)
{
    size_t i = (size_t)gs_hash(provider_id) & (cap - 1);
    while (hash[i] && strcmp(insts[hash[i] - 1].provider_id, provider_id) != 0)
        i = (i + 1) & (cap - 1);
    return i;
}

static const struct gs_inst *
gs_find_inst(const struct gstate *g, const char *provider_id)
{
    if (!g->hash_cap)
        return NULL;
    size_t s = gs_slot(g->hash, g->hash_cap, g->insts, provider_id);
    return g->hash[s] ? &g->insts[g->hash[s] - 1] : NULL;
}

/* qsort has no context argument, so the sort runs on (id, index) pairs. */
struct gs_key {
    const char *id;
    size_t index;
};

static int
gs_cmp_key(const void *a, const void *b)
{
    return strcmp(((const struct gs_key *)a)->id, ((const struct gs_key *)b)->id);
}

static long
gs_find_group(const struct gs_group *groups, const size_t *by_id, size_t n, const char *id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(groups[by_id[mid]].id, id);
        if (c == 0)
            return (long)by_id[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

long
gstate_find(const struct gstate *g, const char *group_id)
{
    if (!group_id)
        return -1;
    return gs_find_group(g->groups, g->by_id, g->n_groups, group_id);
}

size_t
gstate_n_groups(const struct gstate *g)
{
    return g->n_groups;
}

/* ---- back-off ---- */

/* A copy of what the backend said, cut to GSTATE_MESSAGE_MAX on a UTF-8 boundary and with
 * control characters replaced, since it ends up in logs and the status ConfigMap. */
static char *
gs_message_copy(const char *s)
{
    size_t len = strlen(s);
    if (len > GSTATE_MESSAGE_MAX) {
        len = GSTATE_MESSAGE_MAX;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    char *c = malloc(len + 1);
    if (!c)
        return NULL;
    for (size_t i = 0; i < len; i++)
        c[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7F) ? '?' : s[i];
    c[len] = '\0';
    return c;
}

/* Go's ExponentialBackoff.Backoff: a failure during a back-off keeps its length, one after
 * it ended doubles it up to the maximum. */
static int
gs_backoff(const struct gstate_options *o, struct gs_group *gr, const char *reason,
           const char *message, int64_t now_ms)
{
    char *r = strdup(reason);
    char *m = message ? gs_message_copy(message) : NULL;
    if (!r || (message && !m)) {
        free(r);
        free(m);
        return NSC_ERR_NOMEM;
    }
    int64_t d = o->initial_backoff_ms;
    if (gr->backoff_ms > 0) {
        if (now_ms >= gr->backoff_until_ms)
            d = gr->backoff_ms > o->max_backoff_ms / 2 ? o->max_backoff_ms : 2 * gr->backoff_ms;
        else
            d = gr->backoff_ms;
    }
    free(gr->backoff_reason);
    free(gr->backoff_message);
    gr->backoff_reason = r;
    gr->backoff_message = m;
    gr->backoff_ms = d;
    gr->backoff_until_ms = now_ms + d;
    gr->last_failed_ms = now_ms;
    return 0;
}

static void
gs_backoff_clear(struct gs_group *gr)
{
    free(gr->backoff_reason);
    free(gr->backoff_message);
    gr->backoff_reason = gr->backoff_message = NULL;
    gr->backoff_ms = gr->backoff_until_ms = gr->last_failed_ms = 0;
}

static bool
gs_is_backed_off(const struct gs_group *gr, int64_t now_ms)
{
    return gr->backoff_ms > 0 && now_ms < gr->backoff_until_ms;
}

/* ---- readiness ---- */

static bool
gs_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool
gs_startup_taint(const struct gstate *g, const char *key)
{
    /* The Go autoscaler's built-in prefixes; ignore-taint is the deprecated name. Status
     * taints (status-taint.*) say nothing about readiness and are not listed. */
    if (gs_has_prefix(key, "startup-taint.cluster-autoscaler.kubernetes.io/") ||
        gs_has_prefix(key, "ignore-taint.cluster-autoscaler.kubernetes.io/"))
        return true;
    for (size_t i = 0; i < g->o.n_startup_taints; i++)
        if (strcmp(key, g->startup_taints[i]) == 0)
            return true;
    for (size_t i = 0; i < g->o.n_startup_taint_prefixes; i++)
        if (gs_has_prefix(key, g->startup_prefixes[i]))
            return true;
    return false;
}

/* Go's GetNodeReadiness taints: the node lifecycle controller's not-ready markers. */
static bool
gs_not_ready_taint(const char *key)
{
    return strcmp(key, "node.kubernetes.io/not-ready") == 0 ||
           strcmp(key, "node.kubernetes.io/disk-pressure") == 0 ||
           strcmp(key, "node.kubernetes.io/network-unavailable") == 0;
}

enum gs_bucket { GS_READY, GS_NOT_STARTED, GS_UNREADY, GS_DELETING };

static enum gs_bucket
gs_classify(const struct gstate *g, const struct gstate_node *n, int64_t now_ms)
{
    if (n->deleting)
        return GS_DELETING;
    bool ready = n->ready == 1;
    for (size_t t = 0; ready && t < n->n_taint_keys; t++) {
        const char *k = n->taint_keys[t];
        if (k && (gs_not_ready_taint(k) || gs_startup_taint(g, k)))
            ready = false;
    }
    if (ready)
        return GS_READY;
    /* A missing or future creation time cannot prove the node is young: it counts as
     * unready, which holds scale-down back rather than hiding a broken node. */
    if (n->created_ms > 0 && n->created_ms <= now_ms &&
        now_ms - n->created_ms < g->o.max_node_startup_time_ms)
        return GS_NOT_STARTED;
    return GS_UNREADY;
}

/* ---- update ---- */

struct gs_next {
    struct gs_group *groups;
    size_t n_groups;
    size_t *by_id;
    struct gs_inst *insts;
    size_t n_insts;
    uint32_t *hash;
    size_t hash_cap;
    struct gstate_removal *removals;
    size_t n_removals;
    struct gstate_totals totals;
};

static int
gs_check_input(const struct group_set *groups, const struct gstate_node *nodes, size_t n_nodes,
               int64_t now_ms, size_t *n_insts, char *err, size_t err_len)
{
    if (now_ms < 0 || now_ms > GS_NOW_MAX) {
        gs_err(err, err_len, "time %lld ms is outside [0, %lld]", (long long)now_ms,
               (long long)GS_NOW_MAX);
        return NSC_ERR_INVALID;
    }
    if (groups->n_groups > GSTATE_MAX_GROUPS || (groups->n_groups && !groups->groups)) {
        gs_err(err, err_len, "%zu node groups (at most %d)", groups->n_groups,
               GSTATE_MAX_GROUPS);
        return NSC_ERR_INVALID;
    }
    if (n_nodes > GSTATE_MAX_NODES || (n_nodes && !nodes)) {
        gs_err(err, err_len, "%zu nodes (at most %d)", n_nodes, GSTATE_MAX_NODES);
        return NSC_ERR_INVALID;
    }
    size_t total = 0;
    for (size_t i = 0; i < groups->n_groups; i++) {
        const struct group_rec *r = &groups->groups[i];
        if (!r->id || !r->id[0]) {
            gs_err(err, err_len, "node group %zu: field id is missing", i + 1);
            return NSC_ERR_INVALID;
        }
        if (r->min_size < 0 || r->max_size < r->min_size || r->target_size < 0) {
            gs_err(err, err_len,
                   "group %s: sizes min %d, max %d, target %d are not 0 <= min <= max and "
                   "target >= 0",
                   r->id, (int)r->min_size, (int)r->max_size, (int)r->target_size);
            return NSC_ERR_INVALID;
        }
        if (r->n_instances > GSTATE_MAX_INSTANCES - total ||
            (r->n_instances && !r->instances)) {
            gs_err(err, err_len, "group %s: more than %d instances in all", r->id,
                   GSTATE_MAX_INSTANCES);
            return NSC_ERR_INVALID;
        }
        total += r->n_instances;
        for (size_t k = 0; k < r->n_instances; k++) {
            const struct instance_rec *in = &r->instances[k];
            if (!in->provider_id || !in->provider_id[0]) {
                gs_err(err, err_len, "group %s: instance %zu: field provider_id is missing",
                       r->id, k + 1);
                return NSC_ERR_INVALID;
            }
        }
    }
    for (size_t i = 0; i < n_nodes; i++)
        if (nodes[i].n_taint_keys > GSTATE_MAX_TAINTS ||
            (nodes[i].n_taint_keys && !nodes[i].taint_keys)) {
            gs_err(err, err_len, "node %s: %zu taints (at most %d)",
                   nodes[i].provider_id ? nodes[i].provider_id : "without providerID",
                   nodes[i].n_taint_keys, GSTATE_MAX_TAINTS);
            return NSC_ERR_INVALID;
        }
    *n_insts = total;
    return 0;
}

/* Groups of the new update, with what the previous update knew about each carried over. */
static int
gs_build_groups(const struct gstate *g, const struct group_set *groups, struct gs_next *nx,
                char *err, size_t err_len)
{
    nx->n_groups = groups->n_groups;
    if (nx->n_groups == 0)
        return 0;
    nx->groups = calloc(nx->n_groups, sizeof(*nx->groups));
    nx->by_id = malloc(nx->n_groups * sizeof(*nx->by_id));
    if (!nx->groups || !nx->by_id)
        return NSC_ERR_NOMEM;
    for (size_t i = 0; i < nx->n_groups; i++) {
        const struct group_rec *r = &groups->groups[i];
        struct gs_group *gr = &nx->groups[i];
        nx->by_id[i] = i;
        long old = gstate_find(g, r->id);
        if (old >= 0) {
            const struct gs_group *o = &g->groups[old];
            gr->backoff_ms = o->backoff_ms;
            gr->backoff_until_ms = o->backoff_until_ms;
            gr->last_failed_ms = o->last_failed_ms;
            gr->last_scale_up_ms = o->last_scale_up_ms;
            gr->request_active = o->request_active;
            gr->request_expired = o->request_expired;
            gr->request_to = o->request_to;
            gr->request_at_ms = o->request_at_ms;
            gr->n_transient = o->n_transient;
            if (o->backoff_reason && !(gr->backoff_reason = strdup(o->backoff_reason)))
                return NSC_ERR_NOMEM;
            if (o->backoff_message && !(gr->backoff_message = strdup(o->backoff_message)))
                return NSC_ERR_NOMEM;
        }
        gr->id = strdup(r->id);
        if (!gr->id)
            return NSC_ERR_NOMEM;
        gr->min_size = r->min_size;
        gr->max_size = r->max_size;
        gr->target_size = r->target_size;
    }
    struct gs_key *keys = malloc(nx->n_groups * sizeof(*keys));
    if (!keys)
        return NSC_ERR_NOMEM;
    for (size_t i = 0; i < nx->n_groups; i++)
        keys[i] = (struct gs_key){nx->groups[i].id, i};
    qsort(keys, nx->n_groups, sizeof(*keys), gs_cmp_key);
    for (size_t i = 0; i < nx->n_groups; i++)
        nx->by_id[i] = keys[i].index;
    free(keys);
    for (size_t i = 1; i < nx->n_groups; i++)
        if (strcmp(nx->groups[nx->by_id[i]].id, nx->groups[nx->by_id[i - 1]].id) == 0) {
            gs_err(err, err_len, "group %s: field id is a duplicate",
                   nx->groups[nx->by_id[i]].id);
            return NSC_ERR_INVALID;
        }
    return 0;
}

static int
gs_build_insts(const struct gstate *g, const struct group_set *groups, struct gs_next *nx,
               char *err, size_t err_len)
{
    if (nx->n_insts == 0)
        return 0;
    nx->hash_cap = 16;
    while (nx->hash_cap < 2 * nx->n_insts)
        nx->hash_cap *= 2;
    nx->insts = calloc(nx->n_insts, sizeof(*nx->insts));
    nx->hash = calloc(nx->hash_cap, sizeof(*nx->hash));
    nx->removals = calloc(nx->n_insts, sizeof(*nx->removals));
    if (!nx->insts || !nx->hash || !nx->removals)
        return NSC_ERR_NOMEM;
    size_t n = 0;
    for (size_t gi = 0; gi < groups->n_groups; gi++) {
        const struct group_rec *r = &groups->groups[gi];
        for (size_t k = 0; k < r->n_instances; k++) {
            const struct instance_rec *in = &r->instances[k];
            size_t s = gs_slot(nx->hash, nx->hash_cap, nx->insts, in->provider_id);
            if (nx->hash[s]) {
                gs_err(err, err_len, "instance %s is listed by groups %s and %s",
                       in->provider_id, nx->groups[nx->insts[nx->hash[s] - 1].group].id, r->id);
                return NSC_ERR_INVALID;
            }
            struct gs_inst *it = &nx->insts[n];
            it->provider_id = strdup(in->provider_id);
            if (!it->provider_id)
                return NSC_ERR_NOMEM;
            n++;
            it->group = gi;
            it->state = in->state;
            it->error_class = in->error_class;
            it->error_message = in->error_message ? in->error_message : in->error_code;
            const struct gs_inst *old = gs_find_inst(g, in->provider_id);
            /* An instance that moved to another group starts afresh there. */
            if (old && strcmp(g->groups[old->group].id, r->id) == 0) {
                it->unregistered_since_ms = old->unregistered_since_ms;
                it->error_noted = old->error_noted;
                it->timeout_noted = old->timeout_noted;
            }
            nx->hash[s] = (uint32_t)n;
        }
    }
    return 0;
}

static void
gs_count_nodes(const struct gstate *g, const struct gstate_node *nodes, size_t n_nodes,
               int64_t now_ms, struct gs_next *nx)
{
    for (size_t i = 0; i < n_nodes; i++) {
        const struct gstate_node *n = &nodes[i];
        enum gs_bucket b = gs_classify(g, n, now_ms);
        struct gs_group *gr = NULL;
        if (n->provider_id && n->provider_id[0] && nx->hash_cap) {
            size_t s = gs_slot(nx->hash, nx->hash_cap, nx->insts, n->provider_id);
            if (nx->hash[s]) {
                struct gs_inst *it = &nx->insts[nx->hash[s] - 1];
                it->has_node = true;
                gr = &nx->groups[it->group];
                /* evict already took it out of the target: it is not capacity. */
                if (it->state == NSC_INSTANCE_DELETING)
                    b = GS_DELETING;
            }
        }
        nx->totals.n_nodes++;
        size_t *tc = b == GS_READY         ? &nx->totals.n_ready
                     : b == GS_NOT_STARTED ? &nx->totals.n_not_started
                     : b == GS_UNREADY     ? &nx->totals.n_unready
                                           : &nx->totals.n_deleting;
        (*tc)++;
        if (gr) {
            size_t *gc = b == GS_READY         ? &gr->n_ready
                         : b == GS_NOT_STARTED ? &gr->n_not_started
                         : b == GS_UNREADY     ? &gr->n_unready
                                               : &gr->n_deleting;
            (*gc)++;
        }
    }
}

static const char *
gs_class_reason(enum nsc_error_class c)
{
    return c == NSC_ERROR_CLASS_OUT_OF_RESOURCES ? "out-of-resources" : "other";
}

static bool
gs_failed(const struct gs_inst *it)
{
    return !it->has_node && it->state == NSC_INSTANCE_CREATING &&
           it->error_class != NSC_ERROR_CLASS_NONE;
}

/* Failed and long-unregistered instances: back-off once per instance, counts. */
static int
gs_judge_instances(const struct gstate *g, struct gs_next *nx, int64_t now_ms)
{
    for (size_t i = 0; i < nx->n_insts; i++) {
        struct gs_inst *it = &nx->insts[i];
        struct gs_group *gr = &nx->groups[it->group];
        if (it->has_node || it->state == NSC_INSTANCE_DELETING) {
            it->unregistered_since_ms = 0;
            it->timeout_noted = it->error_noted = false;
            continue;
        }
        if (gs_failed(it)) {
            gr->n_failed++;
            if (!it->error_noted) {
                /* Room past the limit, so that gs_message_copy makes the cut. */
                char msg[2 * GSTATE_MESSAGE_MAX];
                snprintf(msg, sizeof(msg), "instance %s: %s", it->provider_id,
                         it->error_message ? it->error_message : "creation failed");
                if (gs_backoff(&g->o, gr, gs_class_reason(it->error_class), msg, now_ms) < 0)
                    return NSC_ERR_NOMEM;
                it->error_noted = true;
            }
            continue;
        }
        if (it->unregistered_since_ms == 0 || it->unregistered_since_ms > now_ms)
            it->unregistered_since_ms = now_ms;
        if (now_ms - it->unregistered_since_ms < g->o.max_node_provision_time_ms) {
            gr->n_unregistered++;
            continue;
        }
        gr->n_long_unregistered++;
        if (!it->timeout_noted) {
            char msg[GSTATE_MESSAGE_MAX + 1];
            snprintf(msg, sizeof(msg), "instance %s: no node registered after %lld s",
                     it->provider_id, (long long)(g->o.max_node_provision_time_ms / 1000));
            if (gs_backoff(&g->o, gr, "timeout", msg, now_ms) < 0)
                return NSC_ERR_NOMEM;
            it->timeout_noted = true;
        }
    }
    return 0;
}

/* Removal list: failed instances first (surely dead), then long-unregistered ones, at most
 * target - min per group, as Go does unless --force-delete-unregistered-nodes. */
static void
gs_list_removals(struct gs_next *nx)
{
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < nx->n_insts; i++) {
            struct gs_inst *it = &nx->insts[i];
            struct gs_group *gr = &nx->groups[it->group];
            bool failed = gs_failed(it);
            bool timeout = !failed && !it->has_node && it->state != NSC_INSTANCE_DELETING &&
                           it->timeout_noted;
            if (pass == 0 ? !failed : !timeout)
                continue;
            if ((int64_t)gr->target_size - gr->min_size - (int64_t)gr->n_removals <= 0)
                continue;
            gr->n_removals++;
            struct gstate_removal *rm = &nx->removals[nx->n_removals++];
            rm->group_id = gr->id;
            rm->provider_id = it->provider_id;
            rm->reason = failed ? gs_class_reason(it->error_class) : "timeout";
        }
}

static int
gs_finish_groups(const struct gstate *g, struct gs_next *nx, int64_t now_ms)
{
    for (size_t i = 0; i < nx->n_groups; i++) {
        struct gs_group *gr = &nx->groups[i];
        int64_t live = (int64_t)(gr->n_ready + gr->n_unready + gr->n_not_started);
        /* As the Go autoscaler: a node still starting takes no pod yet, so it stays an
         * upcoming node; counted as capacity, its pods would ask for a second machine. */
        int64_t started = (int64_t)(gr->n_ready + gr->n_unready);
        int64_t raw = (int64_t)gr->target_size - started - (int64_t)gr->n_long_unregistered -
                      (int64_t)gr->n_failed;
        if (gr->request_active) {
            if (live >= gr->request_to || raw <= 0) {
                gr->request_active = false;
            } else if (now_ms - gr->request_at_ms >= g->o.max_node_provision_time_ms) {
                char msg[GSTATE_MESSAGE_MAX + 1];
                snprintf(msg, sizeof(msg), "scale-up to %d: %lld nodes registered after %lld s",
                         (int)gr->request_to, (long long)live,
                         (long long)(g->o.max_node_provision_time_ms / 1000));
                if (gs_backoff(&g->o, gr, "timeout", msg, now_ms) < 0)
                    return NSC_ERR_NOMEM;
                gr->request_active = false;
                gr->request_expired = true;
            }
        }
        if (raw <= 0)
            gr->request_expired = false;
        /* After a timed-out scale-up only instances the backend shows are still coming. */
        if (gr->request_expired && raw > (int64_t)gr->n_unregistered)
            raw = (int64_t)gr->n_unregistered;
        int64_t cap = (int64_t)gr->max_size - started;
        if (raw > cap)
            raw = cap;
        gr->upcoming = raw > 0 ? (int32_t)raw : 0;
    }
    return 0;
}

static void
gs_drop_stale_backoff(const struct gstate *g, struct gs_next *nx, int64_t now_ms)
{
    for (size_t i = 0; i < nx->n_groups; i++) {
        struct gs_group *gr = &nx->groups[i];
        if (gr->backoff_ms > 0 && now_ms - gr->last_failed_ms >= g->o.backoff_reset_timeout_ms)
            gs_backoff_clear(gr);
    }
}

int
gstate_update(struct gstate *g, const struct group_set *groups, const struct gstate_node *nodes,
              size_t n_nodes, int64_t now_ms, char *err, size_t err_len)
{
    struct gs_next nx;
    memset(&nx, 0, sizeof(nx));
    char msg[256] = "";
    int rc = gs_check_input(groups, nodes, n_nodes, now_ms, &nx.n_insts, msg, sizeof(msg));
    if (rc < 0)
        goto fail;
    rc = gs_build_groups(g, groups, &nx, msg, sizeof(msg));
    if (rc < 0)
        goto fail;
    rc = gs_build_insts(g, groups, &nx, msg, sizeof(msg));
    if (rc < 0)
        goto fail;
    gs_drop_stale_backoff(g, &nx, now_ms);
    gs_count_nodes(g, nodes, n_nodes, now_ms, &nx);
    rc = gs_judge_instances(g, &nx, now_ms);
    if (rc == 0)
        rc = gs_finish_groups(g, &nx, now_ms);
    if (rc < 0)
        goto fail;
    gs_list_removals(&nx);
    for (size_t i = 0; i < nx.n_insts; i++)
        nx.insts[i].error_message = NULL; /* borrowed from the caller's set */
    gs_free_tables(g->groups, g->n_groups, g->by_id, g->insts, g->n_insts, g->hash,
                   g->removals);
    g->groups = nx.groups;
    g->n_groups = nx.n_groups;
    g->by_id = nx.by_id;
    g->insts = nx.insts;
    g->n_insts = nx.n_insts;
    g->hash = nx.hash;
    g->hash_cap = nx.hash_cap;
    g->removals = nx.removals;
    g->n_removals = nx.n_removals;
    g->totals = nx.totals;
    g->valid = true;
    g->fail[0] = '\0';
    return 0;
fail:
    if (rc == NSC_ERR_NOMEM)
        snprintf(msg, sizeof(msg), "out of memory");
    gs_err(err, err_len, "%s", msg);
    snprintf(g->fail, sizeof(g->fail), "group state not updated: %s", msg);
    g->valid = false;
    gs_free_tables(nx.groups, nx.n_groups, nx.by_id, nx.insts, nx.n_insts, nx.hash,
                   nx.removals);
    return rc;
}

/* ---- queries ---- */

int32_t
gstate_upcoming(const struct gstate *g, size_t i)
{
    return i < g->n_groups ? g->groups[i].upcoming : 0;
}

bool
gstate_backed_off(const struct gstate *g, const char *group_id, int64_t now_ms,
                  const char **reason, int64_t *until_ms)
{
    long i = gstate_find(g, group_id);
    bool on = i >= 0 && gs_is_backed_off(&g->groups[i], now_ms);
    if (reason)
        *reason = on ? g->groups[i].backoff_reason : NULL;
    if (until_ms)
        *until_ms = on ? g->groups[i].backoff_until_ms : 0;
    return on;
}

int
gstate_note_failure(struct gstate *g, const char *group_id, const char *reason,
                    const char *message, int64_t now_ms)
{
    long i = gstate_find(g, group_id);
    if (i < 0)
        return NSC_ERR_NOT_FOUND;
    if (!reason || !reason[0] || now_ms < 0 || now_ms > GS_NOW_MAX)
        return NSC_ERR_INVALID;
    return gs_backoff(&g->o, &g->groups[i], reason, message, now_ms);
}

int
gstate_note_transient(struct gstate *g, const char *group_id, const char *message,
                      int64_t now_ms, bool *backed_off)
{
    long i = gstate_find(g, group_id);

    *backed_off = false;
    if (i < 0)
        return NSC_ERR_NOT_FOUND;
    if (now_ms < 0 || now_ms > GS_NOW_MAX)
        return NSC_ERR_INVALID;
    struct gs_group *gr = &g->groups[i];
    if (++gr->n_transient < GSTATE_TRANSIENT_BEFORE_BACKOFF)
        return 0;
    gr->n_transient = 0;
    *backed_off = true;
    return gs_backoff(&g->o, gr, "resize", message, now_ms);
}

int
gstate_note_scale_up(struct gstate *g, const char *group_id, int32_t from, int32_t to,
                     int64_t now_ms)
{
    long i = gstate_find(g, group_id);
    if (i < 0)
        return NSC_ERR_NOT_FOUND;
    if (from < 0 || to <= from || now_ms < 0 || now_ms > GS_NOW_MAX)
        return NSC_ERR_INVALID;
    struct gs_group *gr = &g->groups[i];
    /* Like Go's registerOrUpdateScaleUp, a second scale-up before the first finished
     * restarts the provision clock for the whole request. */
    gr->request_active = true;
    gr->request_expired = false;
    gr->n_transient = 0;
    gr->request_to = to;
    gr->request_at_ms = now_ms;
    gr->last_scale_up_ms = now_ms;
    if (now_ms > g->last_scale_up_ms)
        g->last_scale_up_ms = now_ms;
    return 0;
}

int64_t
gstate_last_scale_up_ms(const struct gstate *g)
{
    return g->last_scale_up_ms;
}

const struct gstate_removal *
gstate_removals(const struct gstate *g, size_t *n)
{
    *n = g->n_removals;
    return g->removals;
}

int
gstate_group_view(const struct gstate *g, size_t i, int64_t now_ms, struct gstate_group_view *v)
{
    memset(v, 0, sizeof(*v));
    if (i >= g->n_groups)
        return NSC_ERR_INVALID;
    const struct gs_group *gr = &g->groups[i];
    v->group_id = gr->id;
    v->min_size = gr->min_size;
    v->max_size = gr->max_size;
    v->target_size = gr->target_size;
    v->n_ready = gr->n_ready;
    v->n_unready = gr->n_unready;
    v->n_not_started = gr->n_not_started;
    v->n_deleting = gr->n_deleting;
    v->n_registered = gr->n_ready + gr->n_unready + gr->n_not_started + gr->n_deleting;
    v->n_unregistered = gr->n_unregistered;
    v->n_long_unregistered = gr->n_long_unregistered;
    v->n_failed = gr->n_failed;
    v->n_upcoming = gr->upcoming;
    v->backed_off = gs_is_backed_off(gr, now_ms);
    if (v->backed_off) {
        v->backoff_reason = gr->backoff_reason;
        v->backoff_message = gr->backoff_message;
        v->backoff_until_ms = gr->backoff_until_ms;
    }
    v->last_scale_up_ms = gr->last_scale_up_ms;
    v->scale_up_in_progress = gr->request_active;
    return 0;
}

void
gstate_totals(const struct gstate *g, struct gstate_totals *t)
{
    *t = g->totals;
    t->n_long_unregistered = 0;
    for (size_t i = 0; i < g->n_groups; i++)
        t->n_long_unregistered += g->groups[i].n_long_unregistered;
}

bool
gstate_cluster_healthy(const struct gstate *g, char *why, size_t why_len)
{
    if (!g->valid) {
        gs_err(why, why_len, "%s", g->fail);
        return false;
    }
    size_t unready = g->totals.n_unready, total = g->totals.n_nodes;
    /* Go's IsClusterHealthy, in the same floating-point form so the boundaries agree. */
    bool unhealthy =
        (int64_t)unready > g->o.ok_total_unready_count &&
        (double)unready > g->o.max_total_unready_percentage / 100.0 * (double)total;
    gs_err(why, why_len, "%zu of %zu nodes unready (%s than %lld and %g%%)", unready, total,
           unhealthy ? "more" : "not more", (long long)g->o.ok_total_unready_count,
           g->o.max_total_unready_percentage);
    return !unhealthy;
}
