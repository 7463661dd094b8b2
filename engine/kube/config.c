/* Kubernetes client configuration: kubeconfig files (through libyaml into jansson, then
 * validated field by field) and the in-cluster service account. */
#include "config.h"

#include "kube/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <yaml.h>

#include "log.h"

#define KUBECONFIG_MAX_BYTES (16u << 20)
#define YAML_MAX_DEPTH 64
#define SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"

int
kube_errf(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;

    if (err && err_len) {
        va_start(ap, fmt);
        log_redact_vformat(err, err_len, fmt, ap);
        va_end(ap);
    }
    return NSC_ERR_INVALID;
}

int
kube_read_file(const char *path, size_t max_len, char **out, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    struct stat st;

    if (f == NULL)
        return NSC_ERR_NOT_FOUND;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        /* fopen takes a directory; only the read would fail, as a bare "read error" */
        fclose(f);
        errno = EISDIR;
        return NSC_ERR_NOT_FOUND;
    }
    for (;;) {
        size_t got;

        if (cap - len < 4096) {
            char *grown;

            cap = cap ? cap * 2 : 8192;
            grown = realloc(buf, cap + 1);
            if (grown == NULL) {
                free(buf);
                fclose(f);
                return NSC_ERR_NOMEM;
            }
            buf = grown;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len > max_len) {
            free(buf);
            fclose(f);
            return NSC_ERR_INVALID;
        }
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        int e = errno;

        free(buf);
        fclose(f);
        errno = e;
        return NSC_ERR_NOT_FOUND;
    }
    fclose(f);
    buf[len] = '\0';
    *out = buf;
    if (out_len)
        *out_len = len;
    return 0;
}

const char *
kube_strerror(int e)
{
    return e == EISDIR ? "is a directory" : strerror(e);
}

