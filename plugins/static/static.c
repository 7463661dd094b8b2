/* The static backend: node groups read from a JSON file (--backend-opt groups=FILE), held
 * in memory; resize and evict change that memory and log what a cloud would have done. */
#include "config.h"

#include <nodescaler/backend.h>

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STATIC_ERR_LEN 512

struct static_instance {
    char *provider_id;
    enum nsc_instance_state state;
};

struct static_group {
    char *id;
    char *name;
    int32_t min_size;
    int32_t max_size;
    int32_t target_size;
    char *template_json; /* NULL: no template */
    struct static_instance *instances;
    size_t n_instances;
    /* Next number for instances this backend creates ("static://<id>-<n>"). */
    unsigned next_serial;
};

struct nsc_backend {
    const struct nsc_host *host;
    char *file;
    struct static_group *groups;
    size_t n_groups;
    char error[STATIC_ERR_LEN];
};

static void static_fail(struct nsc_backend *b, const char *fmt, ...) NSC_PRINTF(2, 3);

static void
static_fail(struct nsc_backend *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(b->error, sizeof(b->error), fmt, ap);
    va_end(ap);
}

static void
static_group_free(struct static_group *g)
{
    size_t i;

    free(g->id);
    free(g->name);
    free(g->template_json);
    for (i = 0; i < g->n_instances; i++)
        free(g->instances[i].provider_id);
    free(g->instances);
}

static void
static_destroy(struct nsc_backend *b)
{
    size_t i;

    if (b == NULL)
        return;
    for (i = 0; i < b->n_groups; i++)
        static_group_free(&b->groups[i]);
    free(b->groups);
    free(b->file);
    free(b);
}

/* Where a problem is: "FILE: groups[2] (id "small"): " or "FILE: groups[2]: ". */
struct static_where {
    const char *file;
    size_t index;
    const char *id;
};

static void static_bad(char *err, size_t len, const struct static_where *w, const char *fmt,
                       ...) NSC_PRINTF(4, 5);

static void
static_bad(char *err, size_t len, const struct static_where *w, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (w->id != NULL)
        n = snprintf(err, len, "groups file %s: group \"%s\" (groups[%zu]): ", w->file, w->id,
                     w->index);
    else
        n = snprintf(err, len, "groups file %s: groups[%zu]: ", w->file, w->index);
    if (n < 0 || (size_t)n >= len)
        return;
    va_start(ap, fmt);
    vsnprintf(err + n, len - (size_t)n, fmt, ap);
    va_end(ap);
}

/* Reads an integer field that must be present and fit [0, INT32_MAX]. */
static int
static_int_field(json_t *obj, const char *field, int32_t *out, const struct static_where *w,
                 char *err, size_t len)
{
    json_t *v = json_object_get(obj, field);
    json_int_t n;

    if (v == NULL) {
        static_bad(err, len, w, "field %s is missing", field);
        return NSC_ERR_INVALID;
    }
    if (!json_is_integer(v)) {
        static_bad(err, len, w, "field %s must be an integer", field);
        return NSC_ERR_INVALID;
    }
    n = json_integer_value(v);
    if (n < 0 || n > INT32_MAX) {
        static_bad(err, len, w, "field %s (%" JSON_INTEGER_FORMAT ") is outside [0, %d]", field,
                   n, INT32_MAX);
        return NSC_ERR_INVALID;
    }
    *out = (int32_t)n;
    return 0;
}

static int
static_state_parse(const char *s, enum nsc_instance_state *out)
{
    static const struct {
        const char *name;
        enum nsc_instance_state state;
    } states[] = {{"running", NSC_INSTANCE_RUNNING},
                  {"creating", NSC_INSTANCE_CREATING},
                  {"deleting", NSC_INSTANCE_DELETING},
                  {"unknown", NSC_INSTANCE_UNKNOWN}};
    size_t i;

    for (i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        if (strcmp(s, states[i].name) == 0) {
            *out = states[i].state;
            return 0;
        }
    }
    return NSC_ERR_INVALID;
}

