/* A created backend instance: calls its operations, copies and validates what it emits
 * through the sinks into core-owned group records, and turns failures into messages. */
#include "config.h"

#include "plugin/plugin.h"

#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* backend.h promises create() an error buffer of at least 256 bytes. */
#define BACKEND_ERRBUF_LEN 1024

struct backend {
    struct plugin *plugin; /* borrowed */
    const struct nsc_backend_ops *ops;
    struct nsc_host *host;
    struct nsc_backend *inst;
};

/* State of one read: the set being filled, the group whose instances are being read
 * (NULL while node_groups runs) and the first refusal. */
struct backend_reader {
    struct group_set *set;
    struct group_rec *current;
    int failed;
    char msg[512];
};

const char *
plugin_status_name(int status)
{
    switch (status) {
    case NSC_OK:
        return "ok";
    case NSC_ERR_INVALID:
        return "invalid";
    case NSC_ERR_NOT_FOUND:
        return "not found";
    case NSC_ERR_NOT_IMPLEMENTED:
        return "not implemented";
    case NSC_ERR_TRANSIENT:
        return "transient";
    case NSC_ERR_OUT_OF_RESOURCES:
        return "out of resources";
    case NSC_ERR_AUTH:
        return "auth";
    case NSC_ERR_NOMEM:
        return "out of memory";
    case NSC_ERR_INTERNAL:
        return "internal";
    default:
        return "unknown status";
    }
}

static void backend_errf(char *err, size_t err_len, const char *fmt, ...) NSC_PRINTF(3, 4);

/* Formats into err, redacted before the cut: a backend's text may echo a credential, and
 * one cut in half would no longer be recognised. */
static void
backend_errf(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || err_len == 0)
        return;
    va_start(ap, fmt);
    log_redact_vformat(err, err_len, fmt, ap);
    va_end(ap);
}

/* A status outside the enum is a backend bug; report it as internal so callers can rely
 * on the enum. */
static int
backend_status(int rc)
{
    if (rc > 0 || rc < NSC_ERR_INTERNAL)
        return NSC_ERR_INTERNAL;
    return rc;
}

static const char *
backend_last_error(struct backend *b)
{
    const char *e = b->ops->last_error(b->inst);

    return e != NULL ? e : "";
}

/* The message for an operation that failed: "backend NAME: OP GROUP: STATUS: text". */
static void
backend_op_err(struct backend *b, const char *op, const char *group_id, int rc, char *err,
               size_t err_len)
{
    const char *detail = backend_last_error(b);

    backend_errf(err, err_len, "backend %s: %s%s%s failed (%s)%s%s", b->ops->name, op,
                 group_id ? " " : "", group_id ? group_id : "", plugin_status_name(rc),
                 detail[0] ? ": " : "", detail);
}

int
backend_create(struct plugin *plugin, const struct nsc_option *opts, size_t n_opts,
               struct backend **out, char *err, size_t err_len)
{
    char errbuf[BACKEND_ERRBUF_LEN] = "";
    struct nsc_backend *inst = NULL;
    struct backend *b;
    int rc;

    *out = NULL;
    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NSC_ERR_NOMEM;
    b->plugin = plugin;
    b->ops = plugin_ops(plugin);
    b->host = host_new(b->ops->name, opts, n_opts, NULL);
    if (b->host == NULL) {
        backend_errf(err, err_len,
                     "backend %s: cannot set up the host table (out of memory "
                     "or libcurl failed to initialise)",
                     b->ops->name);
        free(b);
        return NSC_ERR_NOMEM;
    }
    rc = b->ops->create(b->host, opts, n_opts, &inst, errbuf, sizeof(errbuf));
    errbuf[sizeof(errbuf) - 1] = '\0';
    if (rc != 0) {
        backend_errf(err, err_len, "backend %s: create failed (%s)%s%s", b->ops->name,
                     plugin_status_name(rc), errbuf[0] ? ": " : "", errbuf);
        /* A backend that failed yet set *out broke the contract; still free what it
         * made rather than leak it. */
        if (inst != NULL)
            b->ops->destroy(inst);
        host_free(b->host);
        free(b);
        return backend_status(rc);
    }
    if (inst == NULL) {
        backend_errf(err, err_len, "backend %s: create returned success without an instance",
                     b->ops->name);
        host_free(b->host);
        free(b);
        return NSC_ERR_INTERNAL;
    }
    b->inst = inst;
    *out = b;
    return 0;
}

