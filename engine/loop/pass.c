/* One pass: backend refreshed, cluster read (a kubectl dump, a kubeconfig or in-cluster),
 * scale-up then scale-down planned into a typed decision, and the decision applied. */
#include "config.h"

#include "loop/pass.h"

#include "log.h"
#include "loop/drain.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/sync.h"
#include "kube/writes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

const char *
loop_source(const struct nsc_config *cfg)
{
    if (cfg->cluster_snapshot != NULL)
        return cfg->cluster_snapshot;
    return cfg->kubeconfig != NULL ? cfg->kubeconfig : "in-cluster";
}

#define LOOP_PRIORITY_CONFIGMAP "cluster-autoscaler-priority-expander"
#define LOOP_PRIORITY_KEY "priorities"
#define LOOP_PRIORITY_MAX_BYTES (1u << 20) /* a ConfigMap holds at most 1 MiB */

/* The whole of a --expander-priority-config file into *out (owned). */
static int
loop_read_priority_file(const char *path, char **out, char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    char *buf = NULL;
    size_t n;
    int rc = 0;

    *out = NULL;
    if (f == NULL) {
        snprintf(err, err_len, "--expander-priority-config=%s: cannot open: %s", path,
                 strerror(errno));
        return NSC_ERR_INVALID;
    }
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        /* fopen takes a directory; only the read fails, as a bare "read error" */
        snprintf(err, err_len, "--expander-priority-config=%s: is a directory", path);
        rc = NSC_ERR_INVALID;
        goto out;
    }
    buf = malloc(LOOP_PRIORITY_MAX_BYTES + 1);
    if (buf == NULL) {
        rc = NSC_ERR_NOMEM;
        goto out;
    }
    n = fread(buf, 1, LOOP_PRIORITY_MAX_BYTES + 1, f);
    if (ferror(f) || n > LOOP_PRIORITY_MAX_BYTES || memchr(buf, '\0', n) != NULL) {
        snprintf(err, err_len, "--expander-priority-config=%s: %s", path,
                 ferror(f)                     ? "read error"
                 : n > LOOP_PRIORITY_MAX_BYTES ? "larger than 1 MiB"
                                               : "not text (holds a NUL byte)");
        rc = NSC_ERR_INVALID;
        goto out;
    }
    buf[n] = '\0';
    *out = buf;
    buf = NULL;
out:
    free(buf);
    fclose(f);
    return rc;
}

/*
 * The priority expander's configuration when the --expander chain has `priority`: the
 * --expander-priority-config file (what the `priorities` key of a mounted ConfigMap
 * holds), else that key of the ConfigMap cluster-autoscaler-priority-expander in
 * --namespace, read with kube (borrowed; NULL on a replay, where config_check already
 * demands the file). *out receives the owned text, NULL when the chain has no priority.
 * A missing or invalid configuration is an error naming where it was looked for, and the
 * line and problem.
 */
int
loop_priority_config(const struct nsc_config *cfg, struct kube_client *kube, char **out,
                     char *err, size_t err_len)
{
    char where[512], why[384] = "out of memory";
    int rc;

    *out = NULL;
    if (!config_expander_has(cfg, "priority"))
        return 0;
    if (cfg->expander_priority_config != NULL) {
        rc = loop_read_priority_file(cfg->expander_priority_config, out, err, err_len);
        if (rc < 0)
            return rc;
        snprintf(where, sizeof(where), "--expander-priority-config=%s",
                 cfg->expander_priority_config);
    } else if (kube == NULL) {
        snprintf(err, err_len, "--expander=%s needs --expander-priority-config=FILE",
                 cfg->expander);
        return NSC_ERR_INVALID;
    } else {
        struct kube_resp resp;
        char d[768];

        memset(&resp, 0, sizeof(resp));
        rc = kube_configmap_get(kube, cfg->namespace_name, LOOP_PRIORITY_CONFIGMAP,
                                LOOP_PRIORITY_KEY, out, &resp);
        if (rc == NSC_ERR_NOT_FOUND)
            snprintf(err, err_len,
                     "--expander=%s: no priority configuration: ConfigMap %s/%s does not "
                     "exist (create it with the key %s, set --namespace, or pass "
                     "--expander-priority-config=FILE)",
                     cfg->expander, cfg->namespace_name, LOOP_PRIORITY_CONFIGMAP,
                     LOOP_PRIORITY_KEY);
        else if (rc < 0)
            snprintf(err, err_len, "--expander=%s: cannot read ConfigMap %s/%s: %s",
                     cfg->expander, cfg->namespace_name, LOOP_PRIORITY_CONFIGMAP,
                     kube_resp_describe(&resp, d, sizeof(d)));
        else if (*out == NULL)
            snprintf(err, err_len,
                     "--expander=%s: ConfigMap %s/%s has no string key %s (the priority "
                     "configuration)",
                     cfg->expander, cfg->namespace_name, LOOP_PRIORITY_CONFIGMAP,
                     LOOP_PRIORITY_KEY);
        kube_resp_clear(&resp);
        if (rc < 0)
            return rc;
        if (*out == NULL)
            return NSC_ERR_INVALID;
        snprintf(where, sizeof(where), "ConfigMap %s/%s, key %s", cfg->namespace_name,
                 LOOP_PRIORITY_CONFIGMAP, LOOP_PRIORITY_KEY);
    }
    rc = scaleup_priority_check(*out, why, sizeof(why));
    if (rc < 0) {
        snprintf(err, err_len, "priority expander configuration in %s: %s", where, why);
        free(*out);
        *out = NULL;
        return rc;
    }
    log_info("priority expander configuration read from %s", where);
    return 0;
}