static int
b64_value(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int
kube_base64_decode(const char *in, unsigned char **out, size_t *out_len)
{
    size_t n = strlen(in), len = 0, pad = 0;
    unsigned char *buf = malloc(n / 4 * 3 + 4);
    unsigned acc = 0;
    int bits = 0;

    if (buf == NULL)
        return NSC_ERR_NOMEM;
    for (; *in; in++) {
        int v;

        if (*in == ' ' || *in == '\n' || *in == '\r' || *in == '\t')
            continue;
        if (*in == '=') {
            pad++;
            continue;
        }
        v = b64_value((unsigned char)*in);
        if (v < 0 || pad) {
            free(buf);
            return NSC_ERR_INVALID;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[len++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* 6 leftover bits cannot come from whole bytes; more than two '=' is not base64. */
    if (bits >= 6 || pad > 2) {
        free(buf);
        return NSC_ERR_INVALID;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return 0;
}

/* ---- YAML to jansson ------------------------------------------------------------- */

static json_t *
yaml_node_to_json(yaml_document_t *doc, yaml_node_t *node, int depth)
{
    json_t *j = NULL;

    if (node == NULL || depth > YAML_MAX_DEPTH)
        return NULL;
    switch (node->type) {
    case YAML_SCALAR_NODE: {
        const char *v = (const char *)node->data.scalar.value;
        size_t vl = node->data.scalar.length;

        /* Plain scalars may be booleans or null; quoted ones are always strings. */
        if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
            if ((vl == 4 && (!strcmp(v, "true") || !strcmp(v, "True"))))
                return json_true();
            if (vl == 5 && (!strcmp(v, "false") || !strcmp(v, "False")))
                return json_false();
            if (vl == 0 || !strcmp(v, "null") || !strcmp(v, "~"))
                return json_null();
        }
        return json_stringn(v, vl);
    }
    case YAML_SEQUENCE_NODE: {
        yaml_node_item_t *it;

        j = json_array();
        for (it = node->data.sequence.items.start; j && it < node->data.sequence.items.top;
             it++) {
            json_t *c = yaml_node_to_json(doc, yaml_document_get_node(doc, *it), depth + 1);

            if (c == NULL || json_array_append_new(j, c)) {
                json_decref(j);
                return NULL;
            }
        }
        return j;
    }
    case YAML_MAPPING_NODE: {
        yaml_node_pair_t *p;

        j = json_object();
        for (p = node->data.mapping.pairs.start; j && p < node->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            json_t *c;

            if (k == NULL || k->type != YAML_SCALAR_NODE) {
                json_decref(j);
                return NULL;
            }
            c = yaml_node_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1);
            if (c == NULL || json_object_set_new(j, (const char *)k->data.scalar.value, c)) {
                json_decref(j);
                return NULL;
            }
        }
        return j;
    }
    default:
        return NULL;
    }
}

/* Parse YAML (or JSON) text into jansson. Returns NULL and fills err on failure. */
static json_t *
yaml_text_to_json(const char *file, const char *text, size_t len, char *err, size_t err_len)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    json_t *j = NULL;
    yaml_node_t *root;

    if (!yaml_parser_initialize(&parser)) {
        kube_errf(err, err_len, "kubeconfig %s: out of memory", file);
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        kube_errf(err, err_len, "kubeconfig %s: YAML error at line %lu: %s", file,
                  (unsigned long)parser.problem_mark.line + 1,
                  parser.problem ? parser.problem : "unknown");
        yaml_parser_delete(&parser);
        return NULL;
    }
    root = yaml_document_get_root_node(&doc);
    if (root == NULL)
        kube_errf(err, err_len, "kubeconfig %s: empty file", file);
    else if ((j = yaml_node_to_json(&doc, root, 0)) == NULL)
        kube_errf(err, err_len,
                  "kubeconfig %s: unsupported YAML (non-scalar key or nesting too deep)", file);
    else if (!json_is_object(j)) {
        kube_errf(err, err_len, "kubeconfig %s: top level is not a mapping", file);
        json_decref(j);
        j = NULL;
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return j;
}

/* ---- merged named entries ------------------------------------------------------- */

struct kc_file {
    char *path;
    char *dir; /* with a trailing '/' */
    json_t *root;
};

struct kc_entry {
    const char *name;
    json_t *body; /* borrowed from the file's root */
    size_t file;  /* index into the file list */
    size_t index; /* position in that file's list, for messages */
};

struct kc {
    struct kc_file *files;
    size_t n_files;
    const char *current_context;
    size_t current_context_file;
};

static char *
dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) + 1 : 0;
    char *d = malloc(n + 3);

    if (d == NULL)
        return NULL;
    if (n)
        memcpy(d, path, n);
    else
        memcpy(d, "./", (n = 2));
    d[n] = '\0';
    return d;
}

/* Find the named entry in list `list` ("clusters", "users", "contexts"), first file wins.
 * `field` is "cluster", "user" or "context". Validates every entry's shape on the way. */
static int
kc_find(struct kc *kc, const char *list, const char *field, const char *name,
        struct kc_entry *out, char *err, size_t err_len)
{
    size_t f, i;

    for (f = 0; f < kc->n_files; f++) {
        json_t *arr = json_object_get(kc->files[f].root, list);
        json_t *item;

        if (arr == NULL || json_is_null(arr))
            continue;
        if (!json_is_array(arr))
            return kube_errf(err, err_len, "kubeconfig %s: %s: not a list", kc->files[f].path,
                             list);
        json_array_foreach(arr, i, item)
        {
            json_t *n = json_object_get(item, "name");
            json_t *body = json_object_get(item, field);

            if (!json_is_object(item))
                return kube_errf(err, err_len, "kubeconfig %s: %s[%zu]: not a mapping",
                                 kc->files[f].path, list, i);
            if (!json_is_string(n) || json_string_length(n) == 0)
                return kube_errf(err, err_len,
                                 "kubeconfig %s: %s[%zu].name: missing or not a string",
                                 kc->files[f].path, list, i);
            if (strcmp(json_string_value(n), name) != 0)
                continue;
            if (!json_is_object(body))
                return kube_errf(err, err_len,
                                 "kubeconfig %s: %s[%zu] \"%s\".%s: missing or not a mapping",
                                 kc->files[f].path, list, i, name, field);
            out->name = json_string_value(n);
            out->body = body;
            out->file = f;
            out->index = i;
            return 0;
        }
    }
    return NSC_ERR_NOT_FOUND;
}

/* Get an optional string field. Returns 0 (value or NULL), or an error naming it. */
static int
kc_str(struct kc *kc, const struct kc_entry *e, const char *list, const char *field,
       const char *key, const char **out, char *err, size_t err_len)
{
    json_t *v = json_object_get(e->body, key);

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return kube_errf(err, err_len, "kubeconfig %s: %s[%zu] \"%s\".%s.%s: not a string",
                         kc->files[e->file].path, list, e->index, e->name, field, key);
    *out = json_string_value(v);
    if (**out == '\0')
        *out = NULL;
    return 0;
}

/* Resolve a path from the file that defined the entry. Owned result. */
/* A file path the kubeconfig names (CA, client certificate or key, token file) that is a
 * directory: named now, not as an obscure TLS or read failure at the first request. */
static int
refuse_dir(const struct kc *kc, const struct kc_entry *ref, const char *section,
           const char *field, const char *path, char *err, size_t err_len)
{
    struct stat st;

    if (path == NULL || stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return 0;
    return kube_errf(err, err_len, "kubeconfig %s: %s[%zu] \"%s\".%s: %s: is a directory",
                     kc->files[ref->file].path, section, ref->index, ref->name, field, path);
}

static char *
kc_path(struct kc *kc, const struct kc_entry *e, const char *p)
{
    const char *dir = kc->files[e->file].dir;
    char *r;

    if (p[0] == '/')
        return strdup(p);
    r = malloc(strlen(dir) + strlen(p) + 1);
    if (r)
        sprintf(r, "%s%s", dir, p);
    return r;
}

static int
kc_b64(struct kc *kc, const struct kc_entry *e, const char *list, const char *field,
       const char *key, const char *val, unsigned char **out, size_t *out_len, char *err,
       size_t err_len)
{
    int rc = kube_base64_decode(val, out, out_len);

    if (rc == NSC_ERR_NOMEM)
        return rc;
    if (rc || *out_len == 0) {
        if (rc == 0)
            free(*out);
        *out = NULL;
        return kube_errf(err, err_len, "kubeconfig %s: %s[%zu] \"%s\".%s.%s: not valid base64",
                         kc->files[e->file].path, list, e->index, e->name, field, key);
    }
    return 0;
}

void
kube_config_free(struct kube_config *cfg)
{
    size_t i;

    if (cfg == NULL)
        return;
    free(cfg->source);
    free(cfg->server);
    free(cfg->namespace);
    free(cfg->ca_file);
    free(cfg->ca_data);
    free(cfg->cert_file);
    free(cfg->key_file);
    free(cfg->cert_data);
    if (cfg->key_data) {
        memset(cfg->key_data, 0, cfg->key_data_len);
        free(cfg->key_data);
    }
    if (cfg->token) {
        memset(cfg->token, 0, strlen(cfg->token));
        free(cfg->token);
    }
    free(cfg->token_file);
    free(cfg->tls_server_name);
    if (cfg->exec) {
        free(cfg->exec->api_version);
        free(cfg->exec->command);
        for (i = 0; i < cfg->exec->n_args; i++)
            free(cfg->exec->args[i]);
        free(cfg->exec->args);
        for (i = 0; i < cfg->exec->n_env; i++)
            free(cfg->exec->env[i]);
        free(cfg->exec->env);
        free(cfg->exec->interactive_mode);
        free(cfg->exec);
    }
    free(cfg);
}

static int
dup_to(char **dst, const char *src)
{
    if (src == NULL)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : NSC_ERR_NOMEM;
}

#define TRY(expr)                                                                              \
    do {                                                                                       \
        rc = (expr);                                                                           \
        if (rc)                                                                                \
            goto done;                                                                         \
    } while (0)

static int
kc_exec(struct kc *kc, const struct kc_entry *u, json_t *ex, struct kube_config *cfg, char *err,
        size_t err_len)
{
    const char *path = kc->files[u->file].path;
    json_t *v, *item;
    size_t i;
    struct kube_exec *e;
    const char *cmd;
    int rc = 0;

    if (!json_is_object(ex))
        return kube_errf(err, err_len,
                         "kubeconfig %s: users[%zu] \"%s\".user.exec: not a mapping", path,
                         u->index, u->name);
    e = cfg->exec = calloc(1, sizeof(*e));
    if (e == NULL)
        return NSC_ERR_NOMEM;
    v = json_object_get(ex, "apiVersion");
    if (!json_is_string(v) ||
        (strcmp(json_string_value(v), "client.authentication.k8s.io/v1") != 0 &&
         strcmp(json_string_value(v), "client.authentication.k8s.io/v1beta1") != 0))
        return kube_errf(err, err_len,
                         "kubeconfig %s: users[%zu] \"%s\".user.exec.apiVersion: must be "
                         "client.authentication.k8s.io/v1 or v1beta1",
                         path, u->index, u->name);
    TRY(dup_to(&e->api_version, json_string_value(v)));
    v = json_object_get(ex, "command");
    if (!json_is_string(v) || json_string_length(v) == 0)
        return kube_errf(err, err_len,
                         "kubeconfig %s: users[%zu] \"%s\".user.exec.command: missing", path,
                         u->index, u->name);
    cmd = json_string_value(v);
    /* client-go: a relative command containing '/' is relative to the kubeconfig. */
    if (cmd[0] != '/' && strchr(cmd, '/'))
        e->command = kc_path(kc, u, cmd);
    else
        e->command = strdup(cmd);
    if (e->command == NULL)
        return NSC_ERR_NOMEM;
    v = json_object_get(ex, "args");
    if (v && !json_is_null(v)) {
        if (!json_is_array(v))
            return kube_errf(err, err_len,
                             "kubeconfig %s: users[%zu] \"%s\".user.exec.args: not a list",
                             path, u->index, u->name);
        e->args = calloc(json_array_size(v) + 1, sizeof(char *));
        if (e->args == NULL)
            return NSC_ERR_NOMEM;
        json_array_foreach(v, i, item)
        {
            if (!json_is_string(item))
                return kube_errf(
                    err, err_len,
                    "kubeconfig %s: users[%zu] \"%s\".user.exec.args[%zu]: not a string", path,
                    u->index, u->name, i);
            TRY(dup_to(&e->args[e->n_args], json_string_value(item)));
            e->n_args++;
        }
    }
    v = json_object_get(ex, "env");
    if (v && !json_is_null(v)) {
        if (!json_is_array(v))
            return kube_errf(err, err_len,
                             "kubeconfig %s: users[%zu] \"%s\".user.exec.env: not a list", path,
                             u->index, u->name);
        e->env = calloc(json_array_size(v) + 1, sizeof(char *));
        if (e->env == NULL)
            return NSC_ERR_NOMEM;
        json_array_foreach(v, i, item)
        {
            json_t *n = json_object_get(item, "name"), *val = json_object_get(item, "value");
            char *kv;

            if (!json_is_string(n) || json_string_length(n) == 0 ||
                strchr(json_string_value(n), '=') || (val && !json_is_string(val)))
                return kube_errf(
                    err, err_len,
                    "kubeconfig %s: users[%zu] \"%s\".user.exec.env[%zu]: needs a name "
                    "(without '=') and a string value",
                    path, u->index, u->name, i);
            kv = malloc(json_string_length(n) + (val ? json_string_length(val) : 0) + 2);
            if (kv == NULL)
                return NSC_ERR_NOMEM;
            sprintf(kv, "%s=%s", json_string_value(n), val ? json_string_value(val) : "");
            e->env[e->n_env++] = kv;
        }
    }
    v = json_object_get(ex, "provideClusterInfo");
    e->provide_cluster_info = json_is_true(v);
    v = json_object_get(ex, "interactiveMode");
    if (v && !json_is_null(v)) {
        const char *m = json_string_value(v);

        if (m == NULL ||
            (strcmp(m, "Never") && strcmp(m, "IfAvailable") && strcmp(m, "Always")))
            return kube_errf(
                err, err_len,
                "kubeconfig %s: users[%zu] \"%s\".user.exec.interactiveMode: must be "
                "Never, IfAvailable or Always",
                path, u->index, u->name);
        /* A daemon has no terminal: a plugin that insists on one cannot work. */
        if (strcmp(m, "Always") == 0)
            return kube_errf(
                err, err_len,
                "kubeconfig %s: users[%zu] \"%s\".user.exec.interactiveMode: Always "
                "needs a terminal, which nodescaler never has",
                path, u->index, u->name);
        TRY(dup_to(&e->interactive_mode, m));
    }
done:
    return rc;
}

static int
kc_bool(struct kc *kc, const struct kc_entry *e, const char *list, const char *field,
        const char *key, int *out, char *err, size_t err_len)
{
    json_t *v = json_object_get(e->body, key);

    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (json_is_string(v) &&
        (!strcmp(json_string_value(v), "true") || !strcmp(json_string_value(v), "false"))) {
        *out = !strcmp(json_string_value(v), "true");
        return 0;
    }
    return kube_errf(err, err_len, "kubeconfig %s: %s[%zu] \"%s\".%s.%s: not a boolean",
                     kc->files[e->file].path, list, e->index, e->name, field, key);
}

static int
kc_resolve(struct kc *kc, const char *context, struct kube_config *cfg, char *err,
           size_t err_len)
{
    struct kc_entry ctx, cl, us;
    const char *ctx_name = context, *cl_name = NULL, *us_name = NULL, *ns = NULL, *s;
    const char *first = kc->files[0].path;
    int rc;
    int has_user = 0;

    if (ctx_name == NULL)
        ctx_name = kc->current_context;
    if (ctx_name == NULL)
        return kube_errf(err, err_len,
                         "kubeconfig %s: current-context: not set and no --kube-context given",
                         first);
    rc = kc_find(kc, "contexts", "context", ctx_name, &ctx, err, err_len);
    if (rc == NSC_ERR_NOT_FOUND)
        return kube_errf(err, err_len, "kubeconfig %s: %s \"%s\": no such entry in contexts",
                         context ? first : kc->files[kc->current_context_file].path,
                         context ? "--kube-context" : "current-context", ctx_name);
    if (rc)
        return rc;
    if ((rc = kc_str(kc, &ctx, "contexts", "context", "cluster", &cl_name, err, err_len)) ||
        (rc = kc_str(kc, &ctx, "contexts", "context", "user", &us_name, err, err_len)) ||
        (rc = kc_str(kc, &ctx, "contexts", "context", "namespace", &ns, err, err_len)))
        return rc;
    if (cl_name == NULL)
        return kube_errf(err, err_len,
                         "kubeconfig %s: contexts[%zu] \"%s\".context.cluster: missing",
                         kc->files[ctx.file].path, ctx.index, ctx.name);
    rc = kc_find(kc, "clusters", "cluster", cl_name, &cl, err, err_len);
    if (rc == NSC_ERR_NOT_FOUND)
        return kube_errf(
            err, err_len,
            "kubeconfig %s: contexts[%zu] \"%s\".context.cluster: no cluster named \"%s\"",
            kc->files[ctx.file].path, ctx.index, ctx.name, cl_name);
    if (rc)
        return rc;
    if (us_name) {
        rc = kc_find(kc, "users", "user", us_name, &us, err, err_len);
        if (rc == NSC_ERR_NOT_FOUND)
            return kube_errf(
                err, err_len,
                "kubeconfig %s: contexts[%zu] \"%s\".context.user: no user named \"%s\"",
                kc->files[ctx.file].path, ctx.index, ctx.name, us_name);
        if (rc)
            return rc;
        has_user = 1;
    }

    /* cluster */
    if ((rc = kc_str(kc, &cl, "clusters", "cluster", "server", &s, err, err_len)))
        return rc;
    if (s == NULL)
        return kube_errf(err, err_len,
                         "kubeconfig %s: clusters[%zu] \"%s\".cluster.server: missing",
                         kc->files[cl.file].path, cl.index, cl.name);
    if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
        return kube_errf(err, err_len,
                         "kubeconfig %s: clusters[%zu] \"%s\".cluster.server: \"%s\" is not an "
                         "http:// or https:// URL",
                         kc->files[cl.file].path, cl.index, cl.name, s);
    if ((cfg->server = strdup(s)) == NULL)
        return NSC_ERR_NOMEM;
    while (cfg->server[0] && cfg->server[strlen(cfg->server) - 1] == '/')
        cfg->server[strlen(cfg->server) - 1] = '\0';
    if ((rc = kc_str(kc, &cl, "clusters", "cluster", "certificate-authority-data", &s, err,
                     err_len)))
        return rc;
    if (s && (rc = kc_b64(kc, &cl, "clusters", "cluster", "certificate-authority-data", s,
                          &cfg->ca_data, &cfg->ca_data_len, err, err_len)))
        return rc;
    if ((rc =
             kc_str(kc, &cl, "clusters", "cluster", "certificate-authority", &s, err, err_len)))
        return rc;
    /* data wins over file, as in client-go */
    if (s && cfg->ca_data == NULL && (cfg->ca_file = kc_path(kc, &cl, s)) == NULL)
        return NSC_ERR_NOMEM;
    if ((rc = refuse_dir(kc, &cl, "clusters", "cluster.certificate-authority", cfg->ca_file,
                         err, err_len)))
        return rc;
    if ((rc = kc_bool(kc, &cl, "clusters", "cluster", "insecure-skip-tls-verify",
                      &cfg->insecure, err, err_len)))
        return rc;
    if (cfg->insecure && (cfg->ca_data || cfg->ca_file))
        return kube_errf(
            err, err_len,
            "kubeconfig %s: clusters[%zu] \"%s\".cluster.insecure-skip-tls-verify: "
            "cannot be combined with certificate-authority(-data)",
            kc->files[cl.file].path, cl.index, cl.name);
    if ((rc = kc_str(kc, &cl, "clusters", "cluster", "tls-server-name", &s, err, err_len)) ||
        (rc = dup_to(&cfg->tls_server_name, s)))
        return rc;

    /* user */
    if (has_user) {
        const char *cd = NULL, *kd = NULL, *cf = NULL, *kf = NULL;
        json_t *ex;

        if ((rc = kc_str(kc, &us, "users", "user", "token", &s, err, err_len)) ||
            (rc = dup_to(&cfg->token, s)))
            return rc;
        if (s)
            log_redact_add(s);
        if ((rc = kc_str(kc, &us, "users", "user", "tokenFile", &s, err, err_len)))
            return rc;
        if (s && (cfg->token_file = kc_path(kc, &us, s)) == NULL)
            return NSC_ERR_NOMEM;
        if ((rc =
                 refuse_dir(kc, &us, "users", "user.tokenFile", cfg->token_file, err, err_len)))
            return rc;
        if ((rc = kc_str(kc, &us, "users", "user", "client-certificate-data", &cd, err,
                         err_len)) ||
            (rc = kc_str(kc, &us, "users", "user", "client-key-data", &kd, err, err_len)) ||
            (rc = kc_str(kc, &us, "users", "user", "client-certificate", &cf, err, err_len)) ||
            (rc = kc_str(kc, &us, "users", "user", "client-key", &kf, err, err_len)))
            return rc;
        if (kd)
            log_redact_add(kd);
        if (cd && (rc = kc_b64(kc, &us, "users", "user", "client-certificate-data", cd,
                               &cfg->cert_data, &cfg->cert_data_len, err, err_len)))
            return rc;
        if (kd && (rc = kc_b64(kc, &us, "users", "user", "client-key-data", kd, &cfg->key_data,
                               &cfg->key_data_len, err, err_len)))
            return rc;
        if (cfg->key_data)
            log_redact_add((const char *)cfg->key_data);
        if (cf && !cd && (cfg->cert_file = kc_path(kc, &us, cf)) == NULL)
            return NSC_ERR_NOMEM;
        if (kf && !kd && (cfg->key_file = kc_path(kc, &us, kf)) == NULL)
            return NSC_ERR_NOMEM;
        if ((rc = refuse_dir(kc, &us, "users", "user.client-certificate", cfg->cert_file, err,
                             err_len)) ||
            (rc = refuse_dir(kc, &us, "users", "user.client-key", cfg->key_file, err, err_len)))
            return rc;
        if ((cfg->cert_data || cfg->cert_file) != (cfg->key_data || cfg->key_file))
            return kube_errf(
                err, err_len,
                "kubeconfig %s: users[%zu] \"%s\".user.%s: a client certificate needs "
                "both client-certificate(-data) and client-key(-data)",
                kc->files[us.file].path, us.index, us.name,
                (cfg->cert_data || cfg->cert_file) ? "client-key" : "client-certificate");
        ex = json_object_get(us.body, "exec");
        if (ex && !json_is_null(ex) && (rc = kc_exec(kc, &us, ex, cfg, err, err_len)))
            return rc;
        if (json_object_get(us.body, "auth-provider"))
            return kube_errf(
                err, err_len,
                "kubeconfig %s: users[%zu] \"%s\".user.auth-provider: not supported "
                "(use an exec credential plugin)",
                kc->files[us.file].path, us.index, us.name);
        if (json_object_get(us.body, "username") || json_object_get(us.body, "password"))
            return kube_errf(
                err, err_len,
                "kubeconfig %s: users[%zu] \"%s\".user.username: basic authentication "
                "is not supported (removed from kube-apiserver in 1.19)",
                kc->files[us.file].path, us.index, us.name);
    }
    if ((rc = dup_to(&cfg->namespace, ns ? ns : "default")))
        return rc;
    {
        size_t n = strlen(first) + strlen(ctx_name) + 40;

        cfg->source = malloc(n);
        if (cfg->source == NULL)
            return NSC_ERR_NOMEM;
        snprintf(cfg->source, n, "kubeconfig %s (context %s)", first, ctx_name);
    }
    return 0;
}

int
kube_config_load_kubeconfig(const char *paths, const char *context, struct kube_config **out,
                            char *err, size_t err_len)
{
    struct kc kc = {0};
    struct kube_config *cfg = NULL;
    char *list = NULL, *save = NULL, *p;
    size_t i;
    int rc = 0;

    *out = NULL;
    if (paths == NULL || *paths == '\0')
        return kube_errf(err, err_len, "kubeconfig: no file given");
    list = strdup(paths);
    kc.files = calloc(strlen(paths) / 2 + 2, sizeof(*kc.files));
    if (list == NULL || kc.files == NULL) {
        rc = NSC_ERR_NOMEM;
        goto done;
    }
    for (p = strtok_r(list, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
        struct kc_file *f = &kc.files[kc.n_files];
        char *text = NULL;
        size_t len;
        json_t *cc;

        rc = kube_read_file(p, KUBECONFIG_MAX_BYTES, &text, &len);
        if (rc == NSC_ERR_NOT_FOUND) {
            rc = kube_errf(err, err_len, "kubeconfig %s: cannot read: %s", p,
                           kube_strerror(errno));
            goto done;
        }
        if (rc == NSC_ERR_INVALID) {
            rc = kube_errf(err, err_len, "kubeconfig %s: larger than %u bytes", p,
                           KUBECONFIG_MAX_BYTES);
            goto done;
        }
        if (rc)
            goto done;
        f->path = strdup(p);
        f->dir = dir_of(p);
        kc.n_files++;
        if (f->path == NULL || f->dir == NULL) {
            free(text);
            rc = NSC_ERR_NOMEM;
            goto done;
        }
        f->root = yaml_text_to_json(p, text, len, err, err_len);
        free(text);
        if (f->root == NULL) {
            rc = NSC_ERR_INVALID;
            goto done;
        }
        cc = json_object_get(f->root, "current-context");
        if (cc && !json_is_null(cc) && !json_is_string(cc)) {
            rc = kube_errf(err, err_len, "kubeconfig %s: current-context: not a string", p);
            goto done;
        }
        if (kc.current_context == NULL && json_string_length(cc) > 0) {
            kc.current_context = json_string_value(cc);
            kc.current_context_file = kc.n_files - 1;
        }
    }
    if (kc.n_files == 0) {
        rc = kube_errf(err, err_len, "kubeconfig: no file given");
        goto done;
    }
    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        rc = NSC_ERR_NOMEM;
        goto done;
    }
    rc = kc_resolve(&kc, context, cfg, err, err_len);
    if (rc == NSC_ERR_NOMEM)
        kube_errf(err, err_len, "kubeconfig %s: out of memory", paths);
    if (rc == 0) {
        *out = cfg;
        cfg = NULL;
    }
done:
    kube_config_free(cfg);
    for (i = 0; i < kc.n_files; i++) {
        free(kc.files[i].path);
        free(kc.files[i].dir);
        json_decref(kc.files[i].root);
    }
    free(kc.files);
    free(list);
    return rc;
}

static void
chomp(char *s)
{
    size_t n = strlen(s);

    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
}

int
kube_config_in_cluster(const char *sa_dir, struct kube_config **out, char *err, size_t err_len)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    const char *pod_ns = getenv("POD_NAMESPACE");
    struct kube_config *cfg;
    char path[4096];
    char *tok = NULL;
    struct stat st;
    int rc;

    *out = NULL;
    if (sa_dir == NULL)
        sa_dir = SA_DIR_DEFAULT;
    if (host == NULL || *host == '\0' || port == NULL || *port == '\0')
        return kube_errf(
            err, err_len,
            "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both "
            "be set (not running in a pod? use --kubeconfig)");
    if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5)
        return kube_errf(err, err_len,
                         "in-cluster: KUBERNETES_SERVICE_PORT=\"%s\" is not a port", port);
    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        return NSC_ERR_NOMEM;
    rc = NSC_ERR_NOMEM;
    cfg->server = malloc(strlen(host) + strlen(port) + 16);
    if (cfg->server == NULL)
        goto fail;
    /* A host with ':' is an IPv6 address and needs brackets in a URL. */
    sprintf(cfg->server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
    if ((cfg->source = strdup("in-cluster")) == NULL)
        goto fail;
    snprintf(path, sizeof(path), "%s/token", sa_dir);
    if ((cfg->token_file = strdup(path)) == NULL)
        goto fail;
    /* Read once now so that a missing token is an error at start-up, not at first use. */
    rc = kube_read_file(path, 1u << 20, &tok, NULL);
    if (rc) {
        rc = kube_errf(err, err_len, "in-cluster: service account token %s: %s", path,
                       rc == NSC_ERR_NOT_FOUND ? kube_strerror(errno) : "too large");
        goto fail;
    }
    chomp(tok);
    if (*tok == '\0') {
        free(tok);
        rc = kube_errf(err, err_len, "in-cluster: service account token %s: empty", path);
        goto fail;
    }
    log_redact_add(tok);
    memset(tok, 0, strlen(tok));
    free(tok);
    snprintf(path, sizeof(path), "%s/ca.crt", sa_dir);
    if ((cfg->ca_file = strdup(path)) == NULL)
        goto fail;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        rc = kube_errf(err, err_len, "in-cluster: CA file %s: is a directory", path);
        goto fail;
    }
    if (pod_ns && *pod_ns) {
        if ((cfg->namespace = strdup(pod_ns)) == NULL)
            goto fail;
    } else {
        snprintf(path, sizeof(path), "%s/namespace", sa_dir);
        rc = kube_read_file(path, 4096, &cfg->namespace, NULL);
        if (rc == NSC_ERR_NOMEM)
            goto fail;
        if (rc) {
            rc =
                kube_errf(err, err_len, "in-cluster: namespace file %s: %s (set POD_NAMESPACE)",
                          path, rc == NSC_ERR_NOT_FOUND ? kube_strerror(errno) : "too large");
            goto fail;
        }
        chomp(cfg->namespace);
        if (*cfg->namespace == '\0') {
            rc = kube_errf(err, err_len, "in-cluster: namespace file %s: empty", path);
            goto fail;
        }
    }
    *out = cfg;
    return 0;
fail:
    kube_config_free(cfg);
    return rc;
}

int
kube_config_auto(const char *kubeconfig, const char *context, struct kube_config **out,
                 char *err, size_t err_len)
{
    const char *env;
    char path[4096];

    if (kubeconfig && *kubeconfig)
        return kube_config_load_kubeconfig(kubeconfig, context, out, err, err_len);
    env = getenv("KUBERNETES_SERVICE_HOST");
    if (env && *env)
        return kube_config_in_cluster(NULL, out, err, err_len);
    env = getenv("KUBECONFIG");
    if (env && *env)
        return kube_config_load_kubeconfig(env, context, out, err, err_len);
    env = getenv("HOME");
    if (env == NULL || *env == '\0')
        return kube_errf(
            err, err_len,
            "kube: no --kubeconfig, not in a cluster, no $KUBECONFIG and no $HOME");
    snprintf(path, sizeof(path), "%s/.kube/config", env);
    return kube_config_load_kubeconfig(path, context, out, err, err_len);
}
