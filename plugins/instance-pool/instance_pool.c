/* The instance-pool backend: every standalone Exoscale Instance Pool of the zone (or the
 * ones named) is a node group, for self-managed clusters. SKS-managed pools are left to
 * the sks backend, since the API refuses to scale them directly. */
#include "config.h"

#include "backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pools=a,b (and repeated pool=NAME) restrict the backend to those pools. */
static int
pool_configure(struct nsc_backend *b, const struct nsc_option *opts, size_t n_opts, char *err,
               size_t err_len)
{
    size_t i;

    for (i = 0; i < n_opts; i++) {
        char *copy, *tok, *save = NULL;

        if (opts[i].key == NULL || opts[i].value == NULL ||
            (strcmp(opts[i].key, "pools") != 0 && strcmp(opts[i].key, "pool") != 0))
            continue;
        copy = strdup(opts[i].value);
        if (copy == NULL)
            return NSC_ERR_NOMEM;
        for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            char **grown = realloc(b->pool_names, (b->n_pool_names + 1) * sizeof(char *));

            if (grown == NULL) {
                free(copy);
                return NSC_ERR_NOMEM;
            }
            b->pool_names = grown;
            b->pool_names[b->n_pool_names] = strdup(tok);
            if (b->pool_names[b->n_pool_names] == NULL) {
                free(copy);
                return NSC_ERR_NOMEM;
            }
            b->n_pool_names++;
        }
        free(copy);
        if (b->n_pool_names == 0) {
            snprintf(err, err_len, "--backend-opt %s=\"%s\": no pool name in it", opts[i].key,
                     opts[i].value);
            return NSC_ERR_INVALID;
        }
    }
    return NSC_OK;
}

static bool
pool_wanted(const struct nsc_backend *b, const struct exo_pool *p, bool *named)
{
    size_t i;

    *named = false;
    if (b->n_pool_names == 0)
        return true;
    for (i = 0; i < b->n_pool_names; i++) {
        if (strcmp(b->pool_names[i], p->id) == 0 ||
            (p->name != NULL && strcmp(b->pool_names[i], p->name) == 0)) {
            *named = true;
            return true;
        }
    }
    return false;
}

static int
pool_discover(struct nsc_backend *b, struct exo_group **out, size_t *n_out)
{
    json_t *j = NULL, *arr, *v;
    struct exo_group *gs;
    char err[256];
    size_t i, n = 0;
    int rc;

    *out = NULL;
    *n_out = 0;
    rc = exo_call(&b->client, "GET", "/instance-pool", NULL, NULL, EXO_RETRY_IDEMPOTENT, &j);
    if (rc < 0)
        return exo_fail(b, rc, "%s", b->client.err);
    arr = json_object_get(j, "instance-pools");
    if (!json_is_array(arr)) {
        json_decref(j);
        return exo_fail(b, NSC_ERR_INTERNAL,
                        "list-instance-pools: no \"instance-pools\" array");
    }
    gs = calloc(json_array_size(arr) + 1, sizeof(*gs));
    if (gs == NULL) {
        json_decref(j);
        return exo_fail(b, NSC_ERR_NOMEM, "out of memory");
    }
    json_array_foreach(arr, i, v)
    {
        struct exo_pool p;
        struct exo_group *g = &gs[n];
        bool named;

        if (exo_parse_pool(v, &p, err, sizeof(err)) < 0) {
            b->host->log(b->host, NSC_LOG_WARNING, "list-instance-pools: skipping an entry: %s",
                         err);
            continue;
        }
        if (!pool_wanted(b, &p, &named) || p.manager_type != NULL) {
            if (named)
                b->host->log(b->host, NSC_LOG_WARNING,
                             "instance pool %s is managed by %s %s; "
                             "use the sks backend for it",
                             p.id, p.manager_type, p.manager_id ? p.manager_id : "");
            exo_pool_clear(&p);
            continue;
        }
        g->id = p.id;
        g->name = p.name;
        g->cloud_state = p.state;
        g->type_id = p.type_id;
        g->size = p.size;
        g->size_problem = p.size_problem;
        g->disk_gib = p.disk_size_gib;
        p.id = p.name = p.state = p.type_id = p.size_problem = NULL;
        g->pool_id = strdup(g->id);
        exo_pool_clear(&p);
        n++;
        if (g->pool_id == NULL) {
            while (n > 0)
                exo_group_clear(&gs[--n]);
            free(gs);
            json_decref(j);
            return exo_fail(b, NSC_ERR_NOMEM, "out of memory");
        }
    }
    json_decref(j);
    for (i = 0; i < b->n_pool_names; i++) {
        size_t k;
        bool seen = false;

        for (k = 0; k < n; k++)
            seen = seen || strcmp(gs[k].id, b->pool_names[i]) == 0 ||
                   (gs[k].name && strcmp(gs[k].name, b->pool_names[i]) == 0);
        if (!seen)
            b->host->log(b->host, NSC_LOG_WARNING,
                         "pools=%s: no standalone instance pool of "
                         "that name or ID in zone %s",
                         b->pool_names[i], b->client.cfg.zone);
    }
    *out = gs;
    *n_out = n;
    return NSC_OK;
}

static char *
pool_action_path(struct nsc_backend *b, const struct exo_group *g, const char *verb)
{
    size_t len = strlen(g->pool_id) + strlen(verb) + 24;
    char *p = malloc(len);

    (void)b;
    if (p != NULL)
        snprintf(p, len, "/instance-pool/%s:%s", g->pool_id, verb);
    return p;
}

static const char *const pool_option_keys[] = {"pools", "pool", NULL};

static const struct exo_kind pool_kind = {
    "instance-pool", "scale-instance-pool", "evict-instance-pool-members",
    pool_discover,   pool_action_path,      NULL,
    pool_configure,  pool_option_keys,
};

static int
pool_create(const struct nsc_host *host, const struct nsc_option *opts, size_t n_opts,
            struct nsc_backend **out, char *errbuf, size_t errbuf_len)
{
    return exo_backend_create(&pool_kind, host, opts, n_opts, out, errbuf, errbuf_len);
}

static const struct nsc_backend_ops pool_ops = {
    NSC_BACKEND_HEADER("instance-pool", PACKAGE_VERSION),
    pool_create,
    exo_backend_destroy,
    exo_backend_refresh,
    exo_backend_node_groups,
    exo_backend_group_instances,
    exo_backend_resize,
    exo_backend_evict,
    exo_backend_last_error,
    exo_backend_group_for_node,
};

NSC_EXPORT const struct nsc_backend_ops *
nsc_backend_entry_v1(void)
{
    return &pool_ops;
}