void
loop_kube_version(const struct nsc_config *cfg, struct kube_client *kube, struct model *m)
{
    struct kube_resp resp;
    uint32_t minor = 0;

    if (cfg->kubernetes_version != NULL) {
        if (model_kube_minor_parse(cfg->kubernetes_version, &minor) == 0)
            m->kube_minor = minor;
        return;
    }
    if (kube == NULL)
        return;
    int rc = kube_request(kube, "GET", "/version", NULL, NULL, 0, &resp);
    const char *git = json_string_value(json_object_get(resp.obj, "gitVersion"));
    if (rc < 0)
        log_warning("GET /version: %s (HTTP %ld): the newest scheduling rules are used "
                    "(--kubernetes-version sets the version)",
                    resp.message, resp.status);
    else if (model_kube_minor_parse(git, &minor) < 0)
        log_warning("GET /version: gitVersion \"%.40s\" is not 1.MINOR: the newest "
                    "scheduling rules are used (--kubernetes-version sets the version)",
                    git ? git : "(none)");
    else
        m->kube_minor = minor;
    kube_resp_clear(&resp);
}

/*
 * The cluster for one pass: the kubectl dump of --cluster-snapshot, or one paginated list
 * of every kind from the API server (--kubeconfig, else in-cluster), so that a live pass
 * and the replay of a dump of the same cluster decide alike.
 */
static int
loop_load_cluster(const struct nsc_config *cfg, struct model *m, struct model_load_stats *st,
                  char **priority_config, char *err, size_t err_len)
{
    struct kube_client_opts ko;
    struct kube_config *kc = NULL;
    struct kube_client *kube = NULL;
    int rc;

    if (cfg->cluster_snapshot != NULL) {
        rc = loop_priority_config(cfg, NULL, priority_config, err, err_len);
        loop_kube_version(cfg, NULL, m);
        return rc < 0 ? rc : model_load_file(m, cfg->cluster_snapshot, st, err, err_len);
    }
    rc = kube_config_auto(cfg->kubeconfig, cfg->kube_context, &kc, err, err_len);
    if (rc < 0)
        return rc;
    memset(&ko, 0, sizeof(ko));
    ko.qps = cfg->kube_client_qps;
    ko.burst = (int)cfg->kube_client_burst;
    ko.connect_timeout_ms = (long)cfg->kube_api_connect_timeout_ms;
    ko.timeout_ms = (long)cfg->kube_api_request_timeout_ms;
    ko.stall_timeout_ms = (long)cfg->kube_api_stall_timeout_ms;
    ko.slow_ms = (long)cfg->kube_api_slow_call_ms;
    rc = kube_client_new(kc, &ko, &kube, err, err_len);
    if (rc < 0)
        return rc;
    rc = loop_priority_config(cfg, kube, priority_config, err, err_len);
    if (rc == 0)
        loop_kube_version(cfg, kube, m);
    if (rc == 0)
        rc = kube_load_model(kube, m, st, err, err_len);
    kube_client_free(kube);
    return rc;
}

/* The NAME of a nodes=MIN:MAX:NAME value, or NULL when it has no two colons. */
static const char *
loop_nodes_name(const char *value)
{
    const char *c = value ? strchr(value, ':') : NULL;

    c = c ? strchr(c + 1, ':') : NULL;
    return c ? c + 1 : NULL;
}

/*
 * Two bounds for one group (--nodes twice, or --nodes and --backend-opt nodes=) would leave
 * the backend to pick one of them: refuse, naming both.
 */
