/* The decision of one pass: filled from the planners' results, applied through a resize
 * function, and rendered as JSON or text. Nothing reads a rendering back. */
#include "loop/decision.h"

#include "log.h"

#include <stdlib.h>
#include <string.h>

/* What a text or JSON rendering says about removals while nothing carries them out. */
#define DECISION_NO_SCALE_DOWN                                                                 \
    "not carried out: scale-down actuation is not available in --once"

static void
decision_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void
decision_free(struct decision *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n_scale_up; i++) {
        free(d->scale_up[i].group_id);
        decision_strv_free(d->scale_up[i].pods, d->scale_up[i].n_pods);
        free(d->scale_up[i].error);
    }
    free(d->scale_up);
    for (size_t i = 0; i < d->n_fits; i++) {
        free(d->fits[i].pod);
        free(d->fits[i].node);
    }
    free(d->fits);
    for (size_t i = 0; i < d->n_no_scale_up; i++) {
        struct decision_no_scale_up *e = &d->no_scale_up[i];
        free(e->pod);
        free(e->why);
        for (size_t k = 0; k < e->n_reasons; k++) {
            free(e->reasons[k].group_id);
            free(e->reasons[k].why);
        }
        free(e->reasons);
    }
    free(d->no_scale_up);
    for (size_t i = 0; i < d->n_scale_down; i++) {
        free(d->scale_down[i].node);
        free(d->scale_down[i].group_id);
    }
    free(d->scale_down);
    for (size_t i = 0; i < d->n_unremovable; i++) {
        free(d->unremovable[i].node);
        free(d->unremovable[i].reason);
    }
    free(d->unremovable);
    free(d->note);
    memset(d, 0, sizeof(*d));
}

/* strdup that lets NULL through, and says whether a non-NULL copy failed. */
static int
decision_dup(const char *s, char **out)
{
    *out = s ? strdup(s) : NULL;
    return s && !*out ? NSC_ERR_NOMEM : 0;
}

static int
decision_pod(const struct model *m, const struct model_pod *p, char **out)
{
    char ref[600];
    return decision_dup(model_pod_ref(m, p, ref, sizeof(ref)), out);
}

int
decision_from_groups(struct decision *d, const struct group_set *groups, const char *note)
{
    d->cluster_read = false;
    d->summary.n_groups = groups->n_groups;
    free(d->note);
    return decision_dup(note, &d->note);
}

int
decision_fill_scaleup(struct decision *d, const struct model *m, const struct group_set *groups,
                      const struct scaleup_result *r)
{
    d->cluster_read = true;
    d->summary.n_nodes = m->nodes.n_live;
    d->summary.n_pods = m->pods.n_live;
    d->summary.n_pending = r->n_pending;
    d->summary.n_young = r->n_young;
    d->summary.n_groups = groups->n_groups;
    if ((r->n_increases && !(d->scale_up = calloc(r->n_increases, sizeof(*d->scale_up)))) ||
        (r->n_fits && !(d->fits = calloc(r->n_fits, sizeof(*d->fits)))) ||
        (r->n_none && !(d->no_scale_up = calloc(r->n_none, sizeof(*d->no_scale_up)))))
        return NSC_ERR_NOMEM;
    for (size_t i = 0; i < r->n_increases; i++) {
        const struct scaleup_increase *inc = &r->increases[i];
        struct decision_scale_up *e = &d->scale_up[d->n_scale_up++];
        e->group = inc->group;
        e->from = inc->from;
        e->to = inc->to;
        if (decision_dup(groups->groups[inc->group].id, &e->group_id) < 0 ||
            (inc->n_pods && !(e->pods = calloc(inc->n_pods, sizeof(*e->pods)))))
            return NSC_ERR_NOMEM;
        for (size_t k = 0; k < inc->n_pods; k++, e->n_pods++)
            if (decision_pod(m, inc->pods[k], &e->pods[k]) < 0)
                return NSC_ERR_NOMEM;
    }
    for (size_t i = 0; i < r->n_fits; i++) {
        struct decision_fit *e = &d->fits[d->n_fits++];
        if (decision_pod(m, r->fits[i].pod, &e->pod) < 0 ||
            decision_dup(r->fits[i].node, &e->node) < 0)
            return NSC_ERR_NOMEM;
    }
    for (size_t i = 0; i < r->n_none; i++) {
        const struct scaleup_none *nn = &r->none[i];
        struct decision_no_scale_up *e = &d->no_scale_up[d->n_no_scale_up++];
        if (decision_pod(m, nn->pod, &e->pod) < 0 || decision_dup(nn->why, &e->why) < 0)
            return NSC_ERR_NOMEM;
        if (nn->why)
            continue;
        if (nn->n_reasons && !(e->reasons = calloc(nn->n_reasons, sizeof(*e->reasons))))
            return NSC_ERR_NOMEM;
        for (size_t k = 0; k < nn->n_reasons; k++, e->n_reasons++)
            if (decision_dup(groups->groups[nn->reasons[k].group].id, &e->reasons[k].group_id) <
                    0 ||
                decision_dup(nn->reasons[k].why, &e->reasons[k].why) < 0)
                return NSC_ERR_NOMEM;
    }
    return 0;
}

