/* nsc-backend-conformance: loads a backend through the daemon's own loader and checks, call
 * by call, the contract of include/nodescaler/backend.h; one PASS or FAIL line per check. */
#include "config.h"

#include "log.h"
#include "plugin/plugin.h"
#include "version.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CF_MAX_OPTS 64
#define CF_TEXT 1024
#define CF_DEFAULT_TIMEOUT_MS 30000
#define CF_DEFAULT_SETTLE_MS 120000
#define CF_POLL_MS 200
/* Ids no sane backend has: the probes for "unknown" must not hit a real object. */
#define CF_NO_GROUP "nsc-conformance-no-such-group"
#define CF_NO_INSTANCE "nsc-conformance://no-such-instance"
#define CF_BAD_KEY "nsc-conformance-no-such-option"

struct cf_instance {
    char *provider_id;
    int state;
};

struct cf_group {
    char *id;
    int32_t min_size, max_size, target_size;
    struct cf_instance *instances;
    size_t n_instances;
};

/* A copy of what the backend reported after one refresh, and what was wrong with it. */
struct cf_view {
    struct cf_group *groups;
    size_t n_groups;
    struct cf_group *filling; /* the group group_instances is emitting into */
    char problem[CF_TEXT];
};

struct cf {
    const struct nsc_backend_ops *ops;
    struct nsc_host *host;
    struct nsc_backend *backend;
    struct nsc_option opts[CF_MAX_OPTS + 1];
    size_t n_opts;
    int64_t timeout_ms;
    int64_t settle_ms;
    const char *only_group;
    int n_fail;
    /* Contract rules checked on every call, reported once at the end. */
    int n_slow, n_silent;
    char slow[CF_TEXT], silent[CF_TEXT];
};

static int64_t
cf_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
cf_sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void cf_report(struct cf *cf, const char *check, bool ok, const char *fmt, ...)
    NSC_PRINTF(4, 5);

static void
cf_report(struct cf *cf, const char *check, bool ok, const char *fmt, ...)
{
    va_list ap;

    printf("%s %s: ", ok ? "PASS" : "FAIL", check);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    if (!ok)
        cf->n_fail++;
}

static void cf_note(char *buf, const char *fmt, ...) NSC_PRINTF(2, 3);

