/* The --once pass: backend through the loader, groups read, a decision made, applied
 * unless --dry-run, and printed for a person (text) or a program (JSON). */
#include "config.h"

#include "once.h"

#include "log.h"
#include "kube/config.h"
#include "kube/client.h"
#include "kube/sync.h"
#include "kube/writes.h"
#include "loop/replay.h"
#include "version.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ONCE_ERR_LEN 1024

static const char *
once_state_name(enum nsc_instance_state s)
{
    switch (s) {
    case NSC_INSTANCE_RUNNING:
        return "running";
    case NSC_INSTANCE_CREATING:
        return "creating";
    case NSC_INSTANCE_DELETING:
        return "deleting";
    case NSC_INSTANCE_UNKNOWN:
        break;
    }
    return "unknown";
}

void
once_decision_free(struct once_decision *d)
{
    size_t i;

    if (d == NULL)
        return;
    for (i = 0; i < d->n_actions; i++) {
        free(d->actions[i].group_id);
        free(d->actions[i].reason);
    }
    free(d->actions);
    free(d->summary);
    memset(d, 0, sizeof(*d));
}

int
once_decide(const struct nsc_config *cfg, const struct group_set *groups,
            struct once_decision *out, char *err, size_t err_len)
{
    (void)cfg;
    (void)groups;
    (void)err;
    (void)err_len;
    memset(out, 0, sizeof(*out));
    /* Reached only when there is no cluster to read (once_has_cluster): no pod is known
     * to be pending and no node to be idle, so the only honest decision is none. */
    out->summary = strdup("no change: the cluster was not read (no --cluster-snapshot, no "
                          "--kubeconfig, not in a pod), so no pending pods or unneeded nodes "
                          "are known");
    return out->summary ? 0 : NSC_ERR_NOMEM;
}

/* One resize of a decision, or with --dry-run only what it would do: every pass applies
 * its resizes through here, so the dry run and the real run log alike. */
static int
once_resize(const struct nsc_config *cfg, struct backend *b, const char *group_id, int from,
            int to, char *err, size_t err_len)
{
    int rc;

    if (cfg->dry_run) {
        log_info("dry run: would resize group %s from %d to %d", group_id, from, to);
        return 0;
    }
    rc = backend_resize(b, group_id, to, err, err_len);
    if (rc < 0)
        return rc;
    log_info("resized group %s from %d to %d", group_id, from, to);
    return 0;
}