int
decision_fill_scaledown(struct decision *d, const struct scaledown_journal *j)
{
    d->cluster_read = true;
    if (j->n_removable && !(d->scale_down = calloc(j->n_nodes, sizeof(*d->scale_down))))
        return NSC_ERR_NOMEM;
    if (j->n_nodes > j->n_removable &&
        !(d->unremovable = calloc(j->n_nodes, sizeof(*d->unremovable))))
        return NSC_ERR_NOMEM;
    for (size_t i = 0; i < j->n_nodes; i++) {
        const struct scaledown_node *n = &j->nodes[i];
        if (n->state == SD_NODE_REMOVABLE) {
            struct decision_scale_down *e = &d->scale_down[d->n_scale_down++];
            e->empty = n->empty;
            e->n_pods_to_move = n->n_pods_to_move;
            if (decision_dup(n->name, &e->node) < 0 ||
                decision_dup(n->group_id, &e->group_id) < 0)
                return NSC_ERR_NOMEM;
            continue;
        }
        char reason[1400];
        struct decision_unremovable *e = &d->unremovable[d->n_unremovable++];
        e->unneeded = n->state == SD_NODE_UNNEEDED;
        e->unneeded_since_s = n->unneeded_since_s;
        if (decision_dup(n->name, &e->node) < 0 ||
            decision_dup(scaledown_node_reason_text(n, reason, sizeof(reason)), &e->reason) < 0)
            return NSC_ERR_NOMEM;
    }
    return 0;
}

int
decision_apply(struct decision *d, bool dry_run, decision_resize_fn *resize, void *arg,
               char *err, size_t err_len)
{
    int rc = 0;

    d->apply_attempted = true;
    d->dry_run = dry_run;
    for (size_t i = 0; i < d->n_scale_up; i++) {
        struct decision_scale_up *e = &d->scale_up[i];
        char why[1024] = "";

        if (dry_run) {
            log_info("dry run: would resize group %s from %d to %d", e->group_id, (int)e->from,
                     (int)e->to);
            continue;
        }
        if (rc < 0) {
            e->outcome = DECISION_SKIPPED;
            continue;
        }
        rc = resize(arg, e->group_id, e->to, why, sizeof(why));
        if (rc < 0) {
            e->outcome = DECISION_FAILED;
            e->status = rc;
            if (decision_dup(why, &e->error) < 0)
                e->error = NULL;
            snprintf(err, err_len, "resize of group %s from %d to %d: %s", e->group_id,
                     (int)e->from, (int)e->to, why);
            continue;
        }
        e->outcome = DECISION_APPLIED;
        log_info("resized group %s from %d to %d", e->group_id, (int)e->from, (int)e->to);
    }
    for (size_t i = 0; i < d->n_scale_down; i++) {
        if (dry_run)
            continue;
        d->scale_down[i].outcome = DECISION_UNAVAILABLE;
        log_warning("node %s: removal planned but %s", d->scale_down[i].node,
                    DECISION_NO_SCALE_DOWN);
    }
    return rc;
}