void
backend_destroy(struct backend *backend)
{
    if (backend == NULL)
        return;
    backend->ops->destroy(backend->inst);
    host_free(backend->host);
    free(backend);
}

const char *
backend_name(const struct backend *backend)
{
    return backend->ops->name;
}

const struct nsc_host *
backend_host(const struct backend *backend)
{
    return backend->host;
}

int
backend_refresh(struct backend *backend, char *err, size_t err_len)
{
    int rc = backend->ops->refresh(backend->inst);

    if (rc != 0) {
        backend_op_err(backend, "refresh", NULL, rc, err, err_len);
        return backend_status(rc);
    }
    return 0;
}

static void backend_reader_fail(struct backend_reader *rd, const char *fmt, ...)
    NSC_PRINTF(2, 3);

static void
backend_reader_fail(struct backend_reader *rd, const char *fmt, ...)
{
    va_list ap;

    if (rd->failed)
        return;
    rd->failed = 1;
    va_start(ap, fmt);
    vsnprintf(rd->msg, sizeof(rd->msg), fmt, ap);
    va_end(ap);
}

static void
backend_instance_free(struct instance_rec *in)
{
    free(in->provider_id);
    free(in->error_code);
    free(in->error_message);
}

static void
backend_group_free(struct group_rec *g)
{
    size_t i;

    free(g->id);
    free(g->name);
    free(g->template_node_json);
    for (i = 0; i < g->n_instances; i++)
        backend_instance_free(&g->instances[i]);
    free(g->instances);
}

void
group_set_free(struct group_set *set)
{
    size_t i;

    if (set == NULL)
        return;
    for (i = 0; i < set->n_groups; i++)
        backend_group_free(&set->groups[i]);
    free(set->groups);
    set->groups = NULL;
    set->n_groups = 0;
}

/* strdup that maps NULL to NULL and reports allocation failure through *oom. */
static char *
backend_dup(const char *s, int *oom)
{
    char *d;

    if (s == NULL)
        return NULL;
    d = strdup(s);
    if (d == NULL)
        *oom = 1;
    return d;
}