/* "instances": ["static://a", {"provider_id": "static://b", "state": "creating"}]. */
static int
static_parse_instances(json_t *arr, struct static_group *g, const struct static_where *w,
                       char *err, size_t len)
{
    size_t i, j;
    json_t *v;

    if (arr == NULL)
        return 0;
    if (!json_is_array(arr)) {
        static_bad(err, len, w, "field instances must be an array");
        return NSC_ERR_INVALID;
    }
    g->instances = calloc(json_array_size(arr) + 1, sizeof(*g->instances));
    if (g->instances == NULL)
        return NSC_ERR_NOMEM;
    json_array_foreach(arr, i, v)
    {
        const char *pid = NULL;
        enum nsc_instance_state state = NSC_INSTANCE_RUNNING;

        if (json_is_string(v)) {
            pid = json_string_value(v);
        } else if (json_is_object(v)) {
            json_t *st = json_object_get(v, "state");

            pid = json_string_value(json_object_get(v, "provider_id"));
            if (st != NULL &&
                (!json_is_string(st) || static_state_parse(json_string_value(st), &state))) {
                static_bad(err, len, w,
                           "field instances[%zu].state must be one of running, creating, "
                           "deleting, unknown",
                           i);
                return NSC_ERR_INVALID;
            }
        }
        if (pid == NULL || pid[0] == '\0') {
            static_bad(err, len, w,
                       "field instances[%zu] must be a non-empty provider ID string or an "
                       "object with provider_id",
                       i);
            return NSC_ERR_INVALID;
        }
        for (j = 0; j < g->n_instances; j++) {
            if (strcmp(g->instances[j].provider_id, pid) == 0) {
                static_bad(err, len, w, "field instances[%zu]: duplicate provider ID %s", i,
                           pid);
                return NSC_ERR_INVALID;
            }
        }
        g->instances[g->n_instances].provider_id = strdup(pid);
        if (g->instances[g->n_instances].provider_id == NULL)
            return NSC_ERR_NOMEM;
        g->instances[g->n_instances].state = state;
        g->n_instances++;
    }
    return 0;
}

/* The template must look like a v1.Node: the core builds nodes of the group from it. */
static int
static_parse_template(json_t *t, struct static_group *g, const struct static_where *w,
                      char *err, size_t len)
{
    json_t *kind, *api, *meta, *status, *cap, *alloc;

    if (t == NULL || json_is_null(t))
        return 0;
    if (!json_is_object(t)) {
        static_bad(err, len, w, "field template is not a Node: must be a JSON object");
        return NSC_ERR_INVALID;
    }
    kind = json_object_get(t, "kind");
    if (kind != NULL && (!json_is_string(kind) || strcmp(json_string_value(kind), "Node"))) {
        static_bad(err, len, w, "field template is not a Node: kind is %s%s%s",
                   json_is_string(kind) ? "\"" : "",
                   json_is_string(kind) ? json_string_value(kind) : "not a string",
                   json_is_string(kind) ? "\"" : "");
        return NSC_ERR_INVALID;
    }
    api = json_object_get(t, "apiVersion");
    if (api != NULL && (!json_is_string(api) || strcmp(json_string_value(api), "v1"))) {
        static_bad(err, len, w, "field template is not a Node: apiVersion must be \"v1\"");
        return NSC_ERR_INVALID;
    }
    meta = json_object_get(t, "metadata");
    if (meta != NULL && !json_is_object(meta)) {
        static_bad(err, len, w, "field template.metadata must be an object");
        return NSC_ERR_INVALID;
    }
    status = json_object_get(t, "status");
    cap = json_object_get(status, "capacity");
    alloc = json_object_get(status, "allocatable");
    if (!json_is_object(status) || (!json_is_object(cap) && !json_is_object(alloc))) {
        static_bad(err, len, w,
                   "field template is not a Node: status.capacity or status.allocatable "
                   "must be an object of resources");
        return NSC_ERR_INVALID;
    }
    g->template_json = json_dumps(t, JSON_COMPACT | JSON_SORT_KEYS);
    return g->template_json ? 0 : NSC_ERR_NOMEM;
}