static int
loop_nodes_unique(const struct nsc_config *cfg, char *err, size_t err_len)
{
    size_t i, j;

    for (i = 0; i < cfg->n_nodes; i++) {
        const struct config_node_group_spec *s = &cfg->nodes[i];

        for (j = 0; j < i; j++) {
            if (strcmp(cfg->nodes[j].name, s->name) == 0) {
                snprintf(err, err_len,
                         "--nodes=%lld:%lld:%s: group %s already has --nodes=%lld:%lld:%s",
                         (long long)s->min_size, (long long)s->max_size, s->name, s->name,
                         (long long)cfg->nodes[j].min_size, (long long)cfg->nodes[j].max_size,
                         s->name);
                return NSC_ERR_INVALID;
            }
        }
        for (j = 0; j < cfg->n_backend_opts; j++) {
            const struct nsc_option *o = &cfg->backend_opts[j];
            const char *name =
                o->key && strcmp(o->key, "nodes") == 0 ? loop_nodes_name(o->value) : NULL;

            if (name != NULL && strcmp(name, s->name) == 0) {
                snprintf(err, err_len,
                         "--nodes=%lld:%lld:%s: group %s already has --backend-opt nodes=%s",
                         (long long)s->min_size, (long long)s->max_size, s->name, s->name,
                         o->value);
                return NSC_ERR_INVALID;
            }
        }
    }
    return 0;
}

/*
 * The backend's options: every --backend-opt, then each --nodes=MIN:MAX:NAME as the option
 * nodes=MIN:MAX:NAME, the form the backends take group bounds in. *opts_out is owned by the
 * caller (loop_backend_opts_free); the keys and values of the --backend-opt entries are
 * borrowed from cfg.
 */
static int
loop_backend_opts(const struct nsc_config *cfg, struct nsc_option **opts_out, size_t *n_out)
{
    struct nsc_option *opts;
    size_t i, n = cfg->n_backend_opts;

    *opts_out = NULL;
    *n_out = 0;
    opts = calloc(cfg->n_backend_opts + cfg->n_nodes + 1, sizeof(*opts));
    if (opts == NULL)
        return NSC_ERR_NOMEM;
    if (cfg->n_backend_opts > 0)
        memcpy(opts, cfg->backend_opts, cfg->n_backend_opts * sizeof(*opts));
    for (i = 0; i < cfg->n_nodes; i++) {
        const struct config_node_group_spec *s = &cfg->nodes[i];
        char *v;
        int len = snprintf(NULL, 0, "%lld:%lld:%s", (long long)s->min_size,
                           (long long)s->max_size, s->name);

        v = len < 0 ? NULL : malloc((size_t)len + 1);
        if (v == NULL) {
            *opts_out = opts;
            *n_out = n;
            return NSC_ERR_NOMEM;
        }
        snprintf(v, (size_t)len + 1, "%lld:%lld:%s", (long long)s->min_size,
                 (long long)s->max_size, s->name);
        opts[n].key = "nodes";
        opts[n].value = v;
        n++;
    }
    *opts_out = opts;
    *n_out = n;
    return 0;
}

/* Frees what loop_backend_opts made: the values it built, not those borrowed from cfg. */
static void
loop_backend_opts_free(const struct nsc_config *cfg, struct nsc_option *opts, size_t n)
{
    size_t i;

    for (i = cfg->n_backend_opts; i < n; i++)
        free((char *)(uintptr_t)opts[i].value);
    free(opts);
}

int
loop_backend_open(const struct nsc_config *cfg, struct plugin **plugin_out,
                  struct backend **out, char *err, size_t err_len)
{
    struct plugin *plugin = NULL;
    struct backend *b = NULL;
    struct nsc_option *opts = NULL;
    size_t n_opts = 0;
    int rc;

    *plugin_out = NULL;
    *out = NULL;
    rc = loop_nodes_unique(cfg, err, err_len);
    if (rc < 0)
        goto out;
    rc = loop_backend_opts(cfg, &opts, &n_opts);
    if (rc < 0) {
        snprintf(err, err_len, "out of memory");
        goto out;
    }
    rc = plugin_load(cfg->backend, &plugin, err, err_len);
    if (rc < 0)
        goto out;
    log_info("loaded backend %s %s from %s", plugin_ops(plugin)->name,
             plugin_ops(plugin)->version, plugin_path(plugin));
    rc = backend_create(plugin, opts, n_opts, &b, err, err_len);
    if (rc == NSC_ERR_INVALID && cfg->n_nodes > 0 && strstr(err, "nodes") != NULL) {
        /* The backend names its option, nodes=...; say where it came from. */
        size_t used = strlen(err);

        if (used < err_len)
            snprintf(err + used, err_len - used,
                     " (--nodes=MIN:MAX:NAME reaches the backend as the option "
                     "nodes=MIN:MAX:NAME)");
    }
    if (rc < 0)
        goto out;
    *plugin_out = plugin;
    *out = b;
    plugin = NULL;
    b = NULL;
out:
    backend_destroy(b);
    plugin_unload(plugin);
    loop_backend_opts_free(cfg, opts, n_opts);
    return rc;
}