static int
backend_sink_group(const struct nsc_sink *sink, const struct nsc_group *g)
{
    struct backend_reader *rd = sink->ctx;
    struct group_rec *grown, *rec;
    int oom = 0;
    size_t i;

    if (rd->failed)
        return NSC_ERR_INVALID;
    if (rd->current != NULL) {
        backend_reader_fail(rd, "group record emitted during group_instances of group %s",
                            rd->current->id);
        return NSC_ERR_INVALID;
    }
    if (g == NULL || g->struct_size < sizeof(struct nsc_group)) {
        backend_reader_fail(rd,
                            "group record %zu: NULL or struct_size %u smaller than ABI "
                            "1.0's %zu",
                            rd->set->n_groups, g ? g->struct_size : 0,
                            sizeof(struct nsc_group));
        return NSC_ERR_INVALID;
    }
    if (g->id == NULL || g->id[0] == '\0') {
        backend_reader_fail(rd, "group record %zu: field id is missing or empty",
                            rd->set->n_groups);
        return NSC_ERR_INVALID;
    }
    for (i = 0; i < rd->set->n_groups; i++) {
        if (strcmp(rd->set->groups[i].id, g->id) == 0) {
            backend_reader_fail(rd, "group %s: field id is a duplicate", g->id);
            return NSC_ERR_INVALID;
        }
    }
    if (g->min_size < 0) {
        backend_reader_fail(rd, "group %s: field min_size is negative (%d)", g->id,
                            (int)g->min_size);
        return NSC_ERR_INVALID;
    }
    if (g->min_size > g->max_size) {
        backend_reader_fail(rd, "group %s: field min_size %d is greater than max_size %d",
                            g->id, (int)g->min_size, (int)g->max_size);
        return NSC_ERR_INVALID;
    }
    if (g->target_size < g->min_size || g->target_size > g->max_size) {
        backend_reader_fail(rd, "group %s: field target_size %d is outside [%d, %d]", g->id,
                            (int)g->target_size, (int)g->min_size, (int)g->max_size);
        return NSC_ERR_INVALID;
    }
    grown = realloc(rd->set->groups, (rd->set->n_groups + 1) * sizeof(*grown));
    if (grown == NULL)
        return NSC_ERR_NOMEM;
    rd->set->groups = grown;
    rec = &grown[rd->set->n_groups];
    memset(rec, 0, sizeof(*rec));
    rec->id = backend_dup(g->id, &oom);
    rec->name = backend_dup(g->name, &oom);
    rec->template_node_json = backend_dup(g->template_node_json, &oom);
    rec->min_size = g->min_size;
    rec->max_size = g->max_size;
    rec->target_size = g->target_size;
    if (oom) {
        backend_group_free(rec);
        return NSC_ERR_NOMEM;
    }
    rd->set->n_groups++;
    return 0;
}

static int
backend_sink_instance(const struct nsc_sink *sink, const struct nsc_instance *in)
{
    struct backend_reader *rd = sink->ctx;
    struct group_rec *g = rd->current;
    struct instance_rec *grown, *rec;
    int oom = 0;

    if (rd->failed)
        return NSC_ERR_INVALID;
    if (g == NULL) {
        backend_reader_fail(rd, "instance record emitted during node_groups");
        return NSC_ERR_INVALID;
    }
    if (in == NULL || in->struct_size < sizeof(struct nsc_instance)) {
        backend_reader_fail(rd,
                            "group %s: instance record %zu: NULL or struct_size %u "
                            "smaller than ABI 1.0's %zu",
                            g->id, g->n_instances, in ? in->struct_size : 0,
                            sizeof(struct nsc_instance));
        return NSC_ERR_INVALID;
    }
    if (in->provider_id == NULL || in->provider_id[0] == '\0') {
        backend_reader_fail(rd,
                            "group %s: instance record %zu: field provider_id is missing "
                            "or empty",
                            g->id, g->n_instances);
        return NSC_ERR_INVALID;
    }
    if ((int)in->state < NSC_INSTANCE_UNKNOWN || (int)in->state > NSC_INSTANCE_DELETING) {
        backend_reader_fail(rd, "group %s: instance %s: field state has unknown value %d",
                            g->id, in->provider_id, (int)in->state);
        return NSC_ERR_INVALID;
    }
    if ((int)in->error_class < NSC_ERROR_CLASS_NONE ||
        (int)in->error_class > NSC_ERROR_CLASS_OTHER) {
        backend_reader_fail(rd, "group %s: instance %s: field error_class has unknown value %d",
                            g->id, in->provider_id, (int)in->error_class);
        return NSC_ERR_INVALID;
    }
    grown = realloc(g->instances, (g->n_instances + 1) * sizeof(*grown));
    if (grown == NULL)
        return NSC_ERR_NOMEM;
    g->instances = grown;
    rec = &grown[g->n_instances];
    memset(rec, 0, sizeof(*rec));
    rec->provider_id = backend_dup(in->provider_id, &oom);
    rec->error_code = backend_dup(in->error_code, &oom);
    rec->error_message = backend_dup(in->error_message, &oom);
    rec->state = in->state;
    rec->error_class = in->error_class;
    if (oom) {
        backend_instance_free(rec);
        return NSC_ERR_NOMEM;
    }
    g->n_instances++;
    return 0;
}