const char *
decision_outcome_name(enum decision_outcome o)
{
    switch (o) {
    case DECISION_PLANNED:
        return "planned";
    case DECISION_APPLIED:
        return "applied";
    case DECISION_FAILED:
        return "failed";
    case DECISION_SKIPPED:
        return "skipped";
    case DECISION_UNAVAILABLE:
        return "unavailable";
    }
    return "unknown";
}

/* json_object_set_new that reports a NULL value or a failed insertion. */
static int
decision_put(json_t *o, const char *k, json_t *v)
{
    return v && json_object_set_new(o, k, v) == 0 ? 0 : -1;
}

static int
decision_push(json_t *a, json_t *v)
{
    return v && json_array_append_new(a, v) == 0 ? 0 : -1;
}

/* Whether renderings say what was carried out: only after a pass that was not a dry run. */
static bool
decision_acted(const struct decision *d)
{
    return d->apply_attempted && !d->dry_run;
}

static json_t *
decision_json_scale_up(const struct decision *d)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < d->n_scale_up; i++) {
        const struct decision_scale_up *e = &d->scale_up[i];
        json_t *pods = json_array(), *o = NULL;
        for (size_t k = 0; pods && k < e->n_pods; k++)
            if (decision_push(pods, json_string(e->pods[k])) < 0)
                goto fail;
        o = json_object();
        if (!pods || !o || decision_put(o, "group", json_string(e->group_id)) < 0 ||
            decision_put(o, "from", json_integer(e->from)) < 0 ||
            decision_put(o, "to", json_integer(e->to)) < 0 || decision_put(o, "pods", pods) < 0)
            goto fail;
        pods = NULL;
        if (decision_acted(d) &&
            (decision_put(o, "applied", json_boolean(e->outcome == DECISION_APPLIED)) < 0 ||
             (e->outcome == DECISION_FAILED &&
              decision_put(o, "error", json_string(e->error ? e->error : "")) < 0) ||
             (e->outcome == DECISION_SKIPPED &&
              decision_put(o, "error",
                           json_string("not attempted: an earlier resize of "
                                       "this pass failed")) < 0)))
            goto fail;
        if (decision_push(a, o) < 0) {
            o = NULL;
            goto fail;
        }
        continue;
    fail:
        json_decref(pods);
        json_decref(o);
        json_decref(a);
        return NULL;
    }
    return a;
}

static json_t *
decision_json_no_scale_up(const struct decision *d)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < d->n_no_scale_up; i++) {
        const struct decision_no_scale_up *e = &d->no_scale_up[i];
        json_t *o = json_object(), *reasons = NULL;
        if (!o || decision_push(a, o) < 0 || decision_put(o, "pod", json_string(e->pod)) < 0)
            goto fail;
        if (e->why) {
            if (decision_put(o, "reason", json_string(e->why)) < 0)
                goto fail;
            continue;
        }
        if (decision_put(o, "reasons", reasons = json_object()) < 0)
            goto fail;
        for (size_t k = 0; k < e->n_reasons; k++)
            if (decision_put(reasons, e->reasons[k].group_id, json_string(e->reasons[k].why)) <
                0)
                goto fail;
    }
    return a;
fail:
    json_decref(a);
    return NULL;
}

