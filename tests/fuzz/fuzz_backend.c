/* The backend driver of fuzz_backend.h. */
#include "config.h"

#include "fuzz_backend.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_common.h"

#define FUZZ_MAX_GROUPS 8

/* What the sinks kept: a few group ids and the first instance seen. */
struct seen {
    char ids[FUZZ_MAX_GROUPS][128];
    int32_t min[FUZZ_MAX_GROUPS], max[FUZZ_MAX_GROUPS], target[FUZZ_MAX_GROUPS];
    size_t n_groups;
    char instance[256];
};

static int
on_group(const struct nsc_sink *sink, const struct nsc_group *g)
{
    struct seen *s = sink->ctx;

    if (g->struct_size != sizeof(*g) || g->id == NULL)
        fuzz_fail("a group without an id or with a wrong struct_size");
    if (g->template_node_json != NULL) {
        json_error_t jerr;
        json_t *j = json_loads(g->template_node_json, 0, &jerr);
        if (!json_is_object(j))
            fuzz_fail("group %s: the template node is not a JSON object: %s", g->id,
                      j ? "not an object" : jerr.text);
        json_decref(j);
    }
    if (s->n_groups < FUZZ_MAX_GROUPS) {
        snprintf(s->ids[s->n_groups], sizeof(s->ids[0]), "%s", g->id);
        s->min[s->n_groups] = g->min_size;
        s->max[s->n_groups] = g->max_size;
        s->target[s->n_groups] = g->target_size;
        s->n_groups++;
    }
    return NSC_OK;
}

static int
on_instance(const struct nsc_sink *sink, const struct nsc_instance *in)
{
    struct seen *s = sink->ctx;

    if (in->struct_size != sizeof(*in) || in->provider_id == NULL)
        fuzz_fail("an instance without a provider id or with a wrong struct_size");
    if (s->instance[0] == '\0')
        snprintf(s->instance, sizeof(s->instance), "%s", in->provider_id);
    return NSC_OK;
}

/* A failed operation says why, and never with the secret. */
static void
check_status(const struct nsc_backend_ops *ops, struct nsc_backend *b, int rc, const char *op,
             const char *secret)
{
    const char *why;

    if (rc >= 0)
        return;
    why = ops->last_error(b);
    if (rc != NSC_ERR_NOMEM && (why == NULL || why[0] == '\0'))
        fuzz_fail("%s failed with %d without saying why", op, rc);
    if (why != NULL && secret != NULL && strstr(why, secret) != NULL)
        fuzz_fail("%s: the error message holds the secret: %s", op, why);
}

void
fuzz_backend_drive(const struct nsc_backend_ops *ops, const struct nsc_host *host,
                   const struct nsc_option *opts, size_t n_opts, const char *secret)
{
    struct seen s;
    struct nsc_sink sink = {&s, on_group, on_instance};
    struct nsc_backend *b = NULL;
    const char *ids[1];
    char err[1024] = "";
    size_t i;
    int rc, pass;

    memset(&s, 0, sizeof(s));
    rc = ops->create(host, opts, n_opts, &b, err, sizeof(err));
    fuzz_need_reason(rc, err, "create");
    if (secret != NULL && strstr(err, secret) != NULL)
        fuzz_fail("create: the error message holds the secret: %s", err);
    if (rc < 0)
        return;
    for (pass = 0; pass < 2; pass++) {
        check_status(ops, b, ops->refresh(b), "refresh", secret);
        memset(&s, 0, sizeof(s));
        check_status(ops, b, ops->node_groups(b, &sink), "node_groups", secret);
        for (i = 0; i < s.n_groups; i++)
            check_status(ops, b, ops->group_instances(b, s.ids[i], &sink), "group_instances",
                         secret);
        if (pass == 0 && s.n_groups > 0) {
            int32_t up = s.target[0] < s.max[0] ? s.target[0] + 1 : s.target[0];
            check_status(ops, b, ops->resize(b, s.ids[0], up), "resize", secret);
            if (s.instance[0] != '\0') {
                ids[0] = s.instance;
                check_status(ops, b, ops->evict(b, s.ids[0], ids, 1), "evict", secret);
            }
        }
    }
    if (ops->group_for_node != NULL && s.instance[0] != '\0')
        check_status(ops, b, ops->group_for_node(b, s.instance, &sink), "group_for_node",
                     secret);
    ops->destroy(b);
}