/* One instance of the set, for the duplicate check. */
struct backend_inst_ref {
    const char *provider_id;
    size_t group, index;
};

static int
backend_inst_ref_cmp(const void *a, const void *b)
{
    const struct backend_inst_ref *x = a, *y = b;
    int c = strcmp(x->provider_id, y->provider_id);

    if (c != 0)
        return c;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * An instance listed twice, by one group or by two, would make the core count one machine
 * twice. Sorted rather than compared pairwise: at 5,000 instances the pairwise check was
 * the largest cost of an idle loop. Of several duplicates, the one a pairwise check in
 * listing order finds first is reported: within a group before across groups.
 */
static int
backend_check_unique_instances(const struct group_set *set, char *err, size_t err_len,
                               const char *name)
{
    struct backend_inst_ref *refs, *dup_in = NULL, *cross_a = NULL, *cross_b = NULL;
    size_t n = 0, g, i, k;

    for (g = 0; g < set->n_groups; g++)
        n += set->groups[g].n_instances;
    if (n < 2)
        return 0;
    refs = malloc(n * sizeof(*refs));
    if (refs == NULL) {
        backend_errf(err, err_len, "backend %s: out of memory checking instances", name);
        return NSC_ERR_NOMEM;
    }
    k = 0;
    for (g = 0; g < set->n_groups; g++)
        for (i = 0; i < set->groups[g].n_instances; i++) {
            refs[k].provider_id = set->groups[g].instances[i].provider_id;
            refs[k].group = g;
            refs[k].index = i;
            k++;
        }
    qsort(refs, n, sizeof(*refs), backend_inst_ref_cmp);
    for (k = 0; k + 1 < n; k++) {
        struct backend_inst_ref *a = &refs[k], *b = &refs[k + 1];

        if (strcmp(a->provider_id, b->provider_id) != 0)
            continue;
        if (a->group == b->group) {
            /* the second listing of the earliest group, as read in order */
            if (dup_in == NULL || b->group < dup_in->group ||
                (b->group == dup_in->group && b->index < dup_in->index))
                dup_in = b;
        } else if (cross_a == NULL || a->group < cross_a->group ||
                   (a->group == cross_a->group && a->index < cross_a->index)) {
            /* the earliest listing found again in a later group */
            cross_a = a;
            cross_b = b;
        }
    }
    if (dup_in != NULL)
        backend_errf(err, err_len,
                     "backend %s: group_instances %s: group %s: instance %s: field provider_id "
                     "is a duplicate",
                     name, set->groups[dup_in->group].id, set->groups[dup_in->group].id,
                     dup_in->provider_id);
    else if (cross_a != NULL)
        backend_errf(err, err_len, "backend %s: instance %s is listed by groups %s and %s",
                     name, cross_a->provider_id, set->groups[cross_a->group].id,
                     set->groups[cross_b->group].id);
    free(refs);
    return dup_in != NULL || cross_a != NULL ? NSC_ERR_INVALID : 0;
}

int
backend_read_groups(struct backend *backend, struct group_set *out, char *err, size_t err_len)
{
    struct backend_reader rd;
    struct nsc_sink sink;
    size_t i;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&rd, 0, sizeof(rd));
    rd.set = out;
    sink.ctx = &rd;
    sink.group = backend_sink_group;
    sink.instance = backend_sink_instance;

    rc = backend->ops->node_groups(backend->inst, &sink);
    if (rd.failed) {
        backend_errf(err, err_len, "backend %s: node_groups: %s", backend->ops->name, rd.msg);
        rc = NSC_ERR_INVALID;
        goto fail;
    }
    if (rc != 0) {
        backend_op_err(backend, "node_groups", NULL, rc, err, err_len);
        rc = backend_status(rc);
        goto fail;
    }
    for (i = 0; i < out->n_groups; i++) {
        rd.current = &out->groups[i];
        rc = backend->ops->group_instances(backend->inst, out->groups[i].id, &sink);
        if (rd.failed) {
            backend_errf(err, err_len, "backend %s: group_instances %s: %s", backend->ops->name,
                         out->groups[i].id, rd.msg);
            rc = NSC_ERR_INVALID;
            goto fail;
        }
        if (rc != 0) {
            backend_op_err(backend, "group_instances", out->groups[i].id, rc, err, err_len);
            rc = backend_status(rc);
            goto fail;
        }
    }
    rc = backend_check_unique_instances(out, err, err_len, backend->ops->name);
    if (rc < 0)
        goto fail;
    return 0;

fail:
    group_set_free(out);
    return rc;
}