static json_t *
decision_json_scale_down(const struct decision *d)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < d->n_scale_down; i++) {
        const struct decision_scale_down *e = &d->scale_down[i];
        json_t *o = json_object();
        if (!o || decision_push(a, o) < 0 ||
            decision_put(o, "node", json_string(e->node)) < 0 ||
            decision_put(o, "group", e->group_id ? json_string(e->group_id) : json_null()) < 0)
            goto fail;
        if (decision_acted(d) &&
            (decision_put(o, "applied", json_boolean(e->outcome == DECISION_APPLIED)) < 0 ||
             (e->outcome == DECISION_UNAVAILABLE &&
              decision_put(o, "note", json_string(DECISION_NO_SCALE_DOWN)) < 0)))
            goto fail;
    }
    return a;
fail:
    json_decref(a);
    return NULL;
}

static json_t *
decision_json_unremovable(const struct decision *d)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < d->n_unremovable; i++) {
        const struct decision_unremovable *e = &d->unremovable[i];
        char t[40];
        json_t *o = json_object();
        if (!o || decision_push(a, o) < 0 ||
            decision_put(o, "node", json_string(e->node)) < 0 ||
            decision_put(o, "reason", json_string(e->reason)) < 0 ||
            (e->unneeded && decision_put(o, "unneeded_since",
                                         json_string(scaledown_format_time(e->unneeded_since_s,
                                                                           t, sizeof(t)))) < 0))
            goto fail;
    }
    return a;
fail:
    json_decref(a);
    return NULL;
}

json_t *
decision_json(const struct decision *d)
{
    json_t *o = json_object(), *fe = json_array();
    for (size_t i = 0; fe && i < d->n_fits; i++)
        if (decision_push(fe, json_pack("{s:s, s:s}", "pod", d->fits[i].pod, "node",
                                        d->fits[i].node)) < 0)
            goto fail;
    if (!o || decision_put(o, "scale_up", decision_json_scale_up(d)) < 0 ||
        decision_put(o, "fits_existing", fe) < 0)
        goto fail;
    fe = NULL;
    if (decision_put(o, "no_scale_up", decision_json_no_scale_up(d)) < 0 ||
        decision_put(o, "scale_down", decision_json_scale_down(d)) < 0 ||
        decision_put(o, "unremovable", decision_json_unremovable(d)) < 0 ||
        decision_put(o, "summary",
                     json_pack("{s:I, s:I, s:I, s:I}", "nodes", (json_int_t)d->summary.n_nodes,
                               "pods", (json_int_t)d->summary.n_pods, "pending",
                               (json_int_t)d->summary.n_pending, "groups",
                               (json_int_t)d->summary.n_groups)) < 0)
        goto fail;
    /* Only when the delay held pods back, so that documents without it stay as they were. */
    if (d->summary.n_young > 0 &&
        json_object_set_new(json_object_get(o, "summary"), "young",
                            json_integer((json_int_t)d->summary.n_young)) < 0)
        goto fail;
    return o;
fail:
    json_decref(fe);
    json_decref(o);
    return NULL;
}

/* What became of a scale-up entry, after its group line; "" when nothing was applied. */
static const char *
decision_text_outcome(const struct decision *d, const struct decision_scale_up *e, char *buf,
                      size_t len)
{
    if (!decision_acted(d))
        return "";
    switch (e->outcome) {
    case DECISION_APPLIED:
        return ": resized";
    case DECISION_FAILED:
        snprintf(buf, len, ": resize failed: %s", e->error ? e->error : "(no reason given)");
        return buf;
    case DECISION_SKIPPED:
        return ": not attempted (an earlier resize of this pass failed)";
    case DECISION_PLANNED:
    case DECISION_UNAVAILABLE:
        break;
    }
    return ": not attempted";
}

/* Names and reasons come from the cluster: a control byte in one (a newline, an escape
 * sequence) would forge a line of the decision or rewrite the reader's terminal. Such bytes
 * are written as \xHH (\n as such); text without them is returned as it is. */
