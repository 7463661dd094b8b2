/* The --once pass: backend through the loader, one pass of engine/loop (refresh, read the
 * cluster, plan, apply unless --dry-run), and its decision printed for a person (text) or
 * a program (JSON). */
#include "config.h"

#include "once.h"

#include "log.h"
#include "loop/pass.h"
#include "version.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

/* The groups-only report: no cluster was read, so the decision is the note alone (and
 * its resizes, were there any). */
static void
once_print_text(FILE *out, const struct nsc_config *cfg, const struct plugin *p,
                const struct group_set *set, const struct decision *d)
{
    const struct nsc_backend_ops *ops = plugin_ops(p);
    size_t i;

    fprintf(out, "nodescaler %s, backend %s %s (%s)%s\n\n", nsc_engine_version(), ops->name,
            ops->version, plugin_path(p), cfg->dry_run ? ", dry run" : "");
    once_print_groups(out, set);
    for (i = 0; i < d->n_scale_up; i++) {
        const struct decision_scale_up *e = &d->scale_up[i];

        fprintf(out, "%s group %s: target %d -> %d: for %zu pending pod(s)\n",
                cfg->dry_run                     ? "would resize"
                : e->outcome == DECISION_APPLIED ? "resized"
                                                 : "did not resize",
                e->group_id, (int)e->from, (int)e->to, e->n_pods);
    }
    fprintf(out, "decision: %s\n", d->note ? d->note : "");
}

static int
once_print_json(FILE *out, const struct nsc_config *cfg, const struct plugin *p,
                const struct group_set *set, const struct decision *d)
{
    const struct nsc_backend_ops *ops = plugin_ops(p);
    json_t *actions = json_array(), *root;
    size_t i;
    int rc;

    for (i = 0; actions != NULL && i < d->n_scale_up; i++) {
        const struct decision_scale_up *e = &d->scale_up[i];
        char why[64];

        snprintf(why, sizeof(why), "for %zu pending pod(s)", e->n_pods);
        json_array_append_new(actions,
                              json_pack("{s:s, s:i, s:i, s:s, s:b}", "group", e->group_id,
                                        "from", (int)e->from, "to", (int)e->to, "reason", why,
                                        "applied", e->outcome == DECISION_APPLIED));
    }
    root = json_pack("{s:s, s:{s:s, s:s, s:s}, s:b, s:o, s:{s:o, s:s}}", "version",
                     nsc_engine_version(), "backend", "name", ops->name, "version",
                     ops->version, "path", plugin_path(p), "dry_run", cfg->dry_run, "groups",
                     once_groups_json(set), "decision", "actions",
                     actions ? actions : json_array(), "summary", d->note ? d->note : "");
    if (root == NULL)
        return NSC_ERR_NOMEM;
    rc = json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', out);
    json_decref(root);
    return rc == 0 ? 0 : NSC_ERR_INTERNAL;
}

/* The report of a pass that read the cluster: the whole decision, with the groups it was
 * made from (and, in JSON, their templates: what a scale-up from zero was planned with). */
static int
once_print_cluster(FILE *out, const struct nsc_config *cfg, const struct group_set *set,
                   const struct decision *d)
{
    json_t *dec;
    int rc = 0;

    if (cfg->output != CONFIG_OUTPUT_JSON) {
        fprintf(out, "nodescaler %s, %s %s%s\n", nsc_engine_version(),
                cfg->cluster_snapshot ? "snapshot" : "cluster", loop_source(cfg),
                cfg->dry_run ? ", dry run" : "");
        once_print_groups(out, set);
        decision_text(d, out);
        return 0;
    }
    dec = decision_json(d);
    if (dec == NULL || json_object_set_new(dec, "dry_run", json_boolean(cfg->dry_run)) < 0 ||
        json_object_set_new(dec, "groups", once_groups_json(set)) < 0)
        rc = NSC_ERR_NOMEM;
    else if (json_dumpf(dec, out, JSON_INDENT(2)) != 0)
        rc = NSC_ERR_INTERNAL;
    else
        fputc('\n', out);
    json_decref(dec);
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

int
once_run(const struct nsc_config *cfg, FILE *out, char *err, size_t err_len)
{
    struct plugin *plugin = NULL;
    struct backend *b = NULL;
    struct group_set set = {NULL, 0};
    struct decision d;
    struct loop loop;
    struct nsc_option *opts = NULL;
    size_t n_opts = 0;
    int rc, prc;

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
    loop.cfg = cfg;
    loop.backend = b;
    rc = loop_pass(&loop, &set, &d, err, err_len);
    /* A pass that planned but could not apply still reports what it did and did not do;
     * one that never got to a decision has nothing to print. */
    if (rc < 0 && !d.apply_attempted)
        goto out;
    if (d.cluster_read || loop_has_cluster(cfg))
        prc = once_print_cluster(out, cfg, &set, &d);
    else if (cfg->output == CONFIG_OUTPUT_JSON)
        prc = once_print_json(out, cfg, plugin, &set, &d);
    else
        prc = (once_print_text(out, cfg, plugin, &set, &d), 0);
    fflush(out);
    if (prc < 0 && rc == 0) {
        snprintf(err, err_len, "cannot write the %s output",
                 cfg->output == CONFIG_OUTPUT_JSON ? "JSON" : "text");
        rc = prc;
    }
out:
    decision_free(&d);
    group_set_free(&set);
    backend_destroy(b);
    plugin_unload(plugin);
    once_backend_opts_free(cfg, opts, n_opts);
    return rc;
}
