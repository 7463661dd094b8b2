/* The operations shared by the sks and instance-pool backends: a cached view refreshed
 * with one list call per loop (groups re-read only when stale or changed), operations
 * tracked across loops instead of waited for, and evictions that never remove another
 * instance than the ones named. */
#include "config.h"

#include "backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROVIDER_PREFIX "exoscale://"
/* egoscale v3 / python-exoscale poll schedule: 3 s for 30 s, then growing to 60 s at 15 min. */
#define OP_POLL_FIRST_MS 3000
#define OP_DEADLINE_MS (15 * 60 * 1000)
#define OP_MAX_POLL_ERRORS 5
/* A failed scale-up stays visible this long (or until the next resize of the group). */
#define FAIL_REPORT_MS (10 * 60 * 1000)
#define DEFAULT_MAX_UNLIMITED 100

int
exo_fail(struct nsc_backend *b, int status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(b->last_error, sizeof(b->last_error), fmt, ap);
    va_end(ap);
    return status;
}

static int64_t
mono(const struct nsc_backend *b)
{
    return b->host->monotonic_ms(b->host);
}

/* ---- groups ---- */

static void
free_strv(char **v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void
group_clear_op(struct exo_group *g)
{
    free(g->op_id);
    g->op_id = NULL;
    free_strv(g->evicting, g->n_evicting);
    g->evicting = NULL;
    g->n_evicting = 0;
    g->op_errors = 0;
}

static void
group_clear_fail(struct exo_group *g)
{
    free(g->fail_code);
    free(g->fail_message);
    free(g->fail_op_id);
    g->fail_code = g->fail_message = g->fail_op_id = NULL;
    free(g->fail_gone);
    g->fail_gone = NULL;
    g->fail_missing = 0;
    g->fail_class = NSC_ERROR_CLASS_NONE;
}

void
exo_group_clear(struct exo_group *g)
{
    size_t i;

    free(g->id);
    free(g->name);
    free(g->pool_id);
    free(g->cloud_state);
    free(g->size_problem);
    free(g->type_id);
    json_decref(g->labels);
    json_decref(g->taints);
    free(g->template_json);
    for (i = 0; i < g->n_members; i++)
        free(g->members[i].id);
    free(g->members);
    group_clear_op(g);
    group_clear_fail(g);
    memset(g, 0, sizeof(*g));
}

static void
groups_free(struct exo_group *gs, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        exo_group_clear(&gs[i]);
    free(gs);
}

static struct exo_group *
group_find(struct nsc_backend *b, const char *id)
{
    size_t i;

    for (i = 0; i < b->n_groups; i++) {
        if (strcmp(b->groups[i].id, id) == 0)
            return &b->groups[i];
    }
    return NULL;
}

/* Members that still count towards the pool's size: the ones on their way out do not. */
static int32_t
group_live_members(const struct exo_group *g)
{
    int32_t n = 0;
    size_t i;

    for (i = 0; i < g->n_members && n < INT32_MAX; i++) {
        enum exo_istate st = g->members[i].state;

        n += st != EXO_ISTATE_DESTROYING && st != EXO_ISTATE_DESTROYED &&
             st != EXO_ISTATE_EXPUNGING;
    }
    return n;
}

/* The target we report: while our operation runs, the size we asked for. A group whose
 * size the cloud did not give is reported at the members it has, so that it is seen;
 * it is never resized. */
static int32_t
group_target(const struct exo_group *g)
{
    if (g->op_id != NULL)
        return g->op_target;
    if (g->size < 0)
        return group_live_members(g);
    return g->size > INT32_MAX ? INT32_MAX : (int32_t)g->size;
}

/* ---- options ---- */

int
exo_parse_nodes_spec(const char *text, struct exo_nodes_spec *spec, char *err, size_t err_len)
{
    const char *c1 = strchr(text, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    char *end;
    long mn, mx;

    memset(spec, 0, sizeof(*spec));
    if (c1 == NULL || c2 == NULL || c2[1] == '\0') {
        snprintf(err, err_len,
                 "nodes=\"%s\": expected MIN:MAX:NAME (as --nodes of the Go "
                 "cluster-autoscaler)",
                 text);
        return NSC_ERR_INVALID;
    }
    mn = strtol(text, &end, 10);
    if (end != c1 || c1 == text || mn < 0 || mn > INT32_MAX) {
        snprintf(err, err_len, "nodes=\"%s\": MIN is not a non-negative integer", text);
        return NSC_ERR_INVALID;
    }
    mx = strtol(c1 + 1, &end, 10);
    if (end != c2 || c2 == c1 + 1 || mx < 0 || mx > INT32_MAX) {
        snprintf(err, err_len, "nodes=\"%s\": MAX is not a non-negative integer", text);
        return NSC_ERR_INVALID;
    }
    if (mx < mn || mx == 0) {
        snprintf(err, err_len, "nodes=\"%s\": MAX must be at least MIN and at least 1", text);
        return NSC_ERR_INVALID;
    }
    spec->min = (int32_t)mn;
    spec->max = (int32_t)mx;
    spec->name = strdup(c2 + 1);
    return spec->name ? NSC_OK : NSC_ERR_NOMEM;
}

static int
opt_int(const struct nsc_host *host, const char *key, int64_t lo, int64_t hi, int64_t *val,
        char *err, size_t err_len)
{
    const char *v = host->option(host, key, NULL);
    char *end;
    long long n;

    if (v == NULL)
        return NSC_OK;
    n = strtoll(v, &end, 10);
    if (*v == '\0' || *end != '\0' || n < lo || n > hi) {
        snprintf(err, err_len, "--backend-opt %s=\"%s\": expected an integer from %lld to %lld",
                 key, v, (long long)lo, (long long)hi);
        return NSC_ERR_INVALID;
    }
    *val = n;
    return NSC_OK;
}

/* The keys every Exoscale backend reads (config.c and exo_backend_create). */
static const char *const shared_option_keys[] = {"api-key",
                                                 "api-key-file",
                                                 "api-secret",
                                                 "api-secret-file",
                                                 "zone",
                                                 "api-endpoint",
                                                 "api-environment",
                                                 "ca-file",
                                                 "nodes",
                                                 "default-min",
                                                 "default-max",
                                                 "group-refresh-interval-s",
                                                 "quota-refresh-interval-s",
                                                 "operation-poll-interval-ms",
                                                 "max-pods",
                                                 "reserved-cpu-m",
                                                 "reserved-memory-mib",
                                                 "retries",
                                                 "retry-base-ms",
                                                 "retry-budget-ms",
                                                 "request-timeout-ms",
                                                 NULL};

static bool
key_in(const char *const *keys, const char *key)
{
    size_t i;

    for (i = 0; keys != NULL && keys[i] != NULL; i++) {
        if (strcmp(keys[i], key) == 0)
            return true;
    }
    return false;
}

/* A misspelt key (retry-budget instead of retry-budget-ms) must not leave a default in
 * place unnoticed. */
static int
check_option_keys(const struct exo_kind *kind, const struct nsc_option *opts, size_t n_opts,
                  char *errbuf, size_t errbuf_len)
{
    size_t i, k;
    int n;

    for (i = 0; i < n_opts; i++) {
        const char *key = opts[i].key ? opts[i].key : "";

        if (key_in(shared_option_keys, key) || key_in(kind->option_keys, key))
            continue;
        n = snprintf(errbuf, errbuf_len,
                     "unknown option --backend-opt %s (the %s backend takes", key, kind->name);
        for (k = 0; kind->option_keys != NULL && kind->option_keys[k] != NULL; k++) {
            if (n >= 0 && (size_t)n < errbuf_len)
                n += snprintf(errbuf + n, errbuf_len - (size_t)n, " %s", kind->option_keys[k]);
        }
        if (n >= 0 && (size_t)n < errbuf_len)
            snprintf(errbuf + n, errbuf_len - (size_t)n,
                     "%s the Exoscale options listed in plugins/README.md)",
                     kind->option_keys != NULL && kind->option_keys[0] != NULL ? " and" : "");
        return NSC_ERR_INVALID;
    }
    return NSC_OK;
}

int
exo_backend_create(const struct exo_kind *kind, const struct nsc_host *host,
                   const struct nsc_option *opts, size_t n_opts, struct nsc_backend **out,
                   char *errbuf, size_t errbuf_len)
{
    struct nsc_backend *b;
    struct exo_config cfg;
    int64_t v;
    size_t i;
    int rc;

    *out = NULL;
    rc = check_option_keys(kind, opts, n_opts, errbuf, errbuf_len);
    if (rc < 0)
        return rc;
    b = calloc(1, sizeof(*b));
    if (b == NULL) {
        snprintf(errbuf, errbuf_len, "out of memory");
        return NSC_ERR_NOMEM;
    }
    b->host = host;
    b->kind = kind;
    rc = exo_config_load(host, &cfg, errbuf, errbuf_len);
    if (rc < 0) {
        free(b);
        return rc;
    }
    exo_client_init(&b->client, host, &cfg);
    b->default_min = 1;
    b->default_max = DEFAULT_MAX_UNLIMITED;
    b->group_ttl_ms = 30000;
    b->quota_ttl_ms = 3600000;
    b->max_pods = 110;
    v = b->default_min;
    if ((rc = opt_int(host, "default-min", 0, INT32_MAX, &v, errbuf, errbuf_len)) < 0)
        goto fail;
    b->default_min = (int32_t)v;
    v = b->default_max;
    if ((rc = opt_int(host, "default-max", 1, INT32_MAX, &v, errbuf, errbuf_len)) < 0)
        goto fail;
    b->default_max = (int32_t)v;
    v = b->group_ttl_ms / 1000;
    if ((rc = opt_int(host, "group-refresh-interval-s", 0, 86400, &v, errbuf, errbuf_len)) < 0)
        goto fail;
    b->group_ttl_ms = v * 1000;
    v = b->quota_ttl_ms / 1000;
    if ((rc = opt_int(host, "quota-refresh-interval-s", 0, 86400 * 7, &v, errbuf, errbuf_len)) <
        0)
        goto fail;
    b->quota_ttl_ms = v * 1000;
    v = OP_POLL_FIRST_MS;
    if ((rc = opt_int(host, "operation-poll-interval-ms", 10, 60000, &v, errbuf, errbuf_len)) <
        0)
        goto fail;
    b->op_poll_ms = v;
    v = b->max_pods;
    if ((rc = opt_int(host, "max-pods", 1, 100000, &v, errbuf, errbuf_len)) < 0)
        goto fail;
    b->max_pods = (int32_t)v;
    if ((rc = opt_int(host, "reserved-cpu-m", 0, 1000000, &b->reserved_cpu_m, errbuf,
                      errbuf_len)) < 0)
        goto fail;
    v = 0;
    if ((rc = opt_int(host, "reserved-memory-mib", 0, 1 << 30, &v, errbuf, errbuf_len)) < 0)
        goto fail;
    b->reserved_memory_bytes = v * 1024 * 1024;
    v = b->client.max_retries;
    if ((rc = opt_int(host, "retries", 0, 10, &v, errbuf, errbuf_len)) < 0)
        goto fail;
    b->client.max_retries = (int)v;
    /* A call ends within request-timeout-ms + retry-budget-ms; both are kept to minutes so
     * that one call cannot hold the control loop for long. */
    if ((rc = opt_int(host, "retry-base-ms", 1, 60000, &b->client.retry_base_ms, errbuf,
                      errbuf_len)) < 0 ||
        (rc = opt_int(host, "retry-budget-ms", 0, 120000, &b->client.retry_budget_ms, errbuf,
                      errbuf_len)) < 0)
        goto fail;
    v = b->client.timeout_ms;
    if ((rc = opt_int(host, "request-timeout-ms", 100, 120000, &v, errbuf, errbuf_len)) < 0)
        goto fail;
    b->client.timeout_ms = (uint32_t)v;
    for (i = 0; i < n_opts; i++) {
        struct exo_nodes_spec *grown;

        if (opts[i].key == NULL || strcmp(opts[i].key, "nodes") != 0)
            continue;
        grown = realloc(b->specs, (b->n_specs + 1) * sizeof(*b->specs));
        if (grown == NULL) {
            rc = NSC_ERR_NOMEM;
            goto fail;
        }
        b->specs = grown;
        rc = exo_parse_nodes_spec(opts[i].value ? opts[i].value : "", &b->specs[b->n_specs],
                                  errbuf, errbuf_len);
        if (rc < 0)
            goto fail;
        b->n_specs++;
    }
    if (kind->configure != NULL &&
        (rc = kind->configure(b, opts, n_opts, errbuf, errbuf_len)) < 0)
        goto fail;
    *out = b;
    return NSC_OK;
fail:
    exo_backend_destroy(b);
    return rc;
}

void
exo_backend_destroy(struct nsc_backend *b)
{
    size_t i;

    if (b == NULL)
        return;
    exo_client_clear(&b->client);
    for (i = 0; i < b->n_specs; i++)
        free(b->specs[i].name);
    free(b->specs);
    free(b->cluster_opt);
    free(b->cluster_id);
    free_strv(b->pool_names, b->n_pool_names);
    groups_free(b->groups, b->n_groups);
    for (i = 0; i < b->n_types; i++)
        exo_itype_clear(&b->types[i]);
    free(b->types);
    free_strv(b->not_ours, b->n_not_ours);
    free(b);
}

const char *
exo_backend_last_error(struct nsc_backend *b)
{
    return b->last_error;
}

/* ---- refresh ---- */

/* list-instances of every pool member in the zone: the one call made on every loop. */
static int
list_members(struct nsc_backend *b, struct exo_instance **out, size_t *n_out)
{
    json_t *j = NULL, *arr, *v;
    struct exo_instance *ins;
    char err[256];
    size_t i, n = 0;
    int rc;

    *out = NULL;
    *n_out = 0;
    rc = exo_call(&b->client, "GET", "/instance", "manager-type=instance-pool", NULL,
                  EXO_RETRY_IDEMPOTENT, &j);
    if (rc < 0)
        return exo_fail(b, rc, "listing instances: %s", b->client.err);
    arr = json_object_get(j, "instances");
    if (!json_is_array(arr)) {
        json_decref(j);
        return exo_fail(b, NSC_ERR_INTERNAL,
                        "list-instances: answer has no \"instances\" array");
    }
    ins = calloc(json_array_size(arr) + 1, sizeof(*ins));
    if (ins == NULL) {
        json_decref(j);
        return exo_fail(b, NSC_ERR_NOMEM, "out of memory");
    }
    json_array_foreach(arr, i, v)
    {
        rc = exo_parse_instance(v, &ins[n], err, sizeof(err));
        if (rc == NSC_ERR_NOMEM) {
            json_decref(j);
            while (n > 0)
                exo_instance_clear(&ins[--n]);
            free(ins);
            return exo_fail(b, rc, "out of memory");
        }
        /* One odd instance must not hide all the others. */
        if (rc < 0) {
            b->host->log(b->host, NSC_LOG_WARNING, "list-instances: skipping an entry: %s",
                         err);
            continue;
        }
        n++;
    }
    json_decref(j);
    *out = ins;
    *n_out = n;
    return NSC_OK;
}

static void
free_instances(struct exo_instance *ins, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        exo_instance_clear(&ins[i]);
    free(ins);
}

/* Attach the listed instances to the groups owning their pools. */
static int
attach_members(struct nsc_backend *b, struct exo_group *gs, size_t n_gs,
               struct exo_instance *ins, size_t n_ins)
{
    size_t i, k;

    for (k = 0; k < n_gs; k++) {
        struct exo_group *g = &gs[k];
        size_t cnt = 0;

        for (i = 0; i < g->n_members; i++)
            free(g->members[i].id);
        free(g->members);
        g->members = NULL;
        g->n_members = 0;
        for (i = 0; i < n_ins; i++) {
            if (ins[i].manager_id != NULL && strcmp(ins[i].manager_id, g->pool_id) == 0)
                cnt++;
        }
        if (cnt == 0)
            continue;
        g->members = calloc(cnt, sizeof(*g->members));
        if (g->members == NULL)
            return exo_fail(b, NSC_ERR_NOMEM, "out of memory");
        for (i = 0; i < n_ins; i++) {
            if (ins[i].manager_id == NULL || strcmp(ins[i].manager_id, g->pool_id) != 0)
                continue;
            g->members[g->n_members].id = strdup(ins[i].id);
            if (g->members[g->n_members].id == NULL)
                return exo_fail(b, NSC_ERR_NOMEM, "out of memory");
            g->members[g->n_members].state = ins[i].state;
            g->n_members++;
        }
    }
    return NSC_OK;
}

/* True when the membership no longer matches the sizes we hold: someone (or an
 * operation) changed a pool, so the group objects must be read again. */
static bool
membership_changed(const struct nsc_backend *b, const struct exo_instance *ins, size_t n_ins)
{
    size_t i, k;

    for (k = 0; k < b->n_groups; k++) {
        const struct exo_group *g = &b->groups[k];
        int64_t cnt = 0;

        for (i = 0; i < n_ins; i++) {
            if (ins[i].manager_id != NULL && strcmp(ins[i].manager_id, g->pool_id) == 0)
                cnt++;
        }
        if (cnt != g->size)
            return true;
    }
    return false;
}

/* Carry what we know about our operations from the old view to the new one. */
static void
carry_state(struct nsc_backend *b, struct exo_group *gs, size_t n_gs)
{
    size_t i;

    for (i = 0; i < n_gs; i++) {
        struct exo_group *old = group_find(b, gs[i].id);

        if (old == NULL)
            continue;
        gs[i].op_id = old->op_id;
        gs[i].op_evict = old->op_evict;
        gs[i].op_target = old->op_target;
        gs[i].op_started_ms = old->op_started_ms;
        gs[i].op_next_poll_ms = old->op_next_poll_ms;
        gs[i].op_errors = old->op_errors;
        gs[i].evicting = old->evicting;
        gs[i].n_evicting = old->n_evicting;
        gs[i].fail_code = old->fail_code;
        gs[i].fail_message = old->fail_message;
        gs[i].fail_class = old->fail_class;
        gs[i].fail_missing = old->fail_missing;
        gs[i].fail_gone = old->fail_gone;
        gs[i].fail_at_ms = old->fail_at_ms;
        gs[i].fail_op_id = old->fail_op_id;
        gs[i].min_lowered = old->min_lowered;
        gs[i].min_floor = old->min_floor;
        old->op_id = NULL;
        old->evicting = NULL;
        old->n_evicting = 0;
        old->fail_code = old->fail_message = old->fail_op_id = NULL;
        old->fail_gone = NULL;
    }
    for (i = 0; i < b->n_groups; i++) {
        size_t k;
        bool kept = false;

        for (k = 0; k < n_gs; k++)
            kept = kept || strcmp(gs[k].id, b->groups[i].id) == 0;
        if (!kept)
            b->host->log(b->host, NSC_LOG_INFO, "node group %s (%s) no longer exists",
                         b->groups[i].id, b->groups[i].name ? b->groups[i].name : "");
    }
}

static const struct exo_itype *
type_find(const struct nsc_backend *b, const char *id)
{
    size_t i;

    for (i = 0; id != NULL && i < b->n_types; i++) {
        if (strcmp(b->types[i].id, id) == 0)
            return &b->types[i];
    }
    return NULL;
}

/* Instance types never change: each is fetched once. A failure leaves the group without
 * a template (it then cannot scale from zero) rather than failing the refresh. */
static void
fetch_types(struct nsc_backend *b)
{
    size_t i;

    for (i = 0; i < b->n_groups; i++) {
        const char *id = b->groups[i].type_id;
        struct exo_itype *grown;
        char path[96], err[256];
        json_t *j = NULL;
        int rc;

        if (id == NULL || type_find(b, id) != NULL)
            continue;
        if (!exo_is_uuid(id)) {
            b->host->log(b->host, NSC_LOG_WARNING,
                         "group %s: instance type id '%s' is not a UUID", b->groups[i].id, id);
            continue;
        }
        snprintf(path, sizeof(path), "/instance-type/%s", id);
        rc = exo_call(&b->client, "GET", path, NULL, NULL, EXO_RETRY_IDEMPOTENT, &j);
        if (rc < 0) {
            b->host->log(b->host, NSC_LOG_WARNING,
                         "group %s: no template node (cannot scale from zero): %s",
                         b->groups[i].id, b->client.err);
            continue;
        }
        grown = realloc(b->types, (b->n_types + 1) * sizeof(*b->types));
        if (grown == NULL) {
            json_decref(j);
            return;
        }
        b->types = grown;
        if (exo_parse_itype(j, &b->types[b->n_types], err, sizeof(err)) == NSC_OK)
            b->n_types++;
        else
            b->host->log(b->host, NSC_LOG_WARNING, "group %s: %s", b->groups[i].id, err);
        json_decref(j);
    }
}

static const struct exo_nodes_spec *
spec_find(struct nsc_backend *b, const struct exo_group *g)
{
    size_t i;

    for (i = 0; i < b->n_specs; i++) {
        if ((g->name != NULL && strcmp(b->specs[i].name, g->name) == 0) ||
            strcmp(b->specs[i].name, g->id) == 0 ||
            (g->pool_id != NULL && strcmp(b->specs[i].name, g->pool_id) == 0)) {
            b->specs[i].matched = true;
            return &b->specs[i];
        }
    }
    return NULL;
}

/* The instance quota bounds every group without a configured max; cached for an hour. */
static void
fetch_quota(struct nsc_backend *b)
{
    size_t i;
    bool needed = false;
    json_t *j = NULL;
    char err[256];
    struct exo_quota q;

    for (i = 0; i < b->n_groups; i++)
        needed = needed || spec_find(b, &b->groups[i]) == NULL;
    if (!needed || (b->have_quota && mono(b) - b->quota_at_ms < b->quota_ttl_ms))
        return;
    if (exo_call(&b->client, "GET", "/quota/instance", NULL, NULL, EXO_RETRY_IDEMPOTENT, &j) <
        0) {
        b->host->log(b->host, NSC_LOG_WARNING, "instance quota unknown (%s); %s", b->client.err,
                     b->have_quota ? "keeping the last value" : "using default-max");
        return;
    }
    if (exo_parse_quota(j, &q, err, sizeof(err)) == NSC_OK) {
        b->quota = q;
        b->have_quota = true;
        b->quota_at_ms = mono(b);
    } else {
        b->host->log(b->host, NSC_LOG_WARNING, "get-quota: %s", err);
    }
    json_decref(j);
}

static void
set_limits(struct nsc_backend *b, struct exo_group *g)
{
    const struct exo_nodes_spec *s = spec_find(b, g);
    int32_t target = group_target(g);
    int32_t mn, mx;

    if (s != NULL) {
        mn = s->min;
        mx = s->max;
    } else {
        mn = b->default_min;
        /* Once reported below the default min, a group keeps that min: otherwise a pool
         * grown from 0 would report min 1 and could never be brought back to 0. */
        if (g->min_lowered && g->min_floor < mn)
            mn = g->min_floor;
        /* A quota of -1 means unlimited: not a max of -1 (a fault of the Go provider). */
        if (b->have_quota && b->quota.limit >= 0)
            mx = b->quota.limit > INT32_MAX ? INT32_MAX : (int32_t)b->quota.limit;
        else
            mx = b->default_max;
        if (mx < 1)
            mx = 1;
    }
    /* The ABI wants min <= target <= max; a group outside its limits is reported with
     * the limit moved to its size, and the core never moves it further out. */
    if (target < mn) {
        b->host->log(b->host, NSC_LOG_DEBUG, "group %s: size %d below min %d; reporting min %d",
                     g->id, target, mn, target);
        mn = target;
        if (s == NULL) {
            g->min_lowered = true;
            g->min_floor = target;
        }
    }
    if (target > mx) {
        b->host->log(b->host, NSC_LOG_WARNING,
                     "group %s: size %d above max %d; reporting max %d", g->id, target, mx,
                     target);
        mx = target;
    }
    if (mn > mx)
        mn = mx;
    g->min_size = mn;
    g->max_size = mx;
}

static bool
says_quota(const char *a, const char *b2)
{
    const char *texts[2] = {a, b2};
    int i;

    for (i = 0; i < 2; i++) {
        if (texts[i] != NULL && (strstr(texts[i], "quota") || strstr(texts[i], "Quota") ||
                                 strstr(texts[i], "capacity")))
            return true;
    }
    return false;
}

static void op_failed(struct nsc_backend *b, struct exo_group *g, const char *code,
                      const char *fmt, ...) NSC_PRINTF(4, 5);

static void
op_failed(struct nsc_backend *b, struct exo_group *g, const char *code, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    int32_t members = 0;
    size_t i;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    b->host->log(b->host, NSC_LOG_ERROR, "group %s: %s", g->id, msg);
    group_clear_fail(g);
    g->fail_code = strdup(code);
    g->fail_message = strdup(msg);
    g->fail_op_id = g->op_id ? strdup(g->op_id) : NULL;
    g->fail_class =
        says_quota(msg, code) ? NSC_ERROR_CLASS_OUT_OF_RESOURCES : NSC_ERROR_CLASS_OTHER;
    for (i = 0; i < g->n_members; i++)
        members += g->members[i].state != EXO_ISTATE_DESTROYING;
    g->fail_missing = (!g->op_evict && g->op_target > members) ? g->op_target - members : 0;
    g->fail_at_ms = mono(b);
}

/* Poll the group's operation when due, on the egoscale schedule. */
static void
poll_op(struct nsc_backend *b, struct exo_group *g)
{
    int64_t now = mono(b), elapsed = now - g->op_started_ms, interval_ms;
    struct exo_operation op;
    char path[96], err[256];
    const char *what = g->op_evict ? b->kind->evict_op : b->kind->scale_op;
    json_t *j = NULL;
    int rc;

    if (now < g->op_next_poll_ms)
        return;
    snprintf(path, sizeof(path), "/operation/%s", g->op_id);
    rc = exo_call(&b->client, "GET", path, NULL, NULL, EXO_RETRY_IDEMPOTENT, &j);
    if (rc == NSC_OK && exo_parse_operation(j, &op, err, sizeof(err)) == NSC_OK) {
        json_decref(j);
        if (op.state == EXO_OP_SUCCESS) {
            b->host->log(b->host, NSC_LOG_INFO, "group %s: %s to %d done (operation %s)", g->id,
                         what, g->op_target, g->op_id);
            group_clear_op(g);
            b->dirty = true;
        } else if (op.state == EXO_OP_PENDING) {
            g->op_errors = 0;
            if (elapsed > OP_DEADLINE_MS) {
                op_failed(b, g, "OPERATION_TIMEOUT",
                          "%s to %d: operation %s still pending after %d minutes", what,
                          g->op_target, g->op_id, OP_DEADLINE_MS / 60000);
                group_clear_op(g);
                b->dirty = true;
            }
        } else {
            op_failed(
                b, g, op.state == EXO_OP_TIMEOUT ? "OPERATION_TIMEOUT" : "OPERATION_FAILED",
                "%s to %d failed: operation %s %s%s%s%s%s%s", what, g->op_target, g->op_id,
                op.state_text, op.reason ? " (" : "", op.reason ? op.reason : "",
                op.reason ? ")" : "", op.message ? ": " : "", op.message ? op.message : "");
            if (g->fail_class == NSC_ERROR_CLASS_OUT_OF_RESOURCES) {
                free(g->fail_code);
                g->fail_code = strdup("QUOTA_EXCEEDED");
            }
            group_clear_op(g);
            b->dirty = true;
        }
        exo_operation_clear(&op);
    } else {
        json_decref(j);
        if (rc == NSC_ERR_NOT_FOUND) {
            b->host->log(b->host, NSC_LOG_WARNING, "group %s: operation %s is gone; re-reading",
                         g->id, g->op_id);
            group_clear_op(g);
            b->dirty = true;
            return;
        }
        if (++g->op_errors >= OP_MAX_POLL_ERRORS) {
            op_failed(b, g, "OPERATION_UNKNOWN",
                      "%s to %d: operation %s could not be read %d "
                      "times: %s",
                      what, g->op_target, g->op_id, g->op_errors,
                      rc == NSC_OK ? err : b->client.err);
            group_clear_op(g);
            b->dirty = true;
            return;
        }
    }
    if (g->op_id != NULL) {
        if (elapsed <= 30000)
            interval_ms = b->op_poll_ms;
        else
            interval_ms = b->op_poll_ms + (57 * (elapsed - 30000)) / 870;
        if (interval_ms > 60000)
            interval_ms = 60000;
        g->op_next_poll_ms = now + interval_ms;
    }
}

int
exo_backend_refresh(struct nsc_backend *b)
{
    uint64_t calls0 = b->client.stats.n_calls;
    struct exo_instance *ins = NULL;
    struct exo_group *gs = NULL;
    size_t n_ins = 0, n_gs = 0, i;
    bool pending = false;
    int rc;

    b->last_error[0] = '\0';
    for (i = 0; i < b->n_groups; i++) {
        if (b->groups[i].op_id != NULL) {
            poll_op(b, &b->groups[i]);
            pending = pending || b->groups[i].op_id != NULL;
        }
    }
    rc = list_members(b, &ins, &n_ins);
    if (rc < 0)
        goto done;
    if (!b->have_view || b->dirty || pending || mono(b) - b->groups_at_ms >= b->group_ttl_ms ||
        membership_changed(b, ins, n_ins)) {
        rc = b->kind->discover(b, &gs, &n_gs);
        if (rc < 0)
            goto done;
        carry_state(b, gs, n_gs);
        groups_free(b->groups, b->n_groups);
        b->groups = gs;
        b->n_groups = n_gs;
        gs = NULL;
        b->groups_at_ms = mono(b);
        b->dirty = false;
        b->have_view = true;
    }
    rc = attach_members(b, b->groups, b->n_groups, ins, n_ins);
    if (rc < 0)
        goto done;
    fetch_types(b);
    fetch_quota(b);
    for (i = 0; i < b->n_groups; i++) {
        struct exo_group *g = &b->groups[i];

        if (g->size_problem != NULL && g->op_id == NULL)
            b->host->log(b->host, NSC_LOG_WARNING, "group %s: will not be resized: %s", g->id,
                         g->size_problem);
        set_limits(b, g);
        free(g->template_json);
        g->template_json = exo_template_node(b, g, type_find(b, g->type_id));
        if (g->fail_code != NULL && mono(b) - g->fail_at_ms > FAIL_REPORT_MS)
            group_clear_fail(g);
    }
    for (i = 0; i < b->n_specs; i++) {
        if (!b->specs[i].matched)
            b->host->log(b->host, NSC_LOG_WARNING, "nodes=%d:%d:%s matches no node group",
                         b->specs[i].min, b->specs[i].max, b->specs[i].name);
    }
done:
    free_instances(ins, n_ins);
    b->last_refresh_calls = b->client.stats.n_calls - calls0;
    return rc;
}

/* ---- reading the view ---- */

static int emit_group(struct nsc_backend *b, const struct exo_group *g,
                      const struct nsc_sink *sink);

int
exo_backend_node_groups(struct nsc_backend *b, const struct nsc_sink *sink)
{
    size_t i;
    int rc;

    for (i = 0; i < b->n_groups; i++) {
        rc = emit_group(b, &b->groups[i], sink);
        if (rc < 0)
            return rc;
    }
    return NSC_OK;
}

static bool
is_evicting(const struct exo_group *g, const char *id)
{
    size_t i;

    for (i = 0; i < g->n_evicting; i++) {
        if (strcmp(g->evicting[i], id) == 0)
            return true;
    }
    return false;
}

static void
map_state(const struct exo_group *g, const struct exo_member *m, struct nsc_instance *rec)
{
    rec->error_class = NSC_ERROR_CLASS_NONE;
    switch (m->state) {
    case EXO_ISTATE_STARTING:
        rec->state = NSC_INSTANCE_CREATING;
        break;
    case EXO_ISTATE_RUNNING:
    case EXO_ISTATE_MIGRATING:
        rec->state = NSC_INSTANCE_RUNNING;
        break;
    case EXO_ISTATE_STOPPING:
    case EXO_ISTATE_DESTROYING:
    case EXO_ISTATE_DESTROYED:
    case EXO_ISTATE_EXPUNGING:
        rec->state = NSC_INSTANCE_DELETING;
        break;
    case EXO_ISTATE_STOPPED:
        rec->state = NSC_INSTANCE_UNKNOWN;
        rec->error_class = NSC_ERROR_CLASS_OTHER;
        rec->error_code = "INSTANCE_STOPPED";
        rec->error_message = "the instance is stopped";
        break;
    case EXO_ISTATE_ERROR:
        rec->state = NSC_INSTANCE_UNKNOWN;
        rec->error_class = NSC_ERROR_CLASS_OTHER;
        rec->error_code = "INSTANCE_ERROR";
        rec->error_message = "the instance is in state error";
        break;
    default:
        /* A state this code does not know yet: existing, not ready, no verdict. */
        rec->state = NSC_INSTANCE_UNKNOWN;
        break;
    }
    if (is_evicting(g, m->id) && rec->state != NSC_INSTANCE_DELETING) {
        rec->state = NSC_INSTANCE_DELETING;
        rec->error_class = NSC_ERROR_CLASS_NONE;
        rec->error_code = NULL;
        rec->error_message = NULL;
    }
}

/* The provider ID of the k-th machine a failed scale-up did not make. */
static void
standin_id(const struct exo_group *g, int32_t k, char *buf, size_t len)
{
    snprintf(buf, len, PROVIDER_PREFIX "placeholder-%.40s-%d", g->id, (int)k);
}

/* The index of a stand-in of g still reported, or -1 when pid is none. */
static int32_t
standin_index(const struct exo_group *g, const char *pid)
{
    char want[128];
    int32_t k;

    for (k = 0; k < g->fail_missing; k++) {
        if (g->fail_gone != NULL && g->fail_gone[k])
            continue;
        standin_id(g, k, want, sizeof(want));
        if (strcmp(want, pid) == 0)
            return k;
    }
    return -1;
}

int
exo_backend_group_instances(struct nsc_backend *b, const char *group_id,
                            const struct nsc_sink *sink)
{
    const struct exo_group *g = group_find(b, group_id);
    char pid[128];
    int32_t k;
    size_t i;
    int rc;

    if (g == NULL)
        return exo_fail(b, NSC_ERR_NOT_FOUND, "no node group %s", group_id);
    for (i = 0; i < g->n_members; i++) {
        struct nsc_instance rec;

        memset(&rec, 0, sizeof(rec));
        rec.struct_size = (uint32_t)sizeof(rec);
        snprintf(pid, sizeof(pid), PROVIDER_PREFIX "%s", g->members[i].id);
        rec.provider_id = pid;
        map_state(g, &g->members[i], &rec);
        rc = sink->instance(sink, &rec);
        if (rc < 0)
            return exo_fail(b, rc, "the core refused instance %s", pid);
    }
    /* A failed scale-up: the instances that were never created, with the reason. */
    for (k = 0; k < g->fail_missing; k++) {
        struct nsc_instance rec;

        if (g->fail_gone != NULL && g->fail_gone[k])
            continue;
        memset(&rec, 0, sizeof(rec));
        rec.struct_size = (uint32_t)sizeof(rec);
        standin_id(g, k, pid, sizeof(pid));
        rec.provider_id = pid;
        rec.state = NSC_INSTANCE_CREATING;
        rec.error_class = g->fail_class;
        rec.error_code = g->fail_code;
        rec.error_message = g->fail_message;
        rc = sink->instance(sink, &rec);
        if (rc < 0)
            return exo_fail(b, rc, "the core refused instance %s", pid);
    }
    return NSC_OK;
}

/* ---- actions ---- */

static int
start_op(struct nsc_backend *b, struct exo_group *g, json_t *answer, bool evict, int32_t target)
{
    struct exo_operation op;
    char err[256];

    if (exo_parse_operation(answer, &op, err, sizeof(err)) < 0)
        return exo_fail(b, NSC_ERR_INTERNAL,
                        "group %s: %s accepted but its answer is not an "
                        "operation: %s",
                        g->id, evict ? b->kind->evict_op : b->kind->scale_op, err);
    group_clear_op(g);
    group_clear_fail(g);
    g->op_id = op.id;
    op.id = NULL;
    g->op_evict = evict;
    g->op_target = target;
    g->op_started_ms = mono(b);
    g->op_next_poll_ms = g->op_started_ms + b->op_poll_ms;
    b->dirty = true;
    if (op.state == EXO_OP_FAILURE || op.state == EXO_OP_TIMEOUT) {
        op_failed(b, g, "OPERATION_FAILED", "%s to %d failed at once: %s",
                  evict ? b->kind->evict_op : b->kind->scale_op, target,
                  op.message ? op.message : op.state_text);
        group_clear_op(g);
    }
    exo_operation_clear(&op);
    return NSC_OK;
}

static int
busy(struct nsc_backend *b, const struct exo_group *g)
{
    return exo_fail(b, NSC_ERR_TRANSIENT,
                    "group %s: operation %s (%s to %d) is still running; "
                    "the next refresh reports its end",
                    g->id, g->op_id, g->op_evict ? b->kind->evict_op : b->kind->scale_op,
                    g->op_target);
}

/* Read the group's instance pool again (its size and state follow the nodepool's for
 * sks too): after a :scale whose answer was lost, it tells whether the scale was
 * applied. */
static int
reread_pool(struct nsc_backend *b, const struct exo_group *g, struct exo_pool *p)
{
    char path[96], err[256];
    json_t *j = NULL;
    int rc;

    memset(p, 0, sizeof(*p));
    snprintf(path, sizeof(path), "/instance-pool/%s", g->pool_id);
    rc = exo_call(&b->client, "GET", path, NULL, NULL, EXO_RETRY_IDEMPOTENT, &j);
    if (rc < 0)
        return exo_fail(b, rc, "%s", b->client.err);
    rc = exo_parse_pool(j, p, err, sizeof(err));
    json_decref(j);
    if (rc < 0)
        return exo_fail(b, rc, "%s", err);
    if (p->size_problem != NULL) {
        rc = exo_fail(b, NSC_ERR_INTERNAL, "%s", p->size_problem);
        exo_pool_clear(p);
    }
    return rc;
}

/* True when an answer may hide an applied :scale: no answer, a 5xx, or a 2xx whose body
 * could not be read. */
static bool
scale_outcome_unknown(const struct exo_client *c, int rc)
{
    long s = c->last_status;

    if (s == 0)
        return rc == NSC_ERR_TRANSIENT;
    return (s >= 500 && s < 600 && s != 501) || (s >= 200 && s < 300);
}

/* Send :scale to target. The size is absolute, so a resend after a lost answer cannot
 * overshoot, but it can undo what happened meanwhile: each resend follows a read of the
 * pool that shows the first send was not applied. One bound covers sends, reads and
 * waits. Returns NSC_OK with *j the operation, or NSC_OK with *j NULL when a re-read
 * showed the scale applied. */
static int
scale_send(struct nsc_backend *b, struct exo_group *g, int32_t target, json_t **j)
{
    struct exo_client *c = &b->client;
    char body[64], first_err[EXO_ERR_LEN] = "", *path;
    int64_t deadline = mono(b) + (int64_t)c->timeout_ms + c->retry_budget_ms;
    int rc, send;

    *j = NULL;
    path = b->kind->action_path(b, g, "scale");
    if (path == NULL)
        return exo_fail(b, NSC_ERR_NOMEM, "out of memory");
    snprintf(body, sizeof(body), "{\"size\":%d}", target);
    c->deadline_ms = deadline;
    for (send = 0;; send++) {
        struct exo_pool p;
        int64_t delay;

        rc = exo_call(c, "PUT", path, NULL, body, EXO_RETRY_REFUSED, j);
        if (rc == NSC_OK)
            break;
        if (first_err[0] == '\0')
            snprintf(first_err, sizeof(first_err), "%s", c->err);
        if (!scale_outcome_unknown(c, rc)) {
            rc = exo_fail(b, rc, "group %s: %s to %d: %s", g->id, b->kind->scale_op, target,
                          c->err);
            break;
        }
        json_decref(*j);
        *j = NULL;
        if (reread_pool(b, g, &p) < 0) {
            char why[EXO_ERR_LEN];

            snprintf(why, sizeof(why), "%s", b->last_error);
            rc = exo_fail(b, NSC_ERR_TRANSIENT,
                          "group %s: %s to %d: %s; and instance pool %s could not be "
                          "re-read to see whether it was applied: %s",
                          g->id, b->kind->scale_op, target, first_err, g->pool_id, why);
            break;
        }
        /* Scaling up now, and not before our send: the operation is ours, under way. */
        if (p.size == target ||
            (p.size < target && send == 0 && p.state != NULL &&
             strcmp(p.state, "scaling-up") == 0 &&
             (g->cloud_state == NULL || strncmp(g->cloud_state, "scaling", 7) != 0))) {
            b->host->log(b->host, NSC_LOG_WARNING,
                         "group %s: %s to %d answered badly (%s) but instance pool %s is "
                         "at size %lld (%s): taken as applied",
                         g->id, b->kind->scale_op, target, first_err, g->pool_id,
                         (long long)p.size, p.state ? p.state : "");
            exo_pool_clear(&p);
            rc = NSC_OK;
            break;
        }
        if (p.size > target) {
            rc = exo_fail(b, NSC_ERR_INVALID,
                          "group %s: %s to %d: %s; instance pool %s is now at %lld, above "
                          "the target: not sent again (it would shrink the pool)",
                          g->id, b->kind->scale_op, target, first_err, g->pool_id,
                          (long long)p.size);
            exo_pool_clear(&p);
            break;
        }
        exo_pool_clear(&p);
        delay = exo_backoff_ms(c, send, NULL, 0);
        if (send >= c->max_retries || mono(b) + delay + EXO_MIN_ATTEMPT_MS > deadline) {
            rc = exo_fail(b, NSC_ERR_TRANSIENT,
                          "group %s: %s to %d: %s; the pool shows it was not applied, and "
                          "%s",
                          g->id, b->kind->scale_op, target, first_err,
                          send >= c->max_retries ? "the retries are used up"
                                                 : "the call's time is used up");
            break;
        }
        b->host->log(b->host, NSC_LOG_WARNING,
                     "group %s: %s to %d failed (%s) and was not applied; sending again "
                     "in %lld ms",
                     g->id, b->kind->scale_op, target, c->err, (long long)delay);
        c->sleep(c->sleep_ctx, delay);
    }
    c->deadline_ms = 0;
    free(path);
    return rc;
}

int
exo_backend_resize(struct nsc_backend *b, const char *group_id, int32_t target)
{
    struct exo_group *g = group_find(b, group_id);
    json_t *j = NULL;
    int32_t cur, live;
    int rc;

    b->last_error[0] = '\0';
    if (g == NULL)
        return exo_fail(b, NSC_ERR_NOT_FOUND, "no node group %s", group_id);
    cur = group_target(g);
    live = group_live_members(g);
    if (target < g->min_size || target > g->max_size)
        return exo_fail(b, NSC_ERR_INVALID, "group %s: target %d is outside [%d, %d]", g->id,
                        target, g->min_size, g->max_size);
    /* Without the cloud's own size, "one more" has no base: a guess of 0 once sent
     * size=1 to a pool of 2 and the cloud deleted a running node. */
    if (g->size_problem != NULL && g->op_id == NULL)
        return exo_fail(b, NSC_ERR_INVALID, "group %s: not resized: %s", g->id,
                        g->size_problem);
    if (target == cur)
        return NSC_OK;
    /* A smaller :scale lets Exoscale choose which instances die; only evict removes
     * nodes, and only those the core drained. */
    if (target < cur)
        return exo_fail(b, NSC_ERR_INVALID,
                        "group %s: will not shrink from %d to %d with %s "
                        "(the cloud would pick the victims); nodes are removed with evict",
                        g->id, cur, target, b->kind->scale_op);
    if (target < live)
        return exo_fail(b, NSC_ERR_INVALID,
                        "group %s: will not send %s to %d: the last listing shows %d "
                        "members (the cloud would pick the victims)",
                        g->id, b->kind->scale_op, target, live);
    if (g->op_id != NULL)
        return busy(b, g);
    rc = scale_send(b, g, target, &j);
    if (rc < 0)
        return rc;
    if (j == NULL) {
        /* Applied, operation unknown: the next refresh reads the group again. */
        group_clear_fail(g);
        g->size = target;
        b->dirty = true;
        return NSC_OK;
    }
    rc = start_op(b, g, j, false, target);
    json_decref(j);
    if (rc == NSC_OK)
        b->host->log(b->host, NSC_LOG_INFO,
                     "group %s: %s from %d to %d accepted (operation %s)", g->id,
                     b->kind->scale_op, cur, target, g->op_id ? g->op_id : "-");
    return rc;
}

static bool
has_member(const struct exo_pool *p, const char *id)
{
    size_t i;

    for (i = 0; i < p->n_members; i++) {
        if (strcmp(p->member_ids[i], id) == 0)
            return true;
    }
    return false;
}

static char *
evict_body(const char *const *ids, size_t n)
{
    json_t *arr = json_array(), *o;
    char *s;
    size_t i;

    for (i = 0; i < n; i++)
        json_array_append_new(arr, json_string(ids[i]));
    o = json_pack("{s:o}", "instances", arr);
    s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* After an evict whose answer was lost or refused with a transient status, read the
 * pool again: the ids still members are the ones left to evict. */
static int
reread_members(struct nsc_backend *b, const struct exo_group *g, const char *const *ids,
               size_t n, const char **left, size_t *n_left)
{
    struct exo_pool p;
    char path[96], err[256];
    json_t *j = NULL;
    size_t i;
    int rc;

    snprintf(path, sizeof(path), "/instance-pool/%s", g->pool_id);
    rc = exo_call(&b->client, "GET", path, NULL, NULL, EXO_RETRY_IDEMPOTENT, &j);
    if (rc < 0)
        return rc;
    rc = exo_parse_pool(j, &p, err, sizeof(err));
    json_decref(j);
    if (rc < 0)
        return exo_fail(b, rc, "re-reading instance pool %s: %s", g->pool_id, err);
    *n_left = 0;
    for (i = 0; i < n; i++) {
        if (has_member(&p, ids[i]))
            left[(*n_left)++] = ids[i];
    }
    exo_pool_clear(&p);
    return NSC_OK;
}

int
exo_backend_evict(struct nsc_backend *b, const char *group_id, const char *const *provider_ids,
                  size_t n_ids)
{
    struct exo_group *g = group_find(b, group_id);
    const char **ids = NULL, **left = NULL;
    char *path = NULL, *body = NULL, first_err[EXO_ERR_LEN];
    json_t *j = NULL;
    size_t i, k, n_left = 0, n_standins = 0;
    int32_t cur, *standins = NULL;
    int rc, attempt;

    b->last_error[0] = '\0';
    if (g == NULL)
        return exo_fail(b, NSC_ERR_NOT_FOUND, "no node group %s", group_id);
    if (n_ids == 0)
        return NSC_OK;
    ids = calloc(n_ids, sizeof(*ids));
    left = calloc(n_ids, sizeof(*left));
    standins = calloc(n_ids, sizeof(*standins));
    if (ids == NULL || left == NULL || standins == NULL) {
        rc = exo_fail(b, NSC_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (i = 0; i < n_ids; i++) {
        const char *pid = provider_ids[i];
        bool member = false;
        int32_t si;

        if (pid == NULL || strncmp(pid, PROVIDER_PREFIX, strlen(PROVIDER_PREFIX)) != 0) {
            rc =
                exo_fail(b, NSC_ERR_INVALID, "group %s: '%s' is not an exoscale:// provider ID",
                         g->id, pid ? pid : "(null)");
            goto done;
        }
        for (k = 0; k < i; k++) {
            if (strcmp(provider_ids[k], pid) == 0) {
                rc = exo_fail(b, NSC_ERR_INVALID, "group %s: %s is named twice", g->id, pid);
                goto done;
            }
        }
        /* A stand-in for a machine a failed scale-up never made: the cloud has nothing
         * to remove, so it is forgotten here and reported no more. */
        si = standin_index(g, pid);
        if (si >= 0) {
            standins[n_standins++] = si;
            continue;
        }
        ids[i - n_standins] = pid + strlen(PROVIDER_PREFIX);
        for (k = 0; k < g->n_members; k++)
            member = member || strcmp(g->members[k].id, ids[i - n_standins]) == 0;
        if (!member) {
            rc = exo_fail(b, NSC_ERR_INVALID, "group %s: %s is not one of its instances", g->id,
                          pid);
            goto done;
        }
    }
    if (n_standins > 0) {
        if (g->fail_gone == NULL)
            g->fail_gone = calloc((size_t)g->fail_missing, sizeof(*g->fail_gone));
        if (g->fail_gone == NULL) {
            rc = exo_fail(b, NSC_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (k = 0; k < n_standins; k++)
            g->fail_gone[standins[k]] = true;
        b->host->log(b->host, NSC_LOG_INFO,
                     "group %s: %zu stand-in(s) for machines never made dropped; the cloud "
                     "has nothing to remove for them",
                     g->id, n_standins);
        n_ids -= n_standins;
        if (n_ids == 0) {
            rc = NSC_OK;
            goto done;
        }
    }
    cur = group_target(g);
    if (cur - (int32_t)n_ids < g->min_size) {
        rc = exo_fail(b, NSC_ERR_INVALID, "group %s: removing %zu of %d would go below min %d",
                      g->id, n_ids, cur, g->min_size);
        goto done;
    }
    if (g->op_id != NULL) {
        rc = busy(b, g);
        goto done;
    }
    path = b->kind->action_path(b, g, "evict");
    if (path == NULL) {
        rc = exo_fail(b, NSC_ERR_NOMEM, "out of memory");
        goto done;
    }
    memcpy(left, ids, n_ids * sizeof(*ids));
    n_left = n_ids;
    first_err[0] = '\0';
    /* At most two sends, the second only for what a fresh read shows still there. */
    for (attempt = 0; attempt < 2; attempt++) {
        free(body);
        body = evict_body(left, n_left);
        if (body == NULL) {
            rc = exo_fail(b, NSC_ERR_NOMEM, "out of memory");
            goto done;
        }
        rc = exo_call(&b->client, "PUT", path, NULL, body, EXO_RETRY_NEVER, &j);
        if (rc == NSC_OK)
            break;
        if (first_err[0] == '\0')
            snprintf(first_err, sizeof(first_err), "%s", b->client.err);
        snprintf(b->last_error, sizeof(b->last_error), "%s", b->client.err);
        if (rc != NSC_ERR_TRANSIENT && rc != NSC_ERR_INTERNAL) {
            rc = exo_fail(b, rc, "group %s: %s: %s", g->id, b->kind->evict_op, b->client.err);
            goto done;
        }
        if (reread_members(b, g, ids, n_ids, left, &n_left) < 0) {
            rc = exo_fail(b, NSC_ERR_TRANSIENT,
                          "group %s: %s: %s; and the pool could not be "
                          "re-read to see what happened: %s",
                          g->id, b->kind->evict_op, first_err, b->client.err);
            goto done;
        }
        if (n_left == 0) {
            b->host->log(b->host, NSC_LOG_WARNING,
                         "group %s: %s answered badly (%s) but the "
                         "instances are gone: evicted",
                         g->id, b->kind->evict_op, first_err);
            b->dirty = true;
            rc = NSC_OK;
            goto done;
        }
        b->host->log(b->host, NSC_LOG_WARNING,
                     "group %s: %s failed (%s); %zu of %zu still "
                     "members, %s",
                     g->id, b->kind->evict_op, first_err, n_left, n_ids,
                     attempt == 0 ? "sending once more for those" : "giving up");
    }
    if (rc < 0) {
        /* last_error holds the answer to the last send (the re-read came after it). */
        char last[EXO_ERR_LEN];

        snprintf(last, sizeof(last), "%s", b->last_error);
        rc = exo_fail(b, rc, "group %s: %s: %s", g->id, b->kind->evict_op, last);
        goto done;
    }
    rc = start_op(b, g, j, true, cur - (int32_t)n_ids);
    if (rc == NSC_OK) {
        free_strv(g->evicting, g->n_evicting);
        g->evicting = calloc(n_ids, sizeof(char *));
        g->n_evicting = 0;
        for (i = 0; g->evicting != NULL && i < n_ids; i++) {
            g->evicting[i] = strdup(ids[i]);
            if (g->evicting[i] != NULL)
                g->n_evicting++;
        }
        b->host->log(b->host, NSC_LOG_INFO,
                     "group %s: %s of %zu instance(s) accepted "
                     "(operation %s)",
                     g->id, b->kind->evict_op, n_ids, g->op_id ? g->op_id : "-");
    }
done:
    json_decref(j);
    free(path);
    free(body);
    free(ids);
    free(left);
    free(standins);
    return rc;
}

/* ---- group_for_node ---- */

static bool
not_ours(const struct nsc_backend *b, const char *id)
{
    size_t i;

    for (i = 0; i < b->n_not_ours; i++) {
        if (strcmp(b->not_ours[i], id) == 0)
            return true;
    }
    return false;
}

static void
remember_not_ours(struct nsc_backend *b, const char *id)
{
    char **grown = realloc(b->not_ours, (b->n_not_ours + 1) * sizeof(char *));

    if (grown == NULL)
        return;
    b->not_ours = grown;
    b->not_ours[b->n_not_ours] = strdup(id);
    if (b->not_ours[b->n_not_ours] != NULL)
        b->n_not_ours++;
}

static int
emit_group(struct nsc_backend *b, const struct exo_group *g, const struct nsc_sink *sink)
{
    struct nsc_group rec;
    int rc;

    memset(&rec, 0, sizeof(rec));
    rec.struct_size = (uint32_t)sizeof(rec);
    rec.id = g->id;
    rec.name = g->name;
    rec.min_size = g->min_size;
    rec.max_size = g->max_size;
    rec.target_size = group_target(g);
    rec.template_node_json = g->template_json;
    rc = sink->group(sink, &rec);
    return rc < 0 ? exo_fail(b, rc, "the core refused group %s", g->id) : NSC_OK;
}

static struct exo_group *
group_by_pool(struct nsc_backend *b, const char *pool_id)
{
    size_t i;

    for (i = 0; i < b->n_groups; i++) {
        if (strcmp(b->groups[i].pool_id, pool_id) == 0)
            return &b->groups[i];
    }
    return NULL;
}

int
exo_backend_group_for_node(struct nsc_backend *b, const char *provider_id,
                           const struct nsc_sink *sink)
{
    struct exo_instance in;
    char path[96], err[256];
    const char *id;
    json_t *j = NULL;
    size_t i, k;
    int rc;

    b->last_error[0] = '\0';
    if (provider_id == NULL ||
        strncmp(provider_id, PROVIDER_PREFIX, strlen(PROVIDER_PREFIX)) != 0)
        return exo_fail(b, NSC_ERR_NOT_FOUND, "'%s' is not an Exoscale provider ID",
                        provider_id ? provider_id : "(null)");
    id = provider_id + strlen(PROVIDER_PREFIX);
    for (i = 0; i < b->n_groups; i++) {
        for (k = 0; k < b->groups[i].n_members; k++) {
            if (strcmp(b->groups[i].members[k].id, id) == 0)
                return emit_group(b, &b->groups[i], sink);
        }
    }
    if (!exo_is_uuid(id) || not_ours(b, id))
        return exo_fail(b, NSC_ERR_NOT_FOUND, "instance %s belongs to no node group", id);
    /* The manager chain, once per unknown instance: instance -> pool -> group. */
    snprintf(path, sizeof(path), "/instance/%s", id);
    rc = exo_call(&b->client, "GET", path, NULL, NULL, EXO_RETRY_IDEMPOTENT, &j);
    if (rc == NSC_ERR_NOT_FOUND) {
        remember_not_ours(b, id);
        return exo_fail(b, rc, "instance %s does not exist in zone %s", id, b->client.cfg.zone);
    }
    if (rc < 0)
        return exo_fail(b, rc, "%s", b->client.err);
    rc = exo_parse_instance(j, &in, err, sizeof(err));
    json_decref(j);
    if (rc < 0)
        return exo_fail(b, rc, "%s", err);
    rc = NSC_ERR_NOT_FOUND;
    if (in.manager_type != NULL && strcmp(in.manager_type, "instance-pool") == 0 &&
        in.manager_id != NULL) {
        struct exo_group *g = group_by_pool(b, in.manager_id);

        if (g == NULL && b->kind->adopt_pool != NULL && b->kind->adopt_pool(b, in.manager_id)) {
            b->dirty = true;
            if (exo_backend_refresh(b) == NSC_OK)
                g = group_by_pool(b, in.manager_id);
        }
        if (g != NULL)
            rc = emit_group(b, g, sink);
    }
    if (rc == NSC_ERR_NOT_FOUND) {
        remember_not_ours(b, id);
        exo_fail(b, rc, "instance %s is not managed by any node group of this backend", id);
    }
    exo_instance_clear(&in);
    return rc;
}