/*
 * Each --nodes NAME must be a group the backend reports, by id or by name: bounds for a
 * group that does not exist (a typo, a deleted nodepool) would otherwise be dropped
 * without a word while the group they meant scales with the backend's defaults.
 */
int
loop_check_nodes(const struct nsc_config *cfg, const struct group_set *set, char *err,
                 size_t err_len)
{
    size_t i, j, used;

    for (i = 0; i < cfg->n_nodes; i++) {
        const char *name = cfg->nodes[i].name;

        for (j = 0; j < set->n_groups; j++) {
            const struct group_rec *g = &set->groups[j];

            if (strcmp(g->id, name) == 0 || (g->name != NULL && strcmp(g->name, name) == 0))
                break;
        }
        if (j < set->n_groups)
            continue;
        used = (size_t)snprintf(err, err_len,
                                "--nodes=%lld:%lld:%s: the backend has no node group named "
                                "\"%s\" (groups:",
                                (long long)cfg->nodes[i].min_size,
                                (long long)cfg->nodes[i].max_size, name, name);
        for (j = 0; j < set->n_groups && used < err_len; j++) {
            const struct group_rec *g = &set->groups[j];

            used += (size_t)snprintf(err + used, err_len - used, "%s %s%s%s", j ? "," : "",
                                     g->name ? g->name : g->id, g->name ? " = " : "",
                                     g->name ? g->id : "");
        }
        if (used < err_len)
            snprintf(err + used, err_len - used, "%s)", set->n_groups ? "" : " none");
        return NSC_ERR_INVALID;
    }
    return 0;
}

int
loop_plan_scaleup(struct model *m, const struct group_set *groups,
                  const struct scaleup_options *o, struct decision *out, char *err,
                  size_t err_len)
{
    struct scaleup_result r;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = scaleup_plan(m, groups, o, &r, err, err_len);
    if (rc < 0)
        return rc;
    rc = decision_fill_scaleup(out, m, groups, &r);
    scaleup_result_free(&r);
    if (rc < 0) {
        snprintf(err, err_len, "out of memory building the decision");
        decision_free(out);
    }
    return rc;
}

int
loop_plan(struct model *m, const struct group_set *groups, const struct scaleup_options *o,
          const struct scaledown_options *sdo, int64_t now_s, struct decision *out, char *err,
          size_t err_len)
{
    struct scaledown_journal j;
    int rc;

    rc = loop_plan_scaleup(m, groups, o, out, err, err_len);
    if (rc < 0)
        return rc;
    /* A scale-up in this pass starts the delay-after-add cooldown: nodes stay. */
    rc = scaledown_replay(m, groups, sdo, now_s, out->n_scale_up > 0, &j, err, err_len);
    if (rc < 0)
        goto fail;
    rc = decision_fill_scaledown(out, &j);
    scaledown_journal_free(&j);
    if (rc < 0)
        goto nomem;
    return 0;
nomem:
    snprintf(err, err_len, "out of memory building the decision");
fail:
    decision_free(out);
    return rc;
}

bool
loop_has_cluster(const struct nsc_config *cfg)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");

    return cfg->cluster_snapshot != NULL || cfg->kubeconfig != NULL ||
           (host != NULL && *host != '\0');
}

/* Read the cluster and plan with it: the same planners whether it came from a dump or the
 * API server, so that a live pass and the replay of a dump of that cluster decide alike. */
static int
loop_sync_plan(const struct nsc_config *cfg, const struct group_set *groups,
               struct decision *out, char *err, size_t err_len)
{
    struct model *m = model_new();
    struct model_load_stats st;
    struct scaleup_options o;
    struct scaledown_options sdo;
    char *priority_config = NULL;
    int rc;

