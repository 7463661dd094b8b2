/* The sks backend: every nodepool of one Exoscale SKS cluster is a node group (empty ones
 * too), scaled with scale-sks-nodepool and shrunk with evict-sks-nodepool-members. */
#include "config.h"

#include "backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
sks_configure(struct nsc_backend *b, const struct nsc_option *opts, size_t n_opts, char *err,
              size_t err_len)
{
    const char *c = b->host->option(b->host, "cluster", "EXOSCALE_SKS_CLUSTER");

    (void)opts;
    (void)n_opts;
    if (c != NULL && c[0] != '\0') {
        b->cluster_opt = strdup(c);
        if (b->cluster_opt == NULL) {
            snprintf(err, err_len, "out of memory");
            return NSC_ERR_NOMEM;
        }
        if (exo_is_uuid(c)) {
            b->cluster_id = strdup(c);
            if (b->cluster_id == NULL)
                return NSC_ERR_NOMEM;
        }
    }
    return NSC_OK;
}

/* Make one group per nodepool of cluster. */
static int
sks_groups_of(struct nsc_backend *b, const struct exo_cluster *cl, struct exo_group **out,
              size_t *n_out)
{
    struct exo_group *gs = calloc(cl->n_nodepools + 1, sizeof(*gs));
    size_t i, n = 0;

    if (gs == NULL)
        return exo_fail(b, NSC_ERR_NOMEM, "out of memory");
    for (i = 0; i < cl->n_nodepools; i++) {
        const struct exo_nodepool *np = &cl->nodepools[i];
        struct exo_group *g = &gs[n];

        if (np->pool_id == NULL) {
            /* A nodepool still being created has no instance pool yet. */
            b->host->log(b->host, NSC_LOG_INFO,
                         "nodepool %s (%s) has no instance pool yet "
                         "(state %s); not a group until it has",
                         np->id, np->name ? np->name : "", np->state);
            continue;
        }
        g->id = strdup(np->id);
        g->name = np->name ? strdup(np->name) : NULL;
        g->pool_id = strdup(np->pool_id);
        g->cloud_state = strdup(np->state);
        g->type_id = np->type_id ? strdup(np->type_id) : NULL;
        g->size = np->size;
        g->size_problem = np->size_problem ? strdup(np->size_problem) : NULL;
        g->disk_gib = np->disk_size_gib;
        g->labels = json_incref(np->labels);
        g->taints = json_incref(np->taints);
        n++;
        if (g->id == NULL || g->pool_id == NULL || g->cloud_state == NULL ||
            (np->size_problem != NULL && g->size_problem == NULL)) {
            while (n > 0)
                exo_group_clear(&gs[--n]);
            free(gs);
            return exo_fail(b, NSC_ERR_NOMEM, "out of memory");
        }
        if (strcmp(np->state, "running") != 0 && strcmp(np->state, "scaling") != 0)
            b->host->log(b->host, NSC_LOG_DEBUG, "nodepool %s is %s", np->id, np->state);
    }
    *out = gs;
    *n_out = n;
    return NSC_OK;
}

/* Choose the cluster from list-sks-clusters: the one named, or the only one. */
static int
sks_pick(struct nsc_backend *b, json_t *list, struct exo_cluster *out)
{
    json_t *arr = json_object_get(list, "sks-clusters"), *v;
    char err[256], names[512] = "";
    size_t i, n_match = 0, n_all = json_array_size(arr);
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_array(arr))
        return exo_fail(b, NSC_ERR_INTERNAL, "list-sks-clusters: no \"sks-clusters\" array");
    json_array_foreach(arr, i, v)
    {
        const char *id = json_string_value(json_object_get(v, "id"));
        const char *name = json_string_value(json_object_get(v, "name"));
        bool match;

        if (strlen(names) + 64 < sizeof(names))
            snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
                     names[0] ? ", " : "", name ? name : (id ? id : "?"));
        match = b->cluster_opt ? ((id && strcmp(id, b->cluster_opt) == 0) ||
                                  (name && strcmp(name, b->cluster_opt) == 0))
                               : n_all == 1;
        if (!match)
            continue;
        if (n_match++ > 0) {
            exo_cluster_clear(out);
            return exo_fail(b, NSC_ERR_INVALID,
                            "cluster=%s names more than one SKS cluster in "
                            "zone %s; give its ID",
                            b->cluster_opt, b->client.cfg.zone);
        }
        rc = exo_parse_cluster(v, out, err, sizeof(err));
        if (rc < 0)
            return exo_fail(b, rc, "list-sks-clusters: %s", err);
    }
    if (n_match == 1)
        return NSC_OK;
    if (b->cluster_opt != NULL)
        return exo_fail(b, NSC_ERR_NOT_FOUND, "no SKS cluster '%s' in zone %s (there are: %s)",
                        b->cluster_opt, b->client.cfg.zone, names[0] ? names : "none");
    if (n_all == 0)
        return exo_fail(b, NSC_ERR_NOT_FOUND, "no SKS cluster in zone %s", b->client.cfg.zone);
    return NSC_ERR_NOT_FOUND; /* several clusters and none named: decided by the caller */
}