int
backend_group_for_node(struct backend *backend, const char *provider_id, struct group_set *out,
                       char *err, size_t err_len)
{
    struct backend_reader rd;
    struct nsc_sink sink;
    int rc;

    memset(out, 0, sizeof(*out));
    if (backend->ops->group_for_node == NULL) {
        backend_errf(err, err_len, "backend %s: group_for_node is not provided",
                     backend->ops->name);
        return NSC_ERR_NOT_IMPLEMENTED;
    }
    memset(&rd, 0, sizeof(rd));
    rd.set = out;
    sink.ctx = &rd;
    sink.group = backend_sink_group;
    sink.instance = backend_sink_instance;
    rc = backend->ops->group_for_node(backend->inst, provider_id, &sink);
    if (rd.failed) {
        backend_errf(err, err_len, "backend %s: group_for_node %s: %s", backend->ops->name,
                     provider_id, rd.msg);
        rc = NSC_ERR_INVALID;
    } else if (rc != 0) {
        backend_op_err(backend, "group_for_node", provider_id, rc, err, err_len);
        rc = backend_status(rc);
    } else if (out->n_groups != 1) {
        backend_errf(err, err_len, "backend %s: group_for_node %s emitted %zu groups, not 1",
                     backend->ops->name, provider_id, out->n_groups);
        rc = NSC_ERR_INVALID;
    }
    if (rc < 0)
        group_set_free(out);
    return rc;
}

int
backend_resize(struct backend *backend, const char *group_id, int32_t target, char *err,
               size_t err_len)
{
    int rc;

    if (group_id == NULL || target < 0) {
        backend_errf(err, err_len, "backend %s: resize: invalid group or target %d",
                     backend->ops->name, (int)target);
        return NSC_ERR_INVALID;
    }
    rc = backend->ops->resize(backend->inst, group_id, target);
    if (rc != 0) {
        backend_op_err(backend, "resize", group_id, rc, err, err_len);
        return backend_status(rc);
    }
    return 0;
}

int
backend_evict(struct backend *backend, const char *group_id, const char *const *provider_ids,
              size_t n_ids, char *err, size_t err_len)
{
    size_t i;
    int rc;

    if (group_id == NULL || provider_ids == NULL || n_ids == 0) {
        backend_errf(err, err_len, "backend %s: evict: no group or no instances given",
                     backend->ops->name);
        return NSC_ERR_INVALID;
    }
    for (i = 0; i < n_ids; i++) {
        if (provider_ids[i] == NULL || provider_ids[i][0] == '\0') {
            backend_errf(err, err_len, "backend %s: evict %s: instance %zu has no provider ID",
                         backend->ops->name, group_id, i);
            return NSC_ERR_INVALID;
        }
    }
    rc = backend->ops->evict(backend->inst, group_id, provider_ids, n_ids);
    if (rc != 0) {
        backend_op_err(backend, "evict", group_id, rc, err, err_len);
        return backend_status(rc);
    }
    return 0;
}