static const char *
decision_text_safe(const char *s, char *buf, size_t len)
{
    const unsigned char *p;
    size_t o = 0;

    if (s == NULL)
        return "?";
    for (p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            break;
    if (*p == '\0')
        return s;
    for (p = (const unsigned char *)s; *p && o + 5 < len; p++) {
        if (*p == '\n')
            o += (size_t)snprintf(buf + o, len - o, "\\n");
        else if (*p < 0x20 || *p == 0x7f)
            o += (size_t)snprintf(buf + o, len - o, "\\x%02x", *p);
        else
            buf[o++] = (char)*p;
    }
    buf[o] = '\0';
    return buf;
}

void
decision_text(const struct decision *d, FILE *out)
{
    const struct decision_summary *sm = &d->summary;
    char buf[1200], s1[1200], s2[1200];

    fprintf(out, "Cluster: %zu nodes, %zu pods, %zu pending, %zu node groups\n", sm->n_nodes,
            sm->n_pods, sm->n_pending, sm->n_groups);
    if (sm->n_young > 0)
        fprintf(out,
                "Pending pods younger than their scale-up delay, left for a later loop: "
                "%zu\n",
                sm->n_young);
    fprintf(out, d->n_scale_up ? "Scale-up:\n" : "Scale-up: none\n");
    for (size_t i = 0; i < d->n_scale_up; i++) {
        const struct decision_scale_up *e = &d->scale_up[i];
        fprintf(out, "  group %s: %d -> %d nodes, for %zu pod(s)%s\n",
                decision_text_safe(e->group_id, s1, sizeof(s1)), (int)e->from, (int)e->to,
                e->n_pods, decision_text_outcome(d, e, buf, sizeof(buf)));
        for (size_t k = 0; k < e->n_pods; k++) {
            /* A scale-up for thousands of replicas would bury the rest of the decision. */
            if (k == 20) {
                fprintf(out, "    ... and %zu more\n", e->n_pods - k);
                break;
            }
            fprintf(out, "    %s\n", decision_text_safe(e->pods[k], s1, sizeof(s1)));
        }
    }
    fprintf(out, "Pending pods that fit existing or upcoming nodes: %zu\n", d->n_fits);
    for (size_t i = 0; i < d->n_fits; i++)
        fprintf(out, "  %s -> %s\n", decision_text_safe(d->fits[i].pod, s1, sizeof(s1)),
                decision_text_safe(d->fits[i].node, s2, sizeof(s2)));
    fprintf(out, "Pending pods no scale-up helps: %zu\n", d->n_no_scale_up);
    for (size_t i = 0; i < d->n_no_scale_up; i++) {
        const struct decision_no_scale_up *e = &d->no_scale_up[i];
        fprintf(out, "  %s\n", decision_text_safe(e->pod, s1, sizeof(s1)));
        if (e->why)
            fprintf(out, "    %s\n", decision_text_safe(e->why, s1, sizeof(s1)));
        for (size_t k = 0; k < e->n_reasons; k++)
            fprintf(out, "    group %s: %s\n",
                    decision_text_safe(e->reasons[k].group_id, s1, sizeof(s1)),
                    decision_text_safe(e->reasons[k].why, s2, sizeof(s2)));
    }
    fprintf(out, d->n_scale_down ? "Scale-down:\n" : "Scale-down: none\n");
    for (size_t i = 0; i < d->n_scale_down; i++) {
        const struct decision_scale_down *e = &d->scale_down[i];
        fprintf(out, "  node %s (group %s)%s%s\n", decision_text_safe(e->node, s1, sizeof(s1)),
                decision_text_safe(e->group_id, s2, sizeof(s2)),
                decision_acted(d) && e->outcome != DECISION_APPLIED ? ": planned, " : "",
                decision_acted(d) && e->outcome != DECISION_APPLIED ? DECISION_NO_SCALE_DOWN
                                                                    : "");
    }
    if (d->n_unremovable)
        fprintf(out, "Nodes that cannot be removed:\n");
    for (size_t i = 0; i < d->n_unremovable; i++)
        fprintf(out, "  node %s: %s\n",
                decision_text_safe(d->unremovable[i].node, s1, sizeof(s1)),
                decision_text_safe(d->unremovable[i].reason, s2, sizeof(s2)));
}