static int
sks_discover(struct nsc_backend *b, struct exo_group **out, size_t *n_out)
{
    struct exo_cluster cl;
    char path[96], err[256];
    json_t *j = NULL;
    int rc;

    *out = NULL;
    *n_out = 0;
    if (b->cluster_id == NULL) {
        rc = exo_call(&b->client, "GET", "/sks-cluster", NULL, NULL, EXO_RETRY_IDEMPOTENT, &j);
        if (rc < 0)
            return exo_fail(b, rc, "%s", b->client.err);
        rc = sks_pick(b, j, &cl);
        json_decref(j);
        if (rc == NSC_ERR_NOT_FOUND && b->last_error[0] == '\0') {
            /* Several clusters and none named: wait for a node of ours to show which. */
            if (!b->warned_many_clusters)
                b->host->log(b->host, NSC_LOG_WARNING,
                             "several SKS clusters in zone %s and no cluster= option: no node "
                             "groups until a node of this cluster is seen (set --backend-opt "
                             "cluster=NAME|ID to choose at once)",
                             b->client.cfg.zone);
            b->warned_many_clusters = true;
            *out = calloc(1, sizeof(struct exo_group));
            return *out ? NSC_OK : exo_fail(b, NSC_ERR_NOMEM, "out of memory");
        }
        if (rc < 0)
            return rc;
        b->cluster_id = strdup(cl.id);
        b->host->log(b->host, NSC_LOG_INFO, "SKS cluster %s (%s) with %zu nodepool(s)", cl.id,
                     cl.name ? cl.name : "", cl.n_nodepools);
    } else {
        snprintf(path, sizeof(path), "/sks-cluster/%s", b->cluster_id);
        rc = exo_call(&b->client, "GET", path, NULL, NULL, EXO_RETRY_IDEMPOTENT, &j);
        if (rc < 0)
            return exo_fail(b, rc, "%s", b->client.err);
        rc = exo_parse_cluster(j, &cl, err, sizeof(err));
        json_decref(j);
        if (rc < 0)
            return exo_fail(b, rc, "get-sks-cluster: %s", err);
    }
    rc = sks_groups_of(b, &cl, out, n_out);
    exo_cluster_clear(&cl);
    return rc;
}

static char *
sks_action_path(struct nsc_backend *b, const struct exo_group *g, const char *verb)
{
    size_t len = strlen(b->cluster_id) + strlen(g->id) + strlen(verb) + 40;
    char *p = malloc(len);

    if (p != NULL)
        snprintf(p, len, "/sks-cluster/%s/nodepool/%s:%s", b->cluster_id, g->id, verb);
    return p;
}

/* A node's pool is not one of ours: when no cluster is chosen yet, the cluster whose
 * nodepool owns that pool becomes ours. */
static bool
sks_adopt_pool(struct nsc_backend *b, const char *pool_id)
{
    json_t *j = NULL, *c, *np;
    size_t i, k;
    bool found = false;

    if (b->cluster_id != NULL)
        return false;
    if (exo_call(&b->client, "GET", "/sks-cluster", NULL, NULL, EXO_RETRY_IDEMPOTENT, &j) < 0)
        return false;
    json_array_foreach(json_object_get(j, "sks-clusters"), i, c)
    {
        json_array_foreach(json_object_get(c, "nodepools"), k, np)
        {
            const char *pid =
                json_string_value(json_object_get(json_object_get(np, "instance-pool"), "id"));
            const char *cid = json_string_value(json_object_get(c, "id"));

            if (!found && pid != NULL && cid != NULL && strcmp(pid, pool_id) == 0) {
                b->cluster_id = strdup(cid);
                found = b->cluster_id != NULL;
                if (found)
                    b->host->log(b->host, NSC_LOG_INFO,
                                 "SKS cluster %s chosen: it owns the nodes seen", cid);
            }
        }
    }
    json_decref(j);
    return found;
}

static const char *const sks_option_keys[] = {"cluster", NULL};

static const struct exo_kind sks_kind = {
    "sks",         "scale-sks-nodepool", "evict-sks-nodepool-members",
    sks_discover,  sks_action_path,      sks_adopt_pool,
    sks_configure, sks_option_keys,
};

static int
sks_create(const struct nsc_host *host, const struct nsc_option *opts, size_t n_opts,
           struct nsc_backend **out, char *errbuf, size_t errbuf_len)
{
    return exo_backend_create(&sks_kind, host, opts, n_opts, out, errbuf, errbuf_len);
}

static const struct nsc_backend_ops sks_ops = {
    NSC_BACKEND_HEADER("sks", PACKAGE_VERSION),
    sks_create,
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
    return &sks_ops;
}
