/* Tiny backends for the loader and sink tests: compiled once per TP_* case, each breaking
 * exactly one rule of backend.h (TP_GOOD breaks none and misbehaves only on request). */
#include <nodescaler/backend.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nsc_backend {
    const struct nsc_host *host;
    char mode[64];
    int32_t target;
    char error[256];
};

static int
tp_create(const struct nsc_host *host, const struct nsc_option *opts, size_t n_opts,
          struct nsc_backend **out, char *errbuf, size_t errbuf_len)
{
    const char *mode = host->option(host, "mode", "TP_MODE");
    const char *secret = host->option(host, "secret", NULL);
    struct nsc_backend *b;

    (void)opts;
    (void)n_opts;
    *out = NULL;
    if (secret != NULL)
        host->redact(host, secret);
    if (mode != NULL && strcmp(mode, "create-fail") == 0) {
        snprintf(errbuf, errbuf_len, "option secret: key %s was refused",
                 secret ? secret : "(none)");
        return NSC_ERR_AUTH;
    }
    if (mode != NULL && strcmp(mode, "create-null") == 0)
        return NSC_OK;
    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NSC_ERR_NOMEM;
    b->host = host;
    snprintf(b->mode, sizeof(b->mode), "%s", mode ? mode : "ok");
    b->target = 1;
    host->log(host, NSC_LOG_INFO, "created in mode %s with secret %s", b->mode,
              secret ? secret : "(none)");
    *out = b;
    return NSC_OK;
}

static void
tp_destroy(struct nsc_backend *b)
{
    free(b);
}

/* Unused in the TP_NULLOP build, which leaves it out of the table. */
static int tp_refresh(struct nsc_backend *b) __attribute__((unused));

static int
tp_refresh(struct nsc_backend *b)
{
    if (strcmp(b->mode, "refresh-fail") == 0) {
        snprintf(b->error, sizeof(b->error), "cloud said 503");
        return NSC_ERR_TRANSIENT;
    }
    if (strcmp(b->mode, "bad-status") == 0)
        return 7;
    return NSC_OK;
}

static int
tp_node_groups(struct nsc_backend *b, const struct nsc_sink *sink)
{
    struct nsc_group g;
    struct nsc_instance in;
    int rc;

    memset(&g, 0, sizeof(g));
    g.struct_size = sizeof(g);
    g.id = "alpha";
    g.min_size = 0;
    g.max_size = 5;
    g.target_size = b->target;
    g.template_node_json = "{\"kind\":\"Node\"}";
    if (strcmp(b->mode, "no-id") == 0)
        g.id = NULL;
    else if (strcmp(b->mode, "min-max") == 0)
        g.min_size = 6;
    else if (strcmp(b->mode, "negative-min") == 0)
        g.min_size = -1;
    else if (strcmp(b->mode, "target") == 0)
        g.target_size = 9;
    else if (strcmp(b->mode, "small-record") == 0)
        g.struct_size = 8;
    rc = sink->group(sink, &g);
    if (rc < 0)
        return rc;
    if (strcmp(b->mode, "instance-in-groups") == 0) {
        memset(&in, 0, sizeof(in));
        in.struct_size = sizeof(in);
        in.provider_id = "tp://x";
        return sink->instance(sink, &in);
    }
    g.id = strcmp(b->mode, "dup-id") == 0 ? "alpha" : "beta";
    g.name = "Beta pool";
    g.target_size = 0;
    g.template_node_json = NULL;
    return sink->group(sink, &g);
}

static int
tp_group_instances(struct nsc_backend *b, const char *group_id, const struct nsc_sink *sink)
{
    struct nsc_instance in;
    int rc;

    memset(&in, 0, sizeof(in));
    in.struct_size = sizeof(in);
    in.state = NSC_INSTANCE_RUNNING;
    if (strcmp(group_id, "beta") == 0) {
        if (strcmp(b->mode, "cross-dup") != 0)
            return NSC_OK;
        in.provider_id = "tp://alpha-1";
        return sink->instance(sink, &in);
    }
    if (strcmp(group_id, "alpha") != 0)
        return NSC_ERR_NOT_FOUND;
    if (strcmp(b->mode, "instances-fail") == 0) {
        snprintf(b->error, sizeof(b->error), "listing alpha failed");
        return NSC_ERR_AUTH;
    }
    if (strcmp(b->mode, "group-in-instances") == 0) {
        struct nsc_group g;

        memset(&g, 0, sizeof(g));
        g.struct_size = sizeof(g);
        g.id = "gamma";
        return sink->group(sink, &g);
    }
    in.provider_id = strcmp(b->mode, "no-provider-id") == 0 ? "" : "tp://alpha-1";
    if (strcmp(b->mode, "bad-state") == 0)
        in.state = (enum nsc_instance_state)42;
    if (strcmp(b->mode, "bad-error-class") == 0)
        in.error_class = (enum nsc_error_class)9;
    rc = sink->instance(sink, &in);
    if (rc < 0)
        return rc;
    in.provider_id = strcmp(b->mode, "dup-instance") == 0 ? "tp://alpha-1" : "tp://alpha-2";
    in.state = NSC_INSTANCE_CREATING;
    in.error_class = NSC_ERROR_CLASS_OUT_OF_RESOURCES;
    in.error_code = "QUOTA";
    in.error_message = "quota exceeded";
    return sink->instance(sink, &in);
}

