/* The scale-down decision journal: lookups, and its renderings as JSON (offline replay,
 * /explain, status ConfigMap) and as text for people. */
#include "scaledown/scaledown.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
scaledown_journal_free(struct scaledown_journal *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n_nodes; i++) {
        free(j->nodes[i].name);
        free(j->nodes[i].group_id);
        free(j->nodes[i].object);
        free(j->nodes[i].message);
    }
    free(j->nodes);
    free(j->cooldown);
    memset(j, 0, sizeof(*j));
}

const struct scaledown_node *
scaledown_journal_find(const struct scaledown_journal *j, const char *name)
{
    size_t lo = 0, hi = j->n_nodes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(j->nodes[mid].name, name);
        if (c == 0)
            return &j->nodes[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *
scaledown_node_reason_text(const struct scaledown_node *e, char *buf, size_t len)
{
    if (e->state == SD_NODE_REMOVABLE) {
        snprintf(buf, len, "%s", "");
        return buf;
    }
    if (e->rule != SD_RULE_NONE)
        snprintf(buf, len, "%s (%s): %s", scaledown_reason_name(e->reason),
                 scaledown_rule_name(e->rule), e->message ? e->message : "");
    else
        snprintf(buf, len, "%s: %s", scaledown_reason_name(e->reason),
                 e->message ? e->message : "");
    return buf;
}

/* json_object_set_new that reports failure (jansson returns -1 on NOMEM). */
static int
put(json_t *o, const char *k, json_t *v)
{
    return v && json_object_set_new(o, k, v) == 0 ? 0 : -1;
}

static int
put_time(json_t *o, const char *k, int64_t t)
{
    char buf[40];
    return put(o, k, json_string(scaledown_format_time(t, buf, sizeof(buf))));
}

json_t *
scaledown_json_scale_down(const struct scaledown_journal *j)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < j->n_nodes; i++) {
        const struct scaledown_node *e = &j->nodes[i];
        if (e->state != SD_NODE_REMOVABLE)
            continue;
        json_t *o = json_object();
        if (!o || put(o, "node", json_string(e->name)) < 0 ||
            put(o, "group", e->group_id ? json_string(e->group_id) : json_null()) < 0 ||
            json_array_append_new(a, o) < 0) {
            json_decref(o);
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *
scaledown_json_unremovable(const struct scaledown_journal *j)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < j->n_nodes; i++) {
        const struct scaledown_node *e = &j->nodes[i];
        if (e->state == SD_NODE_REMOVABLE)
            continue;
        char reason[1400];
        json_t *o = json_object();
        if (!o || put(o, "node", json_string(e->name)) < 0 ||
            put(o, "reason",
                json_string(scaledown_node_reason_text(e, reason, sizeof(reason)))) < 0 ||
            (e->state == SD_NODE_UNNEEDED &&
             put_time(o, "unneeded_since", e->unneeded_since_s) < 0) ||
            json_array_append_new(a, o) < 0) {
            json_decref(o);
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *
scaledown_json_journal(const struct scaledown_journal *j)
{
    json_t *root = json_object(), *nodes = json_array();
    if (!root || !nodes || put_time(root, "time", j->now_s) < 0 ||
        put(root, "removable", json_integer((json_int_t)j->n_removable)) < 0 ||
        put(root, "unneeded", json_integer((json_int_t)j->n_unneeded)) < 0 ||
        put(root, "unremovable", json_integer((json_int_t)j->n_unremovable)) < 0 ||
        (j->cooldown && put(root, "cooldown", json_string(j->cooldown)) < 0))
        goto fail;
    for (size_t i = 0; i < j->n_nodes; i++) {
        const struct scaledown_node *e = &j->nodes[i];
        json_t *o = json_object();
        if (!o || json_array_append_new(nodes, o) < 0 ||
            put(o, "node", json_string(e->name)) < 0 ||
            (e->group_id && put(o, "group", json_string(e->group_id)) < 0) ||
            put(o, "state", json_string(scaledown_node_state_name(e->state))) < 0 ||
            (e->reason != SD_REASON_NONE &&
             put(o, "reason", json_string(scaledown_reason_name(e->reason))) < 0) ||
            (e->rule != SD_RULE_NONE &&
             put(o, "rule", json_string(scaledown_rule_name(e->rule))) < 0) ||
            (e->object && put(o, "object", json_string(e->object)) < 0) ||
            (e->message && put(o, "message", json_string(e->message)) < 0) ||
            (e->util_known && (put(o, "utilization", json_real(e->util.value)) < 0 ||
                               put(o, "utilization_resource",
                                   json_string(scaledown_util_res_name(e->util.res))) < 0)) ||
            (e->state != SD_NODE_UNREMOVABLE &&
             (put(o, "empty", json_boolean(e->empty)) < 0 ||
              put(o, "pods_to_move", json_integer(e->n_pods_to_move)) < 0 ||
              put_time(o, "unneeded_since", e->unneeded_since_s) < 0)))
            goto fail;
    }
    if (json_object_set_new(root, "nodes", nodes) < 0) {
        nodes = NULL;
        goto fail;
    }
    return root;
fail:
    json_decref(nodes);
    json_decref(root);
    return NULL;
}

/* A growing text buffer. */
struct sbuf {
    char *s;
    size_t len, cap;
    int err;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) NSC_PRINTF(2, 3);

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
    if (b->err)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->err = NSC_ERR_INTERNAL;
            return;
        }
        if (b->s && b->len + (size_t)w < b->cap) {
            b->len += (size_t)w;
            return;
        }
        size_t ncap = b->cap ? b->cap * 2 : 4096;
        while (ncap <= b->len + (size_t)w)
            ncap *= 2;
        char *ns = realloc(b->s, ncap);
        if (!ns) {
            b->err = NSC_ERR_NOMEM;
            return;
        }
        b->s = ns;
        b->cap = ncap;
    }
}

int
scaledown_text(const struct scaledown_journal *j, char **out)
{
    struct sbuf b = {0};
    *out = NULL;
    sb_printf(&b, "scale-down: %zu removable, %zu unneeded, %zu unremovable\n", j->n_removable,
              j->n_unneeded, j->n_unremovable);
    if (j->cooldown)
        sb_printf(&b, "  cooldown: %s\n", j->cooldown);
    for (size_t i = 0; i < j->n_nodes; i++) {
        const struct scaledown_node *e = &j->nodes[i];
        if (e->state != SD_NODE_REMOVABLE)
            continue;
        sb_printf(&b, "  remove %s (group %s, %s, %u pod(s) to move)\n", e->name,
                  e->group_id ? e->group_id : "-", e->empty ? "empty" : "drain",
                  e->n_pods_to_move);
    }
    for (size_t i = 0; i < j->n_nodes; i++) {
        const struct scaledown_node *e = &j->nodes[i];
        if (e->state == SD_NODE_REMOVABLE)
            continue;
        char reason[1400];
        sb_printf(&b, "  keep %s: %s\n", e->name,
                  scaledown_node_reason_text(e, reason, sizeof(reason)));
    }
    if (b.err) {
        free(b.s);
        return b.err;
    }
    *out = b.s;
    return 0;
}

int
scaledown_replay(struct model *m, const struct group_set *groups,
                 const struct scaledown_options *o, int64_t now_s, bool scale_up_now,
                 struct scaledown_journal *out, char *err, size_t err_len)
{
    struct scaledown_options ro = *o;
    ro.unneeded_time_s = 0;
    ro.unready_time_s = 0;
    struct scaledown_state st = {.now_s = now_s, .last_scale_up_s = scale_up_now ? now_s : 0};
    return scaledown_plan(m, groups, &ro, &st, out, err, err_len);
}