    if (m == NULL) {
        snprintf(err, err_len, "out of memory");
        return NSC_ERR_NOMEM;
    }
    /* kube_load_model adds to the counts it is given. */
    memset(&st, 0, sizeof(st));
    rc = loop_load_cluster(cfg, m, &st, &priority_config, err, err_len);
    if (rc < 0)
        goto out;
    log_info("%s %s: %u nodes, %u pods, %u PDBs (%u skipped, %u of other kinds)",
             cfg->cluster_snapshot ? "snapshot" : "cluster", loop_source(cfg), st.n_nodes,
             st.n_pods, st.n_pdbs, st.n_skipped, st.n_ignored);
    loop_scaleup_options(cfg, priority_config, &o);
    loop_scaledown_options(cfg, &sdo);
    o.now_s = (int64_t)time(NULL);
    rc = loop_plan(m, groups, &o, &sdo, o.now_s, out, err, err_len);
out:
    free(priority_config);
    model_free(m);
    return rc;
}

int
loop_resize(void *arg, const char *group_id, int32_t to, char *err, size_t err_len)
{
    return backend_resize(arg, group_id, to, err, err_len);
}

int
loop_pass(struct loop *l, struct group_set *groups, struct decision *out, char *err,
          size_t err_len)
{
    int rc;

    memset(groups, 0, sizeof(*groups));
    memset(out, 0, sizeof(*out));
    rc = backend_refresh(l->backend, err, err_len);
    if (rc < 0)
        return rc;
    rc = backend_read_groups(l->backend, groups, err, err_len);
    if (rc < 0)
        return rc;
    rc = loop_check_nodes(l->cfg, groups, err, err_len);
    if (rc < 0)
        return rc;
    if (loop_has_cluster(l->cfg)) {
        rc = loop_sync_plan(l->cfg, groups, out, err, err_len);
    } else {
        /* No pod is known to be pending and no node to be idle: the only honest decision
         * is none. */
        rc = decision_from_groups(out, groups,
                                  "no change: the cluster was not read (no --cluster-snapshot, "
                                  "no --kubeconfig, not in a pod), so no pending pods or "
                                  "unneeded nodes are known");
        if (rc < 0)
            snprintf(err, err_len, "out of memory");
    }
    if (rc < 0)
        return rc;
    return decision_apply(out, l->cfg->dry_run, loop_resize, l->backend, err, err_len);
}

int
loop_gstate_nodes(const struct model *m, struct gstate_node **out, size_t *n_out,
                  const char ***keys_out)
{
    uint32_t k_delete =
        intern_find(&m->strings, DRAIN_TAINT_TO_BE_DELETED, strlen(DRAIN_TAINT_TO_BE_DELETED));
    size_t n = 0, n_keys = 0, k = 0;
    struct gstate_node *nodes;
    const char **keys;

    for (uint32_t i = 0; i < m->nodes.n_slots; i++) {
        const struct model_node *mn = m->nodes.slots[i];

        if (mn != NULL) {
            n++;
            n_keys += mn->n_taints;
        }
    }
    for (uint32_t i = 0; i < m->bad_nodes.n_slots; i++)
        n += m->bad_nodes.slots[i] != NULL;
    nodes = calloc(n ? n : 1, sizeof(*nodes));
    keys = calloc(n_keys ? n_keys : 1, sizeof(*keys));
    if (nodes == NULL || keys == NULL) {
        free(nodes);
        free(keys);
        return NSC_ERR_NOMEM;
    }
    n = 0;
    for (uint32_t i = 0; i < m->nodes.n_slots; i++) {
        const struct model_node *mn = m->nodes.slots[i];
        struct gstate_node *g;

        if (mn == NULL)
            continue;
        g = &nodes[n++];
        g->provider_id = mn->provider_id;
        g->ready = mn->ready;
        g->deleting = mn->deleting;
        g->created_ms = mn->created_s > 0 ? mn->created_s * 1000 : 0;
        g->taint_keys = keys + k;
        g->n_taint_keys = mn->n_taints;
        for (uint32_t t = 0; t < mn->n_taints; t++) {
            if (k_delete != INTERN_NONE && mn->taints[t].key == k_delete)
                g->deleting = true;
            keys[k++] = intern_str(&m->strings, mn->taints[t].key);
        }
    }
    /* A Node the model could not read is still a registered machine: left out, its instance
     * would look unregistered and be removed, undrained, after the provision timeout. It
     * counts as registered and not ready (unusable capacity), never as upcoming. */
    for (uint32_t i = 0; i < m->bad_nodes.n_slots; i++) {
        const struct model_unreadable *u = m->bad_nodes.slots[i];

        if (u == NULL)
            continue;
        nodes[n].provider_id = u->provider_id;
        nodes[n].ready = -1;
        n++;
    }
    *out = nodes;
    *n_out = n;
    *keys_out = keys;
    return 0;
}