static int
tp_resize(struct nsc_backend *b, const char *group_id, int32_t target)
{
    if (strcmp(group_id, "alpha") != 0) {
        snprintf(b->error, sizeof(b->error), "no group %s", group_id);
        return NSC_ERR_NOT_FOUND;
    }
    if (target > 5) {
        snprintf(b->error, sizeof(b->error), "target %d above max 5", (int)target);
        return NSC_ERR_INVALID;
    }
    b->target = target;
    b->error[0] = '\0';
    return NSC_OK;
}

static int
tp_evict(struct nsc_backend *b, const char *group_id, const char *const *ids, size_t n_ids)
{
    (void)ids;
    if (strcmp(group_id, "alpha") != 0 || (int32_t)n_ids > b->target) {
        snprintf(b->error, sizeof(b->error), "cannot evict %zu from %s", n_ids, group_id);
        return NSC_ERR_INVALID;
    }
    b->target -= (int32_t)n_ids;
    return NSC_OK;
}

static const char *
tp_last_error(struct nsc_backend *b)
{
    return b->error;
}

static int
tp_group_for_node(struct nsc_backend *b, const char *provider_id, const struct nsc_sink *sink)
{
    struct nsc_group g;

    if (strncmp(provider_id, "tp://alpha-", 11) != 0) {
        snprintf(b->error, sizeof(b->error), "%s belongs to no group", provider_id);
        return NSC_ERR_NOT_FOUND;
    }
    memset(&g, 0, sizeof(g));
    g.struct_size = sizeof(g);
    g.id = "alpha";
    g.max_size = 5;
    g.target_size = b->target;
    return sink->group(sink, &g);
}

#if defined(TP_MAJOR)
#define TP_ABI_MAJOR (NSC_ABI_MAJOR + 1)
#else
#define TP_ABI_MAJOR NSC_ABI_MAJOR
#endif
#if defined(TP_MINOR)
#define TP_ABI_MINOR (NSC_ABI_MINOR + 1)
#else
#define TP_ABI_MINOR NSC_ABI_MINOR
#endif
#if defined(TP_SMALL)
#define TP_SIZE ((uint32_t)offsetof(struct nsc_backend_ops, last_error))
#else
#define TP_SIZE ((uint32_t)sizeof(struct nsc_backend_ops))
#endif
#if defined(TP_NULLOP)
#define TP_REFRESH NULL
#else
#define TP_REFRESH tp_refresh
#endif

static const struct nsc_backend_ops tp_ops = {
    TP_ABI_MAJOR, TP_ABI_MINOR, TP_SIZE,       "testplugin",   "0.0.1",
    tp_create,    tp_destroy,   TP_REFRESH,    tp_node_groups, tp_group_instances,
    tp_resize,    tp_evict,     tp_last_error,
#if defined(TP_NO_OPTIONAL)
    NULL,
#else
    tp_group_for_node,
#endif
};

#if defined(TP_NOENTRY)
NSC_EXPORT const struct nsc_backend_ops *tp_not_the_entry(void);
NSC_EXPORT const struct nsc_backend_ops *
tp_not_the_entry(void)
{
    return &tp_ops;
}
#elif defined(TP_ABI2)
NSC_EXPORT const struct nsc_backend_ops *nsc_backend_entry_v2(void);
NSC_EXPORT const struct nsc_backend_ops *
nsc_backend_entry_v2(void)
{
    return &tp_ops;
}
#else
NSC_EXPORT const struct nsc_backend_ops *
nsc_backend_entry_v1(void)
{
    return &tp_ops;
}
#endif