/* Applies the decision's resizes; with --dry-run only says what it would do. */
static int
once_apply(const struct nsc_config *cfg, struct backend *b, const struct once_decision *d,
           char *err, size_t err_len)
{
    size_t i;
    int rc;

    for (i = 0; i < d->n_actions; i++) {
        const struct once_action *a = &d->actions[i];

        rc = once_resize(cfg, b, a->group_id, (int)a->from_target, (int)a->to_target, err,
                         err_len);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The groups as the backend reported them: bounds, target, instances, and whether a
 * template node lets the group scale from zero. */
static void
once_print_groups(FILE *out, const struct group_set *set)
{
    size_t i, j;
    int w = 24;

    /* Wide enough for the longest id (an Exoscale UUID is 36) so the columns line up. */
    for (i = 0; i < set->n_groups; i++)
        if (strlen(set->groups[i].id) > (size_t)w && strlen(set->groups[i].id) < 128)
            w = (int)strlen(set->groups[i].id);
    fprintf(out, "node groups (%zu):\n", set->n_groups);
    fprintf(out, "  %-*s %5s %5s %7s  %-40s %s\n", w, "GROUP", "MIN", "MAX", "TARGET",
            "INSTANCES", "TEMPLATE");
    for (i = 0; i < set->n_groups; i++) {
        const struct group_rec *g = &set->groups[i];
        size_t n_state[4] = {0, 0, 0, 0};
        char inst[64];

        for (j = 0; j < g->n_instances; j++)
            n_state[g->instances[j].state & 3]++;
        snprintf(inst, sizeof(inst), "%zu (%zu running, %zu creating, %zu deleting)",
                 g->n_instances, n_state[NSC_INSTANCE_RUNNING], n_state[NSC_INSTANCE_CREATING],
                 n_state[NSC_INSTANCE_DELETING]);
        fprintf(out, "  %-*s %5d %5d %7d  %-40s %s\n", w, g->id, (int)g->min_size,
                (int)g->max_size, (int)g->target_size, g->n_instances ? inst : "0",
                g->template_node_json ? "yes" : "no (cannot scale from zero)");
    }
    for (i = 0; i < set->n_groups; i++) {
        const struct group_rec *g = &set->groups[i];

        if (g->name != NULL && strcmp(g->name, g->id) != 0)
            fprintf(out, "    %s: name %s\n", g->id, g->name);
        for (j = 0; j < g->n_instances; j++) {
            const struct instance_rec *in = &g->instances[j];

            fprintf(out, "    %s: %s %s%s%s\n", g->id, in->provider_id,
                    once_state_name(in->state), in->error_message ? ": " : "",
                    in->error_message ? in->error_message : "");
        }
    }
    fputc('\n', out);
}

static void
once_print_text(FILE *out, const struct nsc_config *cfg, const struct plugin *p,
                const struct group_set *set, const struct once_decision *d)
{
    const struct nsc_backend_ops *ops = plugin_ops(p);
    size_t i;

    fprintf(out, "nodescaler %s, backend %s %s (%s)%s\n\n", nsc_engine_version(), ops->name,
            ops->version, plugin_path(p), cfg->dry_run ? ", dry run" : "");
    once_print_groups(out, set);
    for (i = 0; i < d->n_actions; i++)
        fprintf(out, "%s group %s: target %d -> %d: %s\n",
                cfg->dry_run ? "would resize" : "resized", d->actions[i].group_id,
                (int)d->actions[i].from_target, (int)d->actions[i].to_target,
                d->actions[i].reason);
    fprintf(out, "decision: %s\n", d->summary);
}

static json_t *
once_groups_json(const struct group_set *set)
{
    json_t *arr = json_array();
    size_t i, j;

    for (i = 0; arr != NULL && i < set->n_groups; i++) {
        const struct group_rec *g = &set->groups[i];
        json_t *insts = json_array(), *tmpl = NULL;

        for (j = 0; insts != NULL && j < g->n_instances; j++) {
            const struct instance_rec *in = &g->instances[j];

            json_array_append_new(
                insts, json_pack("{s:s, s:s, s:s*, s:s*}", "provider_id", in->provider_id,
                                 "state", once_state_name(in->state), "error_code",
                                 in->error_code, "error_message", in->error_message));
        }
        if (g->template_node_json != NULL)
            tmpl = json_loads(g->template_node_json, 0, NULL);
        json_array_append_new(
            arr, json_pack("{s:s, s:s*, s:i, s:i, s:i, s:o, s:o}", "id", g->id, "name", g->name,
                           "min", (int)g->min_size, "max", (int)g->max_size, "target",
                           (int)g->target_size, "instances", insts ? insts : json_array(),
                           "template", tmpl ? tmpl : json_null()));
    }
    return arr;
}

static int
once_print_json(FILE *out, const struct nsc_config *cfg, const struct plugin *p,
                const struct group_set *set, const struct once_decision *d)
{
    const struct nsc_backend_ops *ops = plugin_ops(p);
    json_t *actions = json_array(), *root;
    size_t i;
    int rc;

    for (i = 0; actions != NULL && i < d->n_actions; i++)
        json_array_append_new(
            actions, json_pack("{s:s, s:i, s:i, s:s}", "group", d->actions[i].group_id, "from",
                               (int)d->actions[i].from_target, "to",
                               (int)d->actions[i].to_target, "reason", d->actions[i].reason));
    root = json_pack("{s:s, s:{s:s, s:s, s:s}, s:b, s:o, s:{s:o, s:s}}", "version",
                     nsc_engine_version(), "backend", "name", ops->name, "version",
                     ops->version, "path", plugin_path(p), "dry_run", cfg->dry_run, "groups",
                     once_groups_json(set), "decision", "actions",
                     actions ? actions : json_array(), "summary", d->summary);
    if (root == NULL)
        return NSC_ERR_NOMEM;
    rc = json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', out);
    json_decref(root);
    return rc == 0 ? 0 : NSC_ERR_INTERNAL;
}

/* The planner's options from the flags and the priority configuration (borrowed, may be
 * NULL: see once_priority_config). */
static void
once_scaleup_options(const struct nsc_config *cfg, const char *priority_config,
                     struct scaleup_options *o)
{
    scaleup_options_default(o);
    if (cfg->expander != NULL)
        o->expander = cfg->expander;
    o->priority_config = priority_config;
    o->balance_similar = cfg->balance_similar_node_groups;
    o->balancing_ignore_labels = (const char *const *)cfg->balancing_ignore_labels.items;
    o->n_balancing_ignore_labels = cfg->balancing_ignore_labels.n;
    o->max_nodes_total = (int32_t)cfg->max_nodes_total;
    o->cores_total_max = cfg->cores_total_max;
    o->memory_total_max_gib = cfg->memory_total_max_gib;
    o->max_nodes_per_scaleup = (int32_t)cfg->max_nodes_per_scaleup;
    o->expendable_priority_cutoff = (int32_t)cfg->expendable_pods_priority_cutoff;
    o->memory_difference_ratio = cfg->memory_difference_ratio;
    o->max_allocatable_difference_ratio = cfg->max_allocatable_difference_ratio;
    o->max_free_difference_ratio = cfg->max_free_difference_ratio;
    /* A fixed seed: replaying the same snapshot gives the same decision. */
    o->random_seed = 1;
}

/* What the cluster was read from, for the log and the text header. */
static const char *
once_source(const struct nsc_config *cfg)
{
    if (cfg->cluster_snapshot != NULL)
        return cfg->cluster_snapshot;
    return cfg->kubeconfig != NULL ? cfg->kubeconfig : "in-cluster";
}

#define ONCE_PRIORITY_CONFIGMAP "cluster-autoscaler-priority-expander"
#define ONCE_PRIORITY_KEY "priorities"
#define ONCE_PRIORITY_MAX_BYTES (1u << 20) /* a ConfigMap holds at most 1 MiB */

/* The whole of a --expander-priority-config file into *out (owned). */
static int
once_read_priority_file(const char *path, char **out, char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n;
    int rc = 0;

    *out = NULL;
    if (f == NULL) {
        snprintf(err, err_len, "--expander-priority-config=%s: cannot open: %s", path,
                 strerror(errno));
        return NSC_ERR_INVALID;
    }
    buf = malloc(ONCE_PRIORITY_MAX_BYTES + 1);
    if (buf == NULL) {
        rc = NSC_ERR_NOMEM;
        goto out;
    }
    n = fread(buf, 1, ONCE_PRIORITY_MAX_BYTES + 1, f);
    if (ferror(f) || n > ONCE_PRIORITY_MAX_BYTES || memchr(buf, '\0', n) != NULL) {
        snprintf(err, err_len, "--expander-priority-config=%s: %s", path,
                 ferror(f)                     ? "read error"
                 : n > ONCE_PRIORITY_MAX_BYTES ? "larger than 1 MiB"
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
static int
once_priority_config(const struct nsc_config *cfg, struct kube_client *kube, char **out,
                     char *err, size_t err_len)
{
    char where[512], why[384] = "out of memory";
    int rc;

    *out = NULL;
    if (!config_expander_has(cfg, "priority"))
        return 0;
    if (cfg->expander_priority_config != NULL) {
        rc = once_read_priority_file(cfg->expander_priority_config, out, err, err_len);
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
        rc = kube_configmap_get(kube, cfg->namespace_name, ONCE_PRIORITY_CONFIGMAP,
                                ONCE_PRIORITY_KEY, out, &resp);
        if (rc == NSC_ERR_NOT_FOUND)
            snprintf(err, err_len,
                     "--expander=%s: no priority configuration: ConfigMap %s/%s does not "
                     "exist (create it with the key %s, set --namespace, or pass "
                     "--expander-priority-config=FILE)",
                     cfg->expander, cfg->namespace_name, ONCE_PRIORITY_CONFIGMAP,
                     ONCE_PRIORITY_KEY);
        else if (rc < 0)
            snprintf(err, err_len, "--expander=%s: cannot read ConfigMap %s/%s: %s",
                     cfg->expander, cfg->namespace_name, ONCE_PRIORITY_CONFIGMAP,
                     kube_resp_describe(&resp, d, sizeof(d)));
        else if (*out == NULL)
            snprintf(err, err_len,
                     "--expander=%s: ConfigMap %s/%s has no string key %s (the priority "
                     "configuration)",
                     cfg->expander, cfg->namespace_name, ONCE_PRIORITY_CONFIGMAP,
                     ONCE_PRIORITY_KEY);
        kube_resp_clear(&resp);
        if (rc < 0)
            return rc;
        if (*out == NULL)
            return NSC_ERR_INVALID;
        snprintf(where, sizeof(where), "ConfigMap %s/%s, key %s", cfg->namespace_name,
                 ONCE_PRIORITY_CONFIGMAP, ONCE_PRIORITY_KEY);
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

/*
 * The cluster for one pass: the kubectl dump of --cluster-snapshot, or one paginated list
 * of every kind from the API server (--kubeconfig, else in-cluster), so that a live pass
 * and the replay of a dump of the same cluster decide alike.
 */
static int
once_load_cluster(const struct nsc_config *cfg, struct model *m, struct model_load_stats *st,
                  char **priority_config, char *err, size_t err_len)
{
    struct kube_client_opts ko;
    struct kube_config *kc = NULL;
    struct kube_client *kube = NULL;
    int rc;

    if (cfg->cluster_snapshot != NULL) {
        rc = once_priority_config(cfg, NULL, priority_config, err, err_len);
        return rc < 0 ? rc : model_load_file(m, cfg->cluster_snapshot, st, err, err_len);
    }
    rc = kube_config_auto(cfg->kubeconfig, cfg->kube_context, &kc, err, err_len);
    if (rc < 0)
        return rc;
    memset(&ko, 0, sizeof(ko));
    ko.qps = cfg->kube_client_qps;
    ko.burst = (int)cfg->kube_client_burst;
    rc = kube_client_new(kc, &ko, &kube, err, err_len);
    if (rc < 0)
        return rc;
    rc = once_priority_config(cfg, kube, priority_config, err, err_len);
    if (rc == 0)
        rc = kube_load_model(kube, m, st, err, err_len);
    kube_client_free(kube);
    return rc;
}

/*
 * --cluster-snapshot: the cluster comes from a kubectl dump instead of the API; the same
 * planners decide; the decision is applied unless --dry-run and printed whole.
 */
static int
once_replay(const struct nsc_config *cfg, struct backend *b, const struct group_set *set,
            FILE *out, char *err, size_t err_len)
{
    struct model *m = model_new();
    struct model_load_stats st;
    struct scaleup_options o;
    json_t *dec = NULL;
    char *priority_config = NULL;
    int rc;

    if (m == NULL)
        return NSC_ERR_NOMEM;
    /* kube_load_model adds to the counts it is given. */
    memset(&st, 0, sizeof(st));
    rc = once_load_cluster(cfg, m, &st, &priority_config, err, err_len);
    if (rc < 0)
        goto out;
    log_info("%s %s: %u nodes, %u pods, %u PDBs (%u skipped, %u of other kinds)",
             cfg->cluster_snapshot ? "snapshot" : "cluster", once_source(cfg), st.n_nodes,
             st.n_pods, st.n_pdbs, st.n_skipped, st.n_ignored);
    once_scaleup_options(cfg, priority_config, &o);
    struct scaledown_options sdo;
    scaledown_options_from_config(cfg, &sdo);
    rc = replay_decide_at(m, set, &o, &sdo, (int64_t)time(NULL), &dec, err, err_len);
    if (rc < 0)
        goto out;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(dec, "scale_up"), i, e)
    {
        const char *gid = json_string_value(json_object_get(e, "group"));
        int to = (int)json_integer_value(json_object_get(e, "to"));
        int from = (int)json_integer_value(json_object_get(e, "from"));
        rc = once_resize(cfg, b, gid, from, to, err, err_len);
        if (rc < 0)
            goto out;
    }
    if (cfg->output == CONFIG_OUTPUT_JSON) {
        json_object_set_new(dec, "dry_run", json_boolean(cfg->dry_run));
        /* The groups the decision was made from, with their templates: what a scale-up
         * from zero was planned with. */
        json_object_set_new(dec, "groups", once_groups_json(set));
        if (json_dumpf(dec, out, JSON_INDENT(2)) != 0) {
            snprintf(err, err_len, "cannot write the JSON output");
            rc = NSC_ERR_INTERNAL;
            goto out;
        }
        fputc('\n', out);
    } else {
        fprintf(out, "nodescaler %s, %s %s%s\n", nsc_engine_version(),
                cfg->cluster_snapshot ? "snapshot" : "cluster", once_source(cfg),
                cfg->dry_run ? ", dry run" : "");
        once_print_groups(out, set);
        replay_render_text(dec, out);
    }
    fflush(out);
out:
    json_decref(dec);
    free(priority_config);
    model_free(m);
    return rc;
}

/* The NAME of a nodes=MIN:MAX:NAME value, or NULL when it has no two colons. */
static const char *
once_nodes_name(const char *value)
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
once_nodes_unique(const struct nsc_config *cfg, char *err, size_t err_len)
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
                o->key && strcmp(o->key, "nodes") == 0 ? once_nodes_name(o->value) : NULL;

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
 * caller (once_backend_opts_free); the keys and values of the --backend-opt entries are
 * borrowed from cfg.
 */
static int
once_backend_opts(const struct nsc_config *cfg, struct nsc_option **opts_out, size_t *n_out)
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

/* Frees what once_backend_opts made: the values it built, not those borrowed from cfg. */
static void
once_backend_opts_free(const struct nsc_config *cfg, struct nsc_option *opts, size_t n)
{
    size_t i;

    for (i = cfg->n_backend_opts; i < n; i++)
        free((char *)(uintptr_t)opts[i].value);
    free(opts);
}

/*
 * Each --nodes NAME must be a group the backend reports, by id or by name: bounds for a
 * group that does not exist (a typo, a deleted nodepool) would otherwise be dropped
 * without a word while the group they meant scales with the backend's defaults.
 */
static int
once_check_nodes(const struct nsc_config *cfg, const struct group_set *set, char *err,
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

/* Whether the pass reads a cluster: a dump, a kubeconfig, or the API server of the pod it
 * runs in. Without any, only the backend's groups are listed. */
static bool
once_has_cluster(const struct nsc_config *cfg)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");

    return cfg->cluster_snapshot != NULL || cfg->kubeconfig != NULL ||
           (host != NULL && *host != '\0');
}

int
once_run(const struct nsc_config *cfg, FILE *out, char *err, size_t err_len)
{
    struct plugin *plugin = NULL;
    struct backend *b = NULL;
    struct group_set set = {NULL, 0};
    struct once_decision d;
    struct nsc_option *opts = NULL;
    size_t n_opts = 0;
    int rc;

    memset(&d, 0, sizeof(d));
    rc = once_nodes_unique(cfg, err, err_len);
    if (rc < 0)
        goto out;
    rc = once_backend_opts(cfg, &opts, &n_opts);
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
    rc = backend_refresh(b, err, err_len);
    if (rc < 0)
        goto out;
    rc = backend_read_groups(b, &set, err, err_len);
    if (rc < 0)
        goto out;
    rc = once_check_nodes(cfg, &set, err, err_len);
    if (rc < 0)
        goto out;
    if (once_has_cluster(cfg)) {
        rc = once_replay(cfg, b, &set, out, err, err_len);
        goto out;
    }
    rc = once_decide(cfg, &set, &d, err, err_len);
    if (rc < 0)
        goto out;
    rc = once_apply(cfg, b, &d, err, err_len);
    if (rc < 0)
        goto out;
    if (cfg->output == CONFIG_OUTPUT_JSON) {
        rc = once_print_json(out, cfg, plugin, &set, &d);
        if (rc < 0)
            snprintf(err, err_len, "cannot write the JSON output");
    } else {
        once_print_text(out, cfg, plugin, &set, &d);
    }
    fflush(out);
out:
    once_decision_free(&d);
    group_set_free(&set);
    backend_destroy(b);
    plugin_unload(plugin);
    once_backend_opts_free(cfg, opts, n_opts);
    return rc;
}