static int
static_parse_group(json_t *obj, struct static_group *g, struct static_where *w, char *err,
                   size_t len)
{
    static const char *const known[] = {"id",     "name",      "min",     "max",
                                        "target", "instances", "template"};
    const char *key;
    json_t *v, *id, *name;
    size_t k;
    int rc;

    if (!json_is_object(obj)) {
        static_bad(err, len, w, "must be an object");
        return NSC_ERR_INVALID;
    }
    id = json_object_get(obj, "id");
    if (id == NULL || !json_is_string(id) || json_string_value(id)[0] == '\0') {
        static_bad(err, len, w, "field id is %s",
                   id == NULL ? "missing" : "not a non-empty string");
        return NSC_ERR_INVALID;
    }
    w->id = json_string_value(id);
    json_object_foreach(obj, key, v)
    {
        for (k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
            if (strcmp(key, known[k]) == 0)
                break;
        }
        if (k == sizeof(known) / sizeof(known[0])) {
            static_bad(err, len, w,
                       "unknown field %s (known: id, name, min, max, target, instances, "
                       "template)",
                       key);
            return NSC_ERR_INVALID;
        }
    }
    g->id = strdup(w->id);
    if (g->id == NULL)
        return NSC_ERR_NOMEM;
    name = json_object_get(obj, "name");
    if (name != NULL) {
        if (!json_is_string(name)) {
            static_bad(err, len, w, "field name must be a string");
            return NSC_ERR_INVALID;
        }
        g->name = strdup(json_string_value(name));
        if (g->name == NULL)
            return NSC_ERR_NOMEM;
    }
    if ((rc = static_int_field(obj, "min", &g->min_size, w, err, len)) < 0 ||
        (rc = static_int_field(obj, "max", &g->max_size, w, err, len)) < 0 ||
        (rc = static_int_field(obj, "target", &g->target_size, w, err, len)) < 0)
        return rc;
    if (g->min_size > g->max_size) {
        static_bad(err, len, w, "field min (%d) is greater than field max (%d)",
                   (int)g->min_size, (int)g->max_size);
        return NSC_ERR_INVALID;
    }
    if (g->target_size < g->min_size || g->target_size > g->max_size) {
        static_bad(err, len, w, "field target (%d) is outside [min, max] = [%d, %d]",
                   (int)g->target_size, (int)g->min_size, (int)g->max_size);
        return NSC_ERR_INVALID;
    }
    rc = static_parse_instances(json_object_get(obj, "instances"), g, w, err, len);
    if (rc < 0)
        return rc;
    rc = static_parse_template(json_object_get(obj, "template"), g, w, err, len);
    if (rc < 0)
        return rc;
    g->next_serial = (unsigned)g->n_instances + 1;
    return 0;
}

/* Loads and validates the whole file into b->groups; on failure err names the file, the
 * group and the field. */
/* Largest groups file read: far above any real one, and it bounds what a wrong path (a
 * device, a log) can make the backend buffer. */
#define STATIC_FILE_MAX (16u << 20)

struct static_reader {
    FILE *f;
    size_t total;
    bool too_big;
};

/* jansson's read callback: the file, cut at STATIC_FILE_MAX ((size_t)-1 stops the parse). */
static size_t
static_read(void *buf, size_t n, void *ud)
{
    struct static_reader *r = ud;
    size_t got = fread(buf, 1, n, r->f);

    r->total += got;
    if (r->total > STATIC_FILE_MAX) {
        r->too_big = true;
        return (size_t)-1;
    }
    return ferror(r->f) ? (size_t)-1 : got;
}