/* Keep the first problem of a check: the one that explains the rest. */
static void
cf_note(char *buf, const char *fmt, ...)
{
    va_list ap;

    if (buf[0] != '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(buf, CF_TEXT, fmt, ap);
    va_end(ap);
}

/* ---- calls under a deadline ---- */

enum cf_op { CF_CREATE, CF_REFRESH, CF_GROUPS, CF_INSTANCES, CF_RESIZE, CF_EVICT, CF_DESTROY };

struct cf_job {
    struct cf *cf;
    enum cf_op op;
    const char *group_id;
    int32_t target;
    const char *const *ids;
    size_t n_ids;
    const struct nsc_sink *sink;
    const struct nsc_option *opts;
    size_t n_opts;
    struct nsc_backend **created;
    char *errbuf;
    size_t errbuf_len;
    int rc;
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void *
cf_job_main(void *arg)
{
    struct cf_job *j = arg;
    const struct nsc_backend_ops *ops = j->cf->ops;
    struct nsc_backend *b = j->cf->backend;

    switch (j->op) {
    case CF_CREATE:
        j->rc =
            ops->create(j->cf->host, j->opts, j->n_opts, j->created, j->errbuf, j->errbuf_len);
        break;
    case CF_REFRESH:
        j->rc = ops->refresh(b);
        break;
    case CF_GROUPS:
        j->rc = ops->node_groups(b, j->sink);
        break;
    case CF_INSTANCES:
        j->rc = ops->group_instances(b, j->group_id, j->sink);
        break;
    case CF_RESIZE:
        j->rc = ops->resize(b, j->group_id, j->target);
        break;
    case CF_EVICT:
        j->rc = ops->evict(b, j->group_id, j->ids, j->n_ids);
        break;
    case CF_DESTROY:
        ops->destroy(b);
        j->rc = 0;
        break;
    }
    pthread_mutex_lock(&j->mu);
    j->done = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

static const char *const cf_op_names[] = {"create", "refresh", "node_groups", "group_instances",
                                          "resize", "evict",   "destroy"};

/* Runs one operation on a thread of its own so that a call that hangs is seen: past
 * --timeout-ms it is a failure of the deadline check; past the grace period the run ends,
 * since no other call may enter the backend while one is still inside it. */
static int
cf_run(struct cf *cf, struct cf_job *j)
{
    int64_t start = cf_now_ms(), grace = cf->timeout_ms * 4 + 10000, took;
    struct timespec until;
    pthread_t t;
    bool late = false;

    j->cf = cf;
    j->done = false;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    if (pthread_create(&t, NULL, cf_job_main, j) != 0) {
        fprintf(stderr, "nsc-backend-conformance: cannot start a thread\n");
        exit(2);
    }
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)((cf->timeout_ms + grace) / 1000);
    until.tv_nsec += (long)((cf->timeout_ms + grace) % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&j->mu);
    while (!j->done) {
        if (pthread_cond_timedwait(&j->cv, &j->mu, &until) == ETIMEDOUT && !j->done) {
            pthread_mutex_unlock(&j->mu);
            cf_report(cf, "deadline", false, "%s did not return within %lld ms; giving up",
                      cf_op_names[j->op], (long long)(cf->timeout_ms + grace));
            /* The thread is still inside the backend: nothing can be freed safely. */
            _exit(1);
        }
    }
    pthread_mutex_unlock(&j->mu);
    pthread_join(t, NULL);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    took = cf_now_ms() - start;
    if (took > cf->timeout_ms) {
        late = true;
        cf->n_slow++;
        if (cf->slow[0] == '\0')
            snprintf(cf->slow, sizeof(cf->slow), "%s%s%s took %lld ms (limit %lld ms)",
                     cf_op_names[j->op], j->group_id ? " of group " : "",
                     j->group_id ? j->group_id : "", (long long)took,
                     (long long)cf->timeout_ms);
    }
    (void)late;
    if (j->rc < 0 && j->op != CF_CREATE) {
        const char *text = cf->ops->last_error(cf->backend);

        if (text == NULL || text[0] == '\0') {
            cf->n_silent++;
            if (cf->silent[0] == '\0')
                snprintf(cf->silent, sizeof(cf->silent),
                         "%s%s%s returned %s and last_error() is %s", cf_op_names[j->op],
                         j->group_id ? " of group " : "", j->group_id ? j->group_id : "",
                         plugin_status_name(j->rc), text == NULL ? "NULL" : "empty");
        }
    }
    return j->rc;
}

static int
cf_refresh(struct cf *cf)
{
    struct cf_job j = {.op = CF_REFRESH};

    return cf_run(cf, &j);
}

static int
cf_resize(struct cf *cf, const char *group_id, int32_t target)
{
    struct cf_job j = {.op = CF_RESIZE, .group_id = group_id, .target = target};

    return cf_run(cf, &j);
}

static int
cf_evict(struct cf *cf, const char *group_id, const char *const *ids, size_t n_ids)
{
    struct cf_job j = {.op = CF_EVICT, .group_id = group_id, .ids = ids, .n_ids = n_ids};

    return cf_run(cf, &j);
}

static const char *
cf_last_error(struct cf *cf)
{
    const char *t = cf->ops->last_error(cf->backend);

    return t ? t : "";
}

/* ---- the view: copies of what the sinks received ---- */

static void
cf_group_free(struct cf_group *g)
{
    size_t k;

    free(g->id);
    for (k = 0; k < g->n_instances; k++)
        free(g->instances[k].provider_id);
    free(g->instances);
    memset(g, 0, sizeof(*g));
}

static void
cf_view_free(struct cf_view *v)
{
    size_t i;

    for (i = 0; i < v->n_groups; i++)
        cf_group_free(&v->groups[i]);
    free(v->groups);
    memset(v, 0, sizeof(*v));
}

static int
cf_sink_group(const struct nsc_sink *sink, const struct nsc_group *rec)
{
    struct cf_view *v = sink->ctx;
    struct cf_group *grown, *g;
    size_t i;

    if (rec->struct_size < sizeof(struct nsc_group)) {
        cf_note(v->problem, "a group record has struct_size %u, ABI 1.0 needs %zu",
                (unsigned)rec->struct_size, sizeof(struct nsc_group));
        return NSC_ERR_INVALID;
    }
    if (rec->id == NULL || rec->id[0] == '\0') {
        cf_note(v->problem, "a group has no id");
        return NSC_ERR_INVALID;
    }
    for (i = 0; i < v->n_groups; i++) {
        if (strcmp(v->groups[i].id, rec->id) == 0)
            cf_note(v->problem, "group id %s is reported twice", rec->id);
    }
    if (rec->min_size < 0 || rec->min_size > rec->target_size ||
        rec->target_size > rec->max_size)
        cf_note(v->problem,
                "group %s breaks 0 <= min <= target <= max: min %d target %d max %d", rec->id,
                (int)rec->min_size, (int)rec->target_size, (int)rec->max_size);
    if (rec->template_node_json != NULL) {
        json_error_t jerr;
        json_t *t = json_loads(rec->template_node_json, 0, &jerr);

        if (!json_is_object(t))
            cf_note(v->problem, "group %s: template_node_json is not a JSON object: %s",
                    rec->id, t == NULL ? jerr.text : "another JSON type");
        json_decref(t);
    }
    grown = realloc(v->groups, (v->n_groups + 1) * sizeof(*grown));
    if (grown == NULL)
        return NSC_ERR_NOMEM;
    v->groups = grown;
    g = &grown[v->n_groups];
    memset(g, 0, sizeof(*g));
    g->id = strdup(rec->id);
    if (g->id == NULL)
        return NSC_ERR_NOMEM;
    g->min_size = rec->min_size;
    g->max_size = rec->max_size;
    g->target_size = rec->target_size;
    v->n_groups++;
    return NSC_OK;
}

static int
cf_sink_instance(const struct nsc_sink *sink, const struct nsc_instance *rec)
{
    struct cf_view *v = sink->ctx;
    struct cf_group *g = v->filling;
    struct cf_instance *grown;

    if (g == NULL) {
        cf_note(v->problem, "an instance was emitted outside group_instances");
        return NSC_ERR_INVALID;
    }
    if (rec->struct_size < sizeof(struct nsc_instance)) {
        cf_note(v->problem,
                "group %s: an instance record has struct_size %u, ABI 1.0 needs %zu", g->id,
                (unsigned)rec->struct_size, sizeof(struct nsc_instance));
        return NSC_ERR_INVALID;
    }
    if (rec->provider_id == NULL || rec->provider_id[0] == '\0') {
        cf_note(v->problem, "group %s: an instance has no provider ID", g->id);
        return NSC_ERR_INVALID;
    }
    if ((int)rec->state < NSC_INSTANCE_UNKNOWN || (int)rec->state > NSC_INSTANCE_DELETING)
        cf_note(v->problem,
                "group %s: instance %s has state %d, not one of enum nsc_instance_state", g->id,
                rec->provider_id, (int)rec->state);
    if ((int)rec->error_class < NSC_ERROR_CLASS_NONE ||
        (int)rec->error_class > NSC_ERROR_CLASS_OTHER)
        cf_note(v->problem, "group %s: instance %s has error class %d", g->id, rec->provider_id,
                (int)rec->error_class);
    grown = realloc(g->instances, (g->n_instances + 1) * sizeof(*grown));
    if (grown == NULL)
        return NSC_ERR_NOMEM;
    g->instances = grown;
    grown[g->n_instances].provider_id = strdup(rec->provider_id);
    if (grown[g->n_instances].provider_id == NULL)
        return NSC_ERR_NOMEM;
    grown[g->n_instances].state = (int)rec->state;
    g->n_instances++;
    return NSC_OK;
}

/* Reads every group and its instances; problems with the records land in v->problem,
 * failures of the calls in the return value (with the reason in v->problem). */
static int
cf_view_read(struct cf *cf, struct cf_view *v)
{
    struct nsc_sink sink = {v, cf_sink_group, cf_sink_instance};
    struct cf_job j = {.op = CF_GROUPS, .sink = &sink};
    size_t i;
    int rc;

    memset(v, 0, sizeof(*v));
    rc = cf_run(cf, &j);
    if (rc < 0) {
        cf_note(v->problem, "node_groups returned %s: %s", plugin_status_name(rc),
                cf_last_error(cf));
        return rc;
    }
    for (i = 0; i < v->n_groups; i++) {
        struct cf_job ji = {.op = CF_INSTANCES, .sink = &sink, .group_id = v->groups[i].id};

        v->filling = &v->groups[i];
        rc = cf_run(cf, &ji);
        v->filling = NULL;
        if (rc < 0) {
            cf_note(v->problem, "group_instances of group %s returned %s: %s", v->groups[i].id,
                    plugin_status_name(rc), cf_last_error(cf));
            return rc;
        }
    }
    return 0;
}

static struct cf_group *
cf_find(const struct cf_view *v, const char *id)
{
    size_t i;

    for (i = 0; i < v->n_groups; i++) {
        if (strcmp(v->groups[i].id, id) == 0)
            return &v->groups[i];
    }
    return NULL;
}

static const struct cf_instance *
cf_find_instance(const struct cf_group *g, const char *provider_id)
{
    size_t i;

    for (i = 0; i < g->n_instances; i++) {
        if (strcmp(g->instances[i].provider_id, provider_id) == 0)
            return &g->instances[i];
    }
    return NULL;
}

static int32_t
cf_live(const struct cf_group *g)
{
    int32_t n = 0;
    size_t i;

    for (i = 0; i < g->n_instances; i++)
        n += g->instances[i].state != NSC_INSTANCE_DELETING;
    return n;
}

/* Every provider ID belongs to one group, once. */
static void
cf_check_members(const struct cf_view *v, char *problem)
{
    size_t i, k, i2, k2;

    for (i = 0; i < v->n_groups; i++) {
        for (k = 0; k < v->groups[i].n_instances; k++) {
            const char *pid = v->groups[i].instances[k].provider_id;

            for (i2 = i; i2 < v->n_groups; i2++) {
                for (k2 = i2 == i ? k + 1 : 0; k2 < v->groups[i2].n_instances; k2++) {
                    if (strcmp(pid, v->groups[i2].instances[k2].provider_id) == 0)
                        cf_note(problem, "instance %s is listed %s", pid,
                                i2 == i ? "twice in group" : "in two groups");
                }
            }
        }
    }
}

/* The same groups with the same bounds, targets and live instances. */
static void
cf_compare(const struct cf_view *before, const struct cf_view *after, char *problem)
{
    size_t i, k;

    if (before->n_groups != after->n_groups)
        cf_note(problem, "%zu groups became %zu", before->n_groups, after->n_groups);
    for (i = 0; i < before->n_groups; i++) {
        const struct cf_group *a = &before->groups[i], *b = cf_find(after, a->id);

        if (b == NULL) {
            cf_note(problem, "group %s disappeared", a->id);
            continue;
        }
        if (a->min_size != b->min_size || a->max_size != b->max_size ||
            a->target_size != b->target_size)
            cf_note(problem, "group %s: min/target/max %d/%d/%d became %d/%d/%d", a->id,
                    (int)a->min_size, (int)a->target_size, (int)a->max_size, (int)b->min_size,
                    (int)b->target_size, (int)b->max_size);
        for (k = 0; k < a->n_instances; k++) {
            const struct cf_instance *x = &a->instances[k], *y;

            if (x->state == NSC_INSTANCE_DELETING)
                continue;
            y = cf_find_instance(b, x->provider_id);
            if (y == NULL || y->state == NSC_INSTANCE_DELETING)
                cf_note(problem, "group %s: instance %s %s", a->id, x->provider_id,
                        y == NULL ? "disappeared" : "is being deleted");
        }
        for (k = 0; k < b->n_instances; k++) {
            if (b->instances[k].state != NSC_INSTANCE_DELETING &&
                cf_find_instance(a, b->instances[k].provider_id) == NULL)
                cf_note(problem, "group %s: instance %s appeared", a->id,
                        b->instances[k].provider_id);
        }
    }
}

/* Refresh and read; on failure the reason goes into problem. */
static int
cf_reread(struct cf *cf, struct cf_view *v, char *problem)
{
    int rc = cf_refresh(cf);

    memset(v, 0, sizeof(*v));
    if (rc < 0) {
        cf_note(problem, "refresh returned %s: %s", plugin_status_name(rc), cf_last_error(cf));
        return rc;
    }
    rc = cf_view_read(cf, v);
    if (rc < 0 || v->problem[0] != '\0') {
        cf_note(problem, "%s", v->problem);
        return rc < 0 ? rc : NSC_ERR_INTERNAL;
    }
    return 0;
}

/* ---- the checks ---- */

static void
cf_check_unchanged_after(struct cf *cf, const struct cf_view *before, char *problem)
{
    struct cf_view after;

    if (cf_reread(cf, &after, problem) == 0)
        cf_compare(before, &after, problem);
    cf_view_free(&after);
}

static void
check_resize_noop(struct cf *cf, const struct cf_view *v)
{
    char problem[CF_TEXT] = "";
    size_t i;
    int rc;

    for (i = 0; i < v->n_groups; i++) {
        rc = cf_resize(cf, v->groups[i].id, v->groups[i].target_size);
        if (rc < 0)
            cf_note(problem, "resize of group %s to its target %d returned %s: %s",
                    v->groups[i].id, (int)v->groups[i].target_size, plugin_status_name(rc),
                    cf_last_error(cf));
    }
    if (problem[0] == '\0')
        cf_check_unchanged_after(cf, v, problem);
    if (problem[0] != '\0')
        cf_report(cf, "resize-noop", false, "%s", problem);
    else
        cf_report(cf, "resize-noop", true,
                  "resize to the current target of %zu group(s) changed nothing", v->n_groups);
}

static void
check_resize_bounds(struct cf *cf, const struct cf_view *v)
{
    char problem[CF_TEXT] = "";
    size_t i, n = 0;

    for (i = 0; i < v->n_groups; i++) {
        const struct cf_group *g = &v->groups[i];
        int32_t outside[2];
        size_t k, n_out = 0;

        if (g->max_size < INT32_MAX)
            outside[n_out++] = g->max_size + 1;
        outside[n_out++] = g->min_size - 1;
        for (k = 0; k < n_out; k++) {
            int rc = cf_resize(cf, g->id, outside[k]);

            n++;
            if (rc != NSC_ERR_INVALID)
                cf_note(problem, "resize of group %s [%d, %d] to %d returned %s, want invalid",
                        g->id, (int)g->min_size, (int)g->max_size, (int)outside[k],
                        plugin_status_name(rc));
        }
    }
    cf_check_unchanged_after(cf, v, problem);
    if (problem[0] != '\0')
        cf_report(cf, "resize-bounds", false, "%s", problem);
    else
        cf_report(cf, "resize-bounds", true,
                  "%zu resize(s) outside [min, max] refused as invalid", n);
}

static void
check_evict_unknown(struct cf *cf, const struct cf_view *v)
{
    const char *ids[1] = {CF_NO_INSTANCE};
    char problem[CF_TEXT] = "";
    size_t i;

    for (i = 0; i < v->n_groups; i++) {
        int rc = cf_evict(cf, v->groups[i].id, ids, 1);

        if (rc != NSC_ERR_INVALID && rc != NSC_ERR_NOT_FOUND)
            cf_note(problem, "evict of %s from group %s returned %s, want invalid or not found",
                    CF_NO_INSTANCE, v->groups[i].id, plugin_status_name(rc));
    }
    cf_check_unchanged_after(cf, v, problem);
    if (problem[0] != '\0')
        cf_report(cf, "evict-unknown", false, "%s", problem);
    else
        cf_report(cf, "evict-unknown", true,
                  "evict of an unknown instance refused in %zu group(s)", v->n_groups);
}

static void
check_unknown_group(struct cf *cf, const struct cf_view *v)
{
    struct cf_view tmp;
    struct nsc_sink sink = {&tmp, cf_sink_group, cf_sink_instance};
    struct cf_job j = {.op = CF_INSTANCES, .sink = &sink, .group_id = CF_NO_GROUP};
    const char *ids[1] = {CF_NO_INSTANCE};
    char problem[CF_TEXT] = "";
    int rc;

    if (cf_find(v, CF_NO_GROUP) != NULL) {
        cf_report(cf, "unknown-group", false, "the backend has a group named %s", CF_NO_GROUP);
        return;
    }
    memset(&tmp, 0, sizeof(tmp));
    rc = cf_run(cf, &j);
    if (rc != NSC_ERR_NOT_FOUND)
        cf_note(problem, "group_instances of %s returned %s, want not found", CF_NO_GROUP,
                plugin_status_name(rc));
    cf_view_free(&tmp);
    rc = cf_resize(cf, CF_NO_GROUP, 1);
    if (rc != NSC_ERR_NOT_FOUND)
        cf_note(problem, "resize of %s returned %s, want not found", CF_NO_GROUP,
                plugin_status_name(rc));
    rc = cf_evict(cf, CF_NO_GROUP, ids, 1);
    if (rc != NSC_ERR_NOT_FOUND)
        cf_note(problem, "evict from %s returned %s, want not found", CF_NO_GROUP,
                plugin_status_name(rc));
    cf_report(cf, "unknown-group", problem[0] == '\0', "%s",
              problem[0] ? problem
                         : "group_instances, resize and evict of an unknown group: not found");
}

/* Resize, retrying what the contract calls transient, until the deadline. */
static int
cf_resize_settled(struct cf *cf, const char *id, int32_t target, int64_t deadline)
{
    int rc;

    for (;;) {
        rc = cf_resize(cf, id, target);
        if (rc != NSC_ERR_TRANSIENT || cf_now_ms() >= deadline)
            return rc;
        cf_sleep_ms(CF_POLL_MS);
        cf_refresh(cf);
    }
}

/* Refresh until group id shows target and as many live instances, with its bounds kept;
 * the view it ends on is left in *v. */
static int
cf_wait_size(struct cf *cf, const struct cf_group *start, int32_t target, int64_t deadline,
             bool check_bounds, struct cf_view *v, char *problem)
{
    char what[CF_TEXT] = "";

    for (;;) {
        const struct cf_group *g;
        int rc = cf_refresh(cf);

        what[0] = '\0';
        memset(v, 0, sizeof(*v));
        if (rc < 0 && rc != NSC_ERR_TRANSIENT) {
            cf_note(problem, "refresh returned %s: %s", plugin_status_name(rc),
                    cf_last_error(cf));
            return rc;
        }
        if (rc == 0) {
            rc = cf_view_read(cf, v);
            if (rc < 0 || v->problem[0] != '\0') {
                cf_note(problem, "%s", v->problem);
                return NSC_ERR_INTERNAL;
            }
            g = cf_find(v, start->id);
            if (g == NULL) {
                cf_note(problem, "group %s disappeared", start->id);
                return NSC_ERR_INTERNAL;
            }
            /* Bounds that move are a failure, but not one that stops the wait: the next
             * checks still need the group at its size. */
            if (check_bounds &&
                (g->min_size != start->min_size || g->max_size != start->max_size))
                cf_note(problem, "group %s: bounds [%d, %d] became [%d, %d] at target %d",
                        g->id, (int)start->min_size, (int)start->max_size, (int)g->min_size,
                        (int)g->max_size, (int)g->target_size);
            if (g->target_size == target && cf_live(g) == target)
                return 0;
            snprintf(what, sizeof(what), "target %d with %d live instance(s)",
                     (int)g->target_size, (int)cf_live(g));
        }
        if (cf_now_ms() >= deadline) {
            cf_note(problem, "group %s: still %s, not %d, after %lld ms", start->id,
                    what[0] ? what : "not refreshed", (int)target, (long long)cf->settle_ms);
            return NSC_ERR_TRANSIENT;
        }
        cf_view_free(v);
        cf_sleep_ms(CF_POLL_MS);
    }
}

static int
cf_copy_group(const struct cf_group *g, struct cf_group *out)
{
    size_t k;

    memset(out, 0, sizeof(*out));
    out->id = strdup(g->id);
    out->min_size = g->min_size;
    out->max_size = g->max_size;
    out->target_size = g->target_size;
    out->instances = calloc(g->n_instances + 1, sizeof(*out->instances));
    if (out->id == NULL || out->instances == NULL)
        return NSC_ERR_NOMEM;
    for (k = 0; k < g->n_instances; k++) {
        out->instances[k].provider_id = strdup(g->instances[k].provider_id);
        if (out->instances[k].provider_id == NULL)
            return NSC_ERR_NOMEM;
        out->instances[k].state = g->instances[k].state;
        out->n_instances++;
    }
    return 0;
}

/* Grow by one (waiting for the instance), then back; evict one instance at the end. */
static void
check_mutations(struct cf *cf, const struct cf_view *v)
{
    char problem[CF_TEXT] = "";
    const struct cf_group *pick = NULL;
    struct cf_group g0;
    struct cf_view now;
    const char *victim = NULL;
    int32_t t0, cur;
    bool grown = false;
    size_t i;
    int rc;

    for (i = 0; i < v->n_groups && pick == NULL; i++) {
        const struct cf_group *g = &v->groups[i];

        if (cf->only_group != NULL
                ? strcmp(g->id, cf->only_group) == 0
                : g->target_size < g->max_size && cf_live(g) == g->target_size)
            pick = g;
    }
    if (pick == NULL || pick->target_size >= pick->max_size) {
        const char *why = cf->only_group ? "the group named by --group is missing or at its max"
                                         : "no group is below its max with its target reached";

        cf_report(cf, "grow", false, "%s", why);
        cf_report(cf, "shrink", false, "%s", why);
        cf_report(cf, "evict", false, "%s", why);
        return;
    }
    if (cf_copy_group(pick, &g0) < 0) {
        fprintf(stderr, "nsc-backend-conformance: out of memory\n");
        exit(2);
    }
    t0 = g0.target_size;

    /* grow */
    rc = cf_resize_settled(cf, g0.id, t0 + 1, cf_now_ms() + cf->settle_ms);
    if (rc < 0)
        cf_note(problem, "resize of group %s from %d to %d returned %s: %s", g0.id, (int)t0,
                (int)t0 + 1, plugin_status_name(rc), cf_last_error(cf));
    else if (cf_wait_size(cf, &g0, t0 + 1, cf_now_ms() + cf->settle_ms, true, &now, problem) ==
             0) {
        cf_view_free(&now);
        grown = true;
    }
    cf_report(cf, "grow", problem[0] == '\0', "%s", problem[0] ? problem : "grown by one");
    if (!grown) {
        cf_report(cf, "shrink", false, "not tried: grow failed");
        cf_report(cf, "evict", false, "not tried: grow failed");
        cf_group_free(&g0);
        return;
    }
    cur = t0 + 1;

    /* shrink: a backend may refuse, as invalid with a reason, to let the cloud pick the
     * victims of a smaller size; nodes then leave only through evict. */
    problem[0] = '\0';
    rc = cf_resize_settled(cf, g0.id, t0, cf_now_ms() + cf->settle_ms);
    if (rc == NSC_ERR_INVALID && cf_last_error(cf)[0] != '\0') {
        cf_report(cf, "shrink", true, "refused (removes nodes only by evict): %s",
                  cf_last_error(cf));
    } else {
        if (rc < 0)
            cf_note(problem, "resize of group %s from %d to %d returned %s: %s", g0.id,
                    (int)cur, (int)t0, plugin_status_name(rc), cf_last_error(cf));
        else if (cf_wait_size(cf, &g0, t0, cf_now_ms() + cf->settle_ms, true, &now, problem) ==
                 0) {
            cf_view_free(&now);
            cur = t0;
        }
        cf_report(cf, "shrink", problem[0] == '\0', "%s",
                  problem[0] ? problem : "back to the first target");
        if (problem[0] != '\0') {
            cf_report(cf, "evict", false, "not tried: shrink failed");
            cf_group_free(&g0);
            return;
        }
    }

    /* evict: of an instance this run created, so that the group ends at its first size
     * and no machine that was there before is touched; grow again when shrinking
     * brought it back. */
    problem[0] = '\0';
    if (cur == t0) {
        rc = cf_resize_settled(cf, g0.id, t0 + 1, cf_now_ms() + cf->settle_ms);
        if (rc < 0)
            cf_note(problem, "resize of group %s to %d before evicting returned %s: %s", g0.id,
                    (int)t0 + 1, plugin_status_name(rc), cf_last_error(cf));
        else if (cf_wait_size(cf, &g0, t0 + 1, cf_now_ms() + cf->settle_ms, false, &now,
                              problem) == 0) {
            cf_view_free(&now);
            cur = t0 + 1;
        }
    }
    if (problem[0] == '\0' && cf_reread(cf, &now, problem) == 0) {
        const struct cf_group *g = cf_find(&now, g0.id);
        struct cf_group before;

        for (i = 0; g != NULL && i < g->n_instances; i++) {
            const struct cf_instance *x = &g->instances[i];

            if (x->state != NSC_INSTANCE_DELETING &&
                cf_find_instance(&g0, x->provider_id) == NULL)
                victim = x->provider_id;
        }
        for (i = 0; g != NULL && victim == NULL && i < g->n_instances; i++) {
            if (g->instances[i].state == NSC_INSTANCE_RUNNING)
                victim = g->instances[i].provider_id;
        }
        if (g == NULL || victim == NULL) {
            cf_note(problem, "group %s has no instance to evict", g0.id);
        } else if (cf_copy_group(g, &before) == 0) {
            const char *ids[1];
            struct cf_view after;
            char *vid = strdup(victim);
            int64_t deadline = cf_now_ms() + cf->settle_ms;

            ids[0] = vid;
            rc = NSC_ERR_TRANSIENT;
            while (rc == NSC_ERR_TRANSIENT) {
                rc = cf_evict(cf, g0.id, ids, 1);
                if (rc != NSC_ERR_TRANSIENT || cf_now_ms() >= deadline)
                    break;
                cf_sleep_ms(CF_POLL_MS);
                cf_refresh(cf);
            }
            if (rc < 0) {
                cf_note(problem, "evict of %s from group %s returned %s: %s", vid, g0.id,
                        plugin_status_name(rc), cf_last_error(cf));
            } else if (cf_wait_size(cf, &g0, cur - 1, cf_now_ms() + cf->settle_ms, true, &after,
                                    problem) == 0) {
                const struct cf_group *ga = cf_find(&after, g0.id);
                const struct cf_instance *x = cf_find_instance(ga, vid);

                if (x != NULL && x->state != NSC_INSTANCE_DELETING)
                    cf_note(problem, "group %s: evicted instance %s is still live", g0.id, vid);
                for (i = 0; i < before.n_instances; i++) {
                    const struct cf_instance *y;

                    if (strcmp(before.instances[i].provider_id, vid) == 0 ||
                        before.instances[i].state == NSC_INSTANCE_DELETING)
                        continue;
                    y = cf_find_instance(ga, before.instances[i].provider_id);
                    if (y == NULL || y->state == NSC_INSTANCE_DELETING)
                        cf_note(problem, "group %s: evicting %s also removed %s", g0.id, vid,
                                before.instances[i].provider_id);
                }
                cf_view_free(&after);
            }
            free(vid);
            cf_group_free(&before);
        }
    }
    cf_view_free(&now);
    cf_report(cf, "evict", problem[0] == '\0', "%s",
              problem[0] ? problem : "exactly the named instance removed, target lowered");
    cf_group_free(&g0);
}

/* ---- options ---- */

static void
cf_usage(FILE *f)
{
    fprintf(
        f,
        "usage: nsc-backend-conformance [OPTION...] BACKEND\n"
        "Load BACKEND (a name searched like --backend, or a path to a .so) through the\n"
        "nodescaler loader and check the contract of <nodescaler/backend.h>.\n"
        "  --opt KEY=VALUE    option for the backend (as --backend-opt); repeatable\n"
        "  --timeout-ms N     longest a single call may take (default %d)\n"
        "  --settle-ms N      longest --mutate waits for the cloud (default %d)\n"
        "  --bad-opt[=KEY]    also check that an unknown option key is refused\n"
        "  --mutate           also grow a group by one and back, and evict an instance\n"
        "  --group ID         the group --mutate changes (default: the first that can grow)\n"
        "  --verbose          show the backend's informational logs\n"
        "  --help, --version\n"
        "Prints one PASS or FAIL line per check; exits 0 when all pass, 1 when one\n"
        "fails, 2 on a usage error.\n",
        CF_DEFAULT_TIMEOUT_MS, CF_DEFAULT_SETTLE_MS);
}

static int64_t
cf_parse_ms(const char *flag, const char *v)
{
    char *end;
    long long n;

    errno = 0;
    n = strtoll(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno != 0 || n < 1 || n > 3600000) {
        fprintf(stderr,
                "nsc-backend-conformance: %s=\"%s\": expected milliseconds from 1 to "
                "3600000\n",
                flag, v);
        exit(2);
    }
    return n;
}

/* The value of --name=V or --name V; NULL when arg is not this flag. */
static const char *
cf_flag(const char *name, int argc, char **argv, int *i)
{
    size_t len = strlen(name);

    if (strncmp(argv[*i], name, len) != 0)
        return NULL;
    if (argv[*i][len] == '=')
        return argv[*i] + len + 1;
    if (argv[*i][len] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "nsc-backend-conformance: %s needs a value\n", name);
        exit(2);
    }
    return argv[++*i];
}

int
main(int argc, char **argv)
{
    struct cf cf;
    struct plugin *plugin = NULL;
    struct cf_view view = {NULL, 0, NULL, ""};
    const char *backend = NULL, *bad_key = NULL, *v;
    char err[CF_TEXT] = "";
    bool mutate = false, verbose = false;
    int i, rc;

    memset(&cf, 0, sizeof(cf));
    cf.timeout_ms = CF_DEFAULT_TIMEOUT_MS;
    cf.settle_ms = CF_DEFAULT_SETTLE_MS;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cf_usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("nsc-backend-conformance %s (backend ABI %d.%d)\n", nsc_engine_version(),
                   NSC_ABI_MAJOR, NSC_ABI_MINOR);
            return 0;
        } else if (strcmp(a, "--mutate") == 0) {
            mutate = true;
        } else if (strcmp(a, "--verbose") == 0) {
            verbose = true;
        } else if (strcmp(a, "--bad-opt") == 0) {
            bad_key = CF_BAD_KEY;
        } else if (strncmp(a, "--bad-opt=", 10) == 0) {
            bad_key = a + 10;
            if (bad_key[0] == '\0') {
                fprintf(stderr, "nsc-backend-conformance: --bad-opt= needs a key\n");
                return 2;
            }
        } else if ((v = cf_flag("--opt", argc, argv, &i)) != NULL) {
            const char *eq = strchr(v, '=');
            char *key;

            if (eq == NULL || eq == v) {
                fprintf(stderr, "nsc-backend-conformance: --opt \"%s\": expected KEY=VALUE\n",
                        v);
                return 2;
            }
            if (cf.n_opts == CF_MAX_OPTS) {
                fprintf(stderr, "nsc-backend-conformance: more than %d --opt\n", CF_MAX_OPTS);
                return 2;
            }
            key = strndup(v, (size_t)(eq - v));
            if (key == NULL)
                return 2;
            cf.opts[cf.n_opts].key = key;
            cf.opts[cf.n_opts].value = eq + 1;
            cf.n_opts++;
        } else if ((v = cf_flag("--timeout-ms", argc, argv, &i)) != NULL) {
            cf.timeout_ms = cf_parse_ms("--timeout-ms", v);
        } else if ((v = cf_flag("--settle-ms", argc, argv, &i)) != NULL) {
            cf.settle_ms = cf_parse_ms("--settle-ms", v);
        } else if ((v = cf_flag("--group", argc, argv, &i)) != NULL) {
            cf.only_group = v;
        } else if ((v = cf_flag("--backend", argc, argv, &i)) != NULL) {
            backend = v;
        } else if (a[0] == '-') {
            fprintf(stderr, "nsc-backend-conformance: unknown option %s (see --help)\n", a);
            return 2;
        } else if (backend == NULL) {
            backend = a;
        } else {
            fprintf(stderr, "nsc-backend-conformance: one backend only (%s, then %s)\n",
                    backend, a);
            return 2;
        }
    }
    if (backend == NULL) {
        cf_usage(stderr);
        return 2;
    }
    log_set_level(verbose ? NSC_LOG_INFO : NSC_LOG_WARNING);

    /* load: the loader applies the acceptance rule of backend.h (version negotiation,
     * table size, mandatory operations, file permissions). */
    rc = plugin_load(backend, &plugin, err, sizeof(err));
    if (rc < 0) {
        cf_report(&cf, "load", false, "%s", err);
        plugin = NULL;
        goto out;
    }
    cf.ops = plugin_ops(plugin);
    cf_report(&cf, "load", true, "%s %s from %s: ABI %u.%u accepted by the core's %d.%d",
              cf.ops->name, cf.ops->version, plugin_path(plugin), (unsigned)cf.ops->abi_major,
              (unsigned)cf.ops->abi_minor, NSC_ABI_MAJOR, NSC_ABI_MINOR);
    cf.host = host_new(cf.ops->name, cf.opts, cf.n_opts, NULL);
    if (cf.host == NULL) {
        fprintf(stderr, "nsc-backend-conformance: cannot build the host table\n");
        return 2;
    }

    if (bad_key != NULL) {
        struct nsc_option opts[CF_MAX_OPTS + 1];
        struct nsc_backend *b = NULL;
        struct cf_job j = {.op = CF_CREATE, .opts = opts, .created = &b};

        memcpy(opts, cf.opts, cf.n_opts * sizeof(*opts));
        opts[cf.n_opts].key = bad_key;
        opts[cf.n_opts].value = "1";
        j.n_opts = cf.n_opts + 1;
        j.errbuf = err;
        j.errbuf_len = sizeof(err);
        err[0] = '\0';
        rc = cf_run(&cf, &j);
        if (rc == 0) {
            cf_report(&cf, "bad-opt", false, "create accepted the unknown option key %s",
                      bad_key);
            cf.backend = b;
            j.op = CF_DESTROY;
            cf_run(&cf, &j);
            cf.backend = NULL;
        } else if (strstr(err, bad_key) == NULL) {
            cf_report(&cf, "bad-opt", false,
                      "create refused the unknown key %s (%s) but its error does not name it: "
                      "\"%s\"",
                      bad_key, plugin_status_name(rc), err);
        } else {
            cf_report(&cf, "bad-opt", true, "unknown key refused (%s): %s",
                      plugin_status_name(rc), err);
        }
    }

    {
        struct cf_job j = {.op = CF_CREATE, .opts = cf.opts, .n_opts = cf.n_opts};

        j.created = &cf.backend;
        j.errbuf = err;
        j.errbuf_len = sizeof(err);
        err[0] = '\0';
        rc = cf_run(&cf, &j);
        if (rc < 0 || cf.backend == NULL) {
            cf_report(&cf, "create", false, "returned %s%s: %s", plugin_status_name(rc),
                      rc == 0 ? " without an instance" : "", err[0] ? err : "(no error text)");
            goto out;
        }
        cf_report(&cf, "create", true, "an instance with %zu option(s)", cf.n_opts);
    }

    rc = cf_refresh(&cf);
    if (rc < 0) {
        cf_report(&cf, "refresh", false, "returned %s: %s", plugin_status_name(rc),
                  cf_last_error(&cf));
        goto out;
    }
    cf_report(&cf, "refresh", true, "ok");

    rc = cf_view_read(&cf, &view);
    {
        char problem[CF_TEXT];
        size_t n_inst = 0;

        snprintf(problem, sizeof(problem), "%s", view.problem);
        for (i = 0; i < (int)view.n_groups; i++)
            n_inst += view.groups[i].n_instances;
        if (rc < 0 || problem[0] != '\0') {
            cf_report(&cf, "groups", false, "%s", problem);
            goto out;
        }
        cf_report(&cf, "groups", true, "%zu group(s), %zu instance(s)", view.n_groups, n_inst);
        cf_check_members(&view, problem);
        cf_report(&cf, "members", problem[0] == '\0', "%s",
                  problem[0] ? problem : "every instance in exactly one group");
    }

    {
        /* Each check starts from a fresh view, so that one that changed the groups fails
         * alone and not every check after it. */
        static void (*const checks[])(struct cf *, const struct cf_view *) = {
            check_unknown_group, check_resize_noop, check_resize_bounds, check_evict_unknown,
            check_mutations};
        size_t n_checks = sizeof(checks) / sizeof(checks[0]) - (mutate ? 0 : 1), k;

        for (k = 0; k < n_checks; k++) {
            char problem[CF_TEXT] = "";

            if (k > 0) {
                cf_view_free(&view);
                if (cf_reread(&cf, &view, problem) < 0) {
                    cf_report(&cf, "refresh", false, "%s", problem);
                    goto out;
                }
            }
            checks[k](&cf, &view);
        }
    }

    cf_report(&cf, "error-text", cf.n_silent == 0, "%s%s",
              cf.n_silent ? cf.silent : "every refusal came with a last_error text",
              cf.n_silent > 1 ? " (and more)" : "");
    cf_report(&cf, "deadline", cf.n_slow == 0, "%s%s",
              cf.n_slow ? cf.slow : "every call returned within --timeout-ms",
              cf.n_slow > 1 ? " (and more)" : "");
out:
    if (cf.backend != NULL) {
        struct cf_job j = {.op = CF_DESTROY};

        cf_run(&cf, &j);
        cf.backend = NULL;
    }
    cf_view_free(&view);
    host_free(cf.host);
    for (i = 0; i < (int)cf.n_opts; i++)
        free((char *)(uintptr_t)cf.opts[i].key);
    if (plugin != NULL)
        plugin_unload(plugin);
    printf("%s: %d check(s) failed\n", cf.n_fail ? "FAILED" : "passed", cf.n_fail);
    return cf.n_fail ? 1 : 0;
}