static int
static_load(struct nsc_backend *b, char *err, size_t len)
{
    struct static_reader rd = {NULL, 0, false};
    struct static_where w = {b->file, 0, NULL};
    struct stat st;
    json_error_t jerr;
    json_t *root, *groups, *g;
    size_t i, j;
    int rc = NSC_ERR_INVALID;

    if (stat(b->file, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* jansson would only say "unable to read" */
        snprintf(err, len, "groups file %s: is a directory", b->file);
        return NSC_ERR_INVALID;
    }
    rd.f = fopen(b->file, "r");
    if (rd.f == NULL) {
        snprintf(err, len, "groups file %s: cannot read: unable to open: %s", b->file,
                 strerror(errno));
        return NSC_ERR_INVALID;
    }
    root = json_load_callback(static_read, &rd, JSON_REJECT_DUPLICATES, &jerr);
    fclose(rd.f);
    if (root == NULL && rd.too_big) {
        snprintf(err, len, "groups file %s: larger than %u MiB: not a groups file", b->file,
                 STATIC_FILE_MAX >> 20);
        return NSC_ERR_INVALID;
    }
    if (root == NULL) {
        if (jerr.line <= 0)
            snprintf(err, len, "groups file %s: cannot read: %s", b->file, jerr.text);
        else
            snprintf(err, len, "groups file %s: not valid JSON at line %d column %d: %s",
                     b->file, jerr.line, jerr.column, jerr.text);
        return NSC_ERR_INVALID;
    }
    groups = json_object_get(root, "groups");
    if (!json_is_object(root) || !json_is_array(groups)) {
        snprintf(err, len,
                 "groups file %s: field groups is missing or not an array (want "
                 "{\"groups\": [...]})",
                 b->file);
        goto out;
    }
    b->groups = calloc(json_array_size(groups) + 1, sizeof(*b->groups));
    if (b->groups == NULL) {
        rc = NSC_ERR_NOMEM;
        goto out;
    }
    json_array_foreach(groups, i, g)
    {
        w.index = i;
        w.id = NULL;
        b->n_groups = i + 1;
        rc = static_parse_group(g, &b->groups[i], &w, err, len);
        if (rc < 0)
            goto out;
        for (j = 0; j < i; j++) {
            if (strcmp(b->groups[j].id, b->groups[i].id) == 0) {
                static_bad(err, len, &w, "field id is a duplicate of groups[%zu]", j);
                rc = NSC_ERR_INVALID;
                goto out;
            }
        }
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

static int
static_create(const struct nsc_host *host, const struct nsc_option *opts, size_t n_opts,
              struct nsc_backend **out, char *errbuf, size_t errbuf_len)
{
    const char *file = host->option(host, "groups", "NSC_STATIC_GROUPS");
    struct nsc_backend *b;
    size_t i;
    int rc;

    *out = NULL;
    for (i = 0; i < n_opts; i++) {
        if (strcmp(opts[i].key, "groups") != 0) {
            snprintf(errbuf, errbuf_len,
                     "unknown option --backend-opt %s (the static backend takes groups=FILE)",
                     opts[i].key);
            return NSC_ERR_INVALID;
        }
    }
    if (file == NULL || file[0] == '\0') {
        snprintf(errbuf, errbuf_len,
                 "no groups file: pass --backend-opt groups=FILE (or set NSC_STATIC_GROUPS)");
        return NSC_ERR_INVALID;
    }
    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NSC_ERR_NOMEM;
    b->host = host;
    b->file = strdup(file);
    if (b->file == NULL) {
        static_destroy(b);
        return NSC_ERR_NOMEM;
    }
    rc = static_load(b, errbuf, errbuf_len);
    if (rc < 0) {
        static_destroy(b);
        return rc;
    }
    host->log(host, NSC_LOG_INFO, "loaded %zu node group%s from %s", b->n_groups,
              b->n_groups == 1 ? "" : "s", b->file);
    *out = b;
    return NSC_OK;
}

/* A cloud finishes what it was asked between two loops: creating machines start running,
 * deleted ones disappear. */
static int
static_refresh(struct nsc_backend *b)
{
    size_t i, j, kept;

    for (i = 0; i < b->n_groups; i++) {
        struct static_group *g = &b->groups[i];

        for (j = 0, kept = 0; j < g->n_instances; j++) {
            if (g->instances[j].state == NSC_INSTANCE_DELETING) {
                free(g->instances[j].provider_id);
                continue;
            }
            if (g->instances[j].state == NSC_INSTANCE_CREATING)
                g->instances[j].state = NSC_INSTANCE_RUNNING;
            g->instances[kept++] = g->instances[j];
        }
        g->n_instances = kept;
    }
    b->error[0] = '\0';
    return NSC_OK;
}

static int
static_emit_group(const struct static_group *g, const struct nsc_sink *sink)
{
    struct nsc_group rec;

    memset(&rec, 0, sizeof(rec));
    rec.struct_size = sizeof(rec);
    rec.id = g->id;
    rec.name = g->name;
    rec.min_size = g->min_size;
    rec.max_size = g->max_size;
    rec.target_size = g->target_size;
    rec.template_node_json = g->template_json;
    return sink->group(sink, &rec);
}

static int
static_node_groups(struct nsc_backend *b, const struct nsc_sink *sink)
{
    size_t i;
    int rc;

    for (i = 0; i < b->n_groups; i++) {
        rc = static_emit_group(&b->groups[i], sink);
        if (rc < 0)
            return rc;
    }
    return NSC_OK;
}

static struct static_group *
static_find(struct nsc_backend *b, const char *group_id)
{
    size_t i;

    for (i = 0; i < b->n_groups; i++) {
        if (strcmp(b->groups[i].id, group_id) == 0)
            return &b->groups[i];
    }
    static_fail(b, "no node group \"%s\" in %s", group_id, b->file);
    return NULL;
}

static int
static_group_instances(struct nsc_backend *b, const char *group_id, const struct nsc_sink *sink)
{
    struct static_group *g = static_find(b, group_id);
    size_t i;
    int rc;

    if (g == NULL)
        return NSC_ERR_NOT_FOUND;
    for (i = 0; i < g->n_instances; i++) {
        struct nsc_instance rec;

        memset(&rec, 0, sizeof(rec));
        rec.struct_size = sizeof(rec);
        rec.provider_id = g->instances[i].provider_id;
        rec.state = g->instances[i].state;
        rc = sink->instance(sink, &rec);
        if (rc < 0)
            return rc;
    }
    return NSC_OK;
}

/* Instances that count towards the target: all but those being deleted. */
static size_t
static_live(const struct static_group *g)
{
    size_t i, n = 0;

    for (i = 0; i < g->n_instances; i++)
        n += g->instances[i].state != NSC_INSTANCE_DELETING;
    return n;
}

static int
static_resize(struct nsc_backend *b, const char *group_id, int32_t target)
{
    struct static_group *g = static_find(b, group_id);
    struct static_instance *grown;
    size_t live, delta, i;

    if (g == NULL)
        return NSC_ERR_NOT_FOUND;
    if (target < g->min_size || target > g->max_size) {
        static_fail(b, "group %s: target %d is outside [%d, %d]", g->id, (int)target,
                    (int)g->min_size, (int)g->max_size);
        return NSC_ERR_INVALID;
    }
    live = static_live(g);
    delta = (size_t)target >= live ? (size_t)target - live : live - (size_t)target;
    b->host->log(b->host, NSC_LOG_INFO,
                 "group %s: target %d -> %d; a cloud would now %s %zu machine%s", g->id,
                 (int)g->target_size, (int)target, (size_t)target >= live ? "create" : "delete",
                 delta, delta == 1 ? "" : "s");
    if ((size_t)target > live) {
        grown =
            realloc(g->instances, (g->n_instances + (size_t)target - live) * sizeof(*grown));
        if (grown == NULL)
            return NSC_ERR_NOMEM;
        g->instances = grown;
        while (live < (size_t)target) {
            char pid[256];

            snprintf(pid, sizeof(pid), "static://%s-%u", g->id, g->next_serial++);
            grown[g->n_instances].provider_id = strdup(pid);
            if (grown[g->n_instances].provider_id == NULL)
                return NSC_ERR_NOMEM;
            grown[g->n_instances].state = NSC_INSTANCE_CREATING;
            g->n_instances++;
            live++;
        }
    } else {
        /* A cloud shrinking a pool picks its own victims; take the newest. */
        for (i = g->n_instances; i > 0 && live > (size_t)target; i--) {
            if (g->instances[i - 1].state != NSC_INSTANCE_DELETING) {
                g->instances[i - 1].state = NSC_INSTANCE_DELETING;
                live--;
            }
        }
    }
    g->target_size = target;
    return NSC_OK;
}

static int
static_evict(struct nsc_backend *b, const char *group_id, const char *const *ids, size_t n_ids)
{
    struct static_group *g = static_find(b, group_id);
    size_t i, j;

    if (g == NULL)
        return NSC_ERR_NOT_FOUND;
    if ((int64_t)g->target_size - (int64_t)n_ids < g->min_size) {
        static_fail(b, "group %s: removing %zu instance%s would take target %d below min %d",
                    g->id, n_ids, n_ids == 1 ? "" : "s", (int)g->target_size, (int)g->min_size);
        return NSC_ERR_INVALID;
    }
    /* Check every ID before changing anything: evict is all or nothing. */
    for (i = 0; i < n_ids; i++) {
        for (j = 0; j < g->n_instances; j++) {
            if (strcmp(g->instances[j].provider_id, ids[i]) == 0 &&
                g->instances[j].state != NSC_INSTANCE_DELETING)
                break;
        }
        if (j == g->n_instances) {
            static_fail(b, "group %s: instance %s is not a live member", g->id, ids[i]);
            return NSC_ERR_INVALID;
        }
    }
    for (i = 0; i < n_ids; i++) {
        for (j = 0; j < g->n_instances; j++) {
            if (strcmp(g->instances[j].provider_id, ids[i]) == 0) {
                g->instances[j].state = NSC_INSTANCE_DELETING;
                b->host->log(b->host, NSC_LOG_INFO,
                             "group %s: a cloud would now delete machine %s", g->id, ids[i]);
            }
        }
    }
    b->host->log(b->host, NSC_LOG_INFO, "group %s: target %d -> %d", g->id, (int)g->target_size,
                 (int)(g->target_size - (int32_t)n_ids));
    g->target_size -= (int32_t)n_ids;
    return NSC_OK;
}

static const char *
static_last_error(struct nsc_backend *b)
{
    return b->error;
}

static int
static_group_for_node(struct nsc_backend *b, const char *provider_id,
                      const struct nsc_sink *sink)
{
    size_t i, j;

    for (i = 0; i < b->n_groups; i++) {
        for (j = 0; j < b->groups[i].n_instances; j++) {
            if (strcmp(b->groups[i].instances[j].provider_id, provider_id) == 0)
                return static_emit_group(&b->groups[i], sink);
        }
    }
    static_fail(b, "no node group has instance %s", provider_id);
    return NSC_ERR_NOT_FOUND;
}

static const struct nsc_backend_ops static_ops = {
    NSC_BACKEND_HEADER("static", PACKAGE_VERSION),
    static_create,
    static_destroy,
    static_refresh,
    static_node_groups,
    static_group_instances,
    static_resize,
    static_evict,
    static_last_error,
    static_group_for_node,
};

NSC_EXPORT const struct nsc_backend_ops *
nsc_backend_entry_v1(void)
{
    return &static_ops;
}
