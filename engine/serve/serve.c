/* The served state: what the loop reports (counters, gauges, activity, decisions) under one
 * lock, and the two renderings that read it besides /metrics: /health-check and /explain. */
#include "config.h"

#include "serve/serve_int.h"

#include <nodescaler/backend.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t
serve_mono_ms(void *ctx)
{
    struct timespec ts;

    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
serve_now_ms(const struct serve *s)
{
    return s->o.clock(s->o.clock_ctx);
}

static double
serve_wall_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Multiplied step by step as Go's ExponentialBuckets does, so that the bounds print the
 * same digits as the Go autoscaler's. */
double
serve_bucket_bound(size_t i)
{
    double v = 0.01;

    while (i-- > 0)
        v *= 1.5;
    return v;
}

int
serve_new(const struct serve_options *o, struct serve **out)
{
    struct serve *s = calloc(1, sizeof(*s));

    *out = NULL;
    if (s == NULL)
        return NSC_ERR_NOMEM;
    s->o = *o;
    if (s->o.clock == NULL) {
        s->o.clock = serve_mono_ms;
        s->o.clock_ctx = NULL;
    }
    if (s->o.history < 1)
        s->o.history = 1;
    s->backend = strdup(o->backend_name ? o->backend_name : "");
    s->o.backend_name = s->backend;
    s->ring = calloc(s->o.history, sizeof(*s->ring));
    if (s->backend == NULL || s->ring == NULL || pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s->backend);
        free(s->ring);
        free(s);
        return NSC_ERR_NOMEM;
    }
    /* As the Go autoscaler: startup is never judged by a shorter limit than the others. */
    if (s->o.max_startup_time_ms < s->o.max_inactivity_ms)
        s->o.max_startup_time_ms = s->o.max_inactivity_ms;
    if (s->o.max_startup_time_ms < s->o.max_failing_time_ms)
        s->o.max_startup_time_ms = s->o.max_failing_time_ms;
    s->monitor_start_ms = serve_now_ms(s);
    *out = s;
    return 0;
}

void
serve_state_free(struct serve *s)
{
    for (size_t i = 0; i < s->ring_n; i++)
        json_decref(s->ring[(s->ring_head + i) % s->o.history]);
    free(s->ring);
    while (s->removals != NULL) {
        struct serve_removal *r = s->removals;

        s->removals = r->next;
        free(r->node);
        free(r);
    }
    free(s->backend);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void
serve_set_leading(struct serve *s, bool leading)
{
    pthread_mutex_lock(&s->lock);
    if (leading && (!s->leading_known || !s->leading)) {
        /* A new leader has not looped yet: give it the start-up allowance. */
        s->monitor_start_ms = serve_now_ms(s);
        s->last_activity_ms = s->last_success_ms = 0;
        s->n_failing = 0;
    }
    s->leading_known = true;
    s->leading = leading;
    pthread_mutex_unlock(&s->lock);
}

void
serve_loop_begin(struct serve *s, enum serve_trigger trigger)
{
    pthread_mutex_lock(&s->lock);
    s->last_activity_ms = serve_now_ms(s);
    s->loop_wall_ms = (int64_t)(serve_wall_s() * 1000);
    s->m.last_activity_s[SERVE_FN_MAIN] = (double)s->loop_wall_ms / 1000;
    s->trigger = trigger < SERVE_TRIGGER_N ? trigger : SERVE_TRIGGER_SCAN;
    s->m.loops[s->trigger]++;
    s->n_loops++;
    s->note[0] = '\0';
    pthread_mutex_unlock(&s->lock);
}

void
serve_loop_note(struct serve *s, const char *note)
{
    pthread_mutex_lock(&s->lock);
    snprintf(s->note, sizeof(s->note), "%s", note);
    pthread_mutex_unlock(&s->lock);
}

static const char *const serve_err_names[SERVE_ERR_N] = {"cloudProviderError", "apiCallError",
                                                         "internalError", "transientError",
                                                         "configurationError"};
static const char *const serve_trigger_names[SERVE_TRIGGER_N] = {"scan", "pod", "frequent",
                                                                 "retry"};

void
serve_loop_end(struct serve *s, bool ok, enum serve_err err_type, json_t *decision)
{
    char when[32];
    time_t t;
    struct tm tm;
    json_t *entry;

    pthread_mutex_lock(&s->lock);
    t = (time_t)(s->loop_wall_ms / 1000);
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (ok) {
        s->last_success_ms = serve_now_ms(s);
        s->n_failing = 0;
    } else {
        s->n_failing++;
        s->m.errors[err_type < SERVE_ERR_N ? err_type : SERVE_ERR_INTERNAL]++;
    }
    /* The decision is never changed after this point: the HTTP thread only reads it. */
    entry =
        json_pack("{s:I, s:s, s:s, s:b, s:o?}", "loop", (json_int_t)s->n_loops, "time", when,
                  "trigger", serve_trigger_names[s->trigger], "ok", ok, "decision", decision);
    /* A failed loop says its class only: its error text stays in the log. */
    if (entry != NULL && !ok)
        json_object_set_new(
            entry, "error_type",
            json_string(
                serve_err_names[err_type < SERVE_ERR_N ? err_type : SERVE_ERR_INTERNAL]));
    if (entry != NULL && s->note[0] != '\0')
        json_object_set_new(entry, "note", json_string(s->note));
    if (entry != NULL) {
        if (s->ring_n == s->o.history) {
            json_decref(s->ring[s->ring_head]);
            s->ring[s->ring_head] = entry;
            s->ring_head = (s->ring_head + 1) % s->o.history;
        } else {
            s->ring[(s->ring_head + s->ring_n) % s->o.history] = entry;
            s->ring_n++;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

void
serve_observe(struct serve *s, enum serve_fn fn, double seconds)
{
    struct serve_histogram *h;
    size_t i;

    if (fn >= SERVE_FN_N)
        return;
    if (!(seconds >= 0))
        seconds = 0;
    pthread_mutex_lock(&s->lock);
    h = &s->m.fn[fn];
    for (i = 0; i < SERVE_N_BUCKETS && seconds > serve_bucket_bound(i); i++)
        ;
    if (i < SERVE_N_BUCKETS)
        h->buckets[i]++;
    h->count++;
    h->sum += seconds;
    if (fn != SERVE_FN_MAIN)
        s->m.last_activity_s[fn] = serve_wall_s();
    pthread_mutex_unlock(&s->lock);
}

void
serve_set_gauges(struct serve *s, const struct serve_gauges *g)
{
    pthread_mutex_lock(&s->lock);
    s->m.g = *g;
    s->m.have_gauges = true;
    pthread_mutex_unlock(&s->lock);
}

void
serve_count_call(struct serve *s, enum serve_call call)
{
    if (call >= SERVE_CALL_N)
        return;
    pthread_mutex_lock(&s->lock);
    s->m.calls[call]++;
    pthread_mutex_unlock(&s->lock);
}

void
serve_count_scale_up(struct serve *s, uint64_t n, bool failed)
{
    pthread_mutex_lock(&s->lock);
    if (failed)
        s->m.failed_scale_ups++;
    else
        s->m.scaled_up_nodes += n;
    pthread_mutex_unlock(&s->lock);
}

void
serve_note_removal(struct serve *s, const char *node, bool empty)
{
    struct serve_removal *r = calloc(1, sizeof(*r));

    if (r == NULL || (r->node = strdup(node)) == NULL) {
        free(r);
        return;
    }
    r->empty = empty;
    pthread_mutex_lock(&s->lock);
    r->next = s->removals;
    s->removals = r;
    pthread_mutex_unlock(&s->lock);
}

void
serve_count_scale_down(struct serve *s, const char *node, bool ok, bool dry_run)
{
    struct serve_removal **p, *found = NULL;

    pthread_mutex_lock(&s->lock);
    for (p = &s->removals; *p != NULL; p = &(*p)->next) {
        if (strcmp((*p)->node, node) == 0) {
            found = *p;
            *p = found->next;
            break;
        }
    }
    if (dry_run)
        ; /* nothing was removed */
    else if (!ok)
        s->m.failed_scale_downs++;
    else if (found != NULL && found->empty)
        s->m.scaled_down_empty++;
    else
        s->m.scaled_down_underutilized++;
    pthread_mutex_unlock(&s->lock);
    if (found != NULL) {
        free(found->node);
        free(found);
    }
}

/* "1h2m3s"-like text of a duration, to the second. */
static void
serve_dur(int64_t ms, char *buf, size_t len)
{
    int64_t s = ms / 1000;

    if (s >= 3600)
        snprintf(buf, len, "%lldh%lldm%llds", (long long)(s / 3600), (long long)(s % 3600 / 60),
                 (long long)(s % 60));
    else if (s >= 60)
        snprintf(buf, len, "%lldm%llds", (long long)(s / 60), (long long)(s % 60));
    else
        snprintf(buf, len, "%llds", (long long)s);
}

int
serve_health(struct serve *s, char *reason, size_t reason_len)
{
    int64_t now;
    char a[32], b[32];
    int code = 200;

    pthread_mutex_lock(&s->lock);
    now = serve_now_ms(s);
    if (s->leading_known && !s->leading) {
        snprintf(reason, reason_len, "OK: standby, another replica holds the lease");
    } else if (s->last_success_ms == 0) {
        if (now - s->monitor_start_ms > s->o.max_startup_time_ms) {
            serve_dur(now - s->monitor_start_ms, a, sizeof(a));
            serve_dur(s->o.max_startup_time_ms, b, sizeof(b));
            snprintf(reason, reason_len,
                     "no successful loop in the %s since start (%llu failed, %s limit of "
                     "--max-startup-time)",
                     a, (unsigned long long)s->n_failing, b);
            code = 500;
        } else {
            snprintf(reason, reason_len, "OK: starting, no loop finished yet");
        }
    } else if (now - s->last_activity_ms > s->o.max_inactivity_ms) {
        serve_dur(now - s->last_activity_ms, a, sizeof(a));
        serve_dur(s->o.max_inactivity_ms, b, sizeof(b));
        snprintf(reason, reason_len,
                 "no loop started for %s (--max-inactivity=%s): the loop is stuck", a, b);
        code = 500;
    } else if (now - s->last_success_ms > s->o.max_failing_time_ms) {
        serve_dur(now - s->last_success_ms, a, sizeof(a));
        serve_dur(s->o.max_failing_time_ms, b, sizeof(b));
        snprintf(reason, reason_len,
                 "no successful loop for %s, %llu failed in a row (--max-failing-time=%s)", a,
                 (unsigned long long)s->n_failing, b);
        code = 500;
    } else {
        snprintf(reason, reason_len, "OK");
    }
    pthread_mutex_unlock(&s->lock);
    return code;
}

/* ---- /explain ---- */

static char *
serve_json_error(const char *msg, int code, int *status)
{
    json_t *o = json_pack("{s:s, s:i}", "error", msg, "status", code);
    char *text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;

    json_decref(o);
    *status = code;
    return text;
}

/* A Kubernetes object name as Kubernetes accepts one (DNS subdomain: lower-case letters,
 * digits, '-', '.', at most 253 characters); namespaces are a subset of that. */
static bool
serve_k8s_name(const char *s, size_t len)
{
    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return false;
    }
    return true;
}

/* The decision's entries about one pod, or NULL when none. New reference. */
static json_t *
serve_pod_in(const json_t *dec, const char *pod)
{
    size_t i, k;
    json_t *e, *p;

    json_array_foreach(json_object_get(dec, "scale_up"), i, e)
    {
        json_array_foreach(json_object_get(e, "pods"), k, p)
        {
            if (json_is_string(p) && strcmp(json_string_value(p), pod) == 0) {
                json_t *out =
                    json_pack("{s:s, s:O}", "verdict", "triggered scale-up", "scale_up", e);
                return out;
            }
        }
    }
    json_array_foreach(json_object_get(dec, "fits_existing"), i, e)
    {
        p = json_object_get(e, "pod");
        if (json_is_string(p) && strcmp(json_string_value(p), pod) == 0)
            return json_pack("{s:s, s:O?}", "verdict",
                             "no scale-up needed: fits an existing or upcoming node", "node",
                             json_object_get(e, "node"));
    }
    json_array_foreach(json_object_get(dec, "no_scale_up"), i, e)
    {
        p = json_object_get(e, "pod");
        if (json_is_string(p) && strcmp(json_string_value(p), pod) == 0) {
            json_t *out = json_pack("{s:s}", "verdict", "no scale-up: no group can take it");

            if (out != NULL && json_object_get(e, "reason") != NULL)
                json_object_set(out, "reason", json_object_get(e, "reason"));
            if (out != NULL && json_object_get(e, "reasons") != NULL)
                json_object_set(out, "reasons", json_object_get(e, "reasons"));
            return out;
        }
    }
    return NULL;
}

/* The decision's entries about one node, or NULL when none. New reference. */
static json_t *
serve_node_in(const json_t *dec, const char *node)
{
    size_t i;
    json_t *e, *n;

    json_array_foreach(json_object_get(dec, "scale_down"), i, e)
    {
        n = json_object_get(e, "node");
        if (json_is_string(n) && strcmp(json_string_value(n), node) == 0)
            return json_pack("{s:s, s:O}", "verdict", "removable: chosen for removal",
                             "scale_down", e);
    }
    json_array_foreach(json_object_get(dec, "unremovable"), i, e)
    {
        n = json_object_get(e, "node");
        if (json_is_string(n) && strcmp(json_string_value(n), node) == 0) {
            json_t *out =
                json_pack("{s:s, s:O?}", "verdict",
                          json_object_get(e, "unneeded_since") ? "unneeded, not removable yet"
                                                               : "not removable",
                          "reason", json_object_get(e, "reason"));

            if (out != NULL && json_object_get(e, "unneeded_since") != NULL)
                json_object_set(out, "unneeded_since", json_object_get(e, "unneeded_since"));
            return out;
        }
    }
    return NULL;
}

char *
serve_explain(struct serve *s, const char *pod, const char *node, int *status)
{
    json_t **kept = NULL, *out = NULL, *loops = NULL;
    size_t n = 0, i;
    char msg[600];
    char *text = NULL;
    const char *slash;

    if (pod != NULL && node != NULL)
        return serve_json_error("give either pod=NAMESPACE/NAME or node=NAME, not both", 400,
                                status);
    if (pod != NULL) {
        slash = strchr(pod, '/');
        if (slash == NULL || !serve_k8s_name(pod, (size_t)(slash - pod)) ||
            !serve_k8s_name(slash + 1, strlen(slash + 1))) {
            return serve_json_error(
                "malformed pod: want pod=NAMESPACE/NAME, both Kubernetes names", 400, status);
        }
    }
    if (node != NULL && !serve_k8s_name(node, strlen(node)))
        return serve_json_error("malformed node: want node=NAME, a Kubernetes name", 400,
                                status);
    /* Take references under the lock; build and render outside it. */
    pthread_mutex_lock(&s->lock);
    kept = calloc(s->ring_n ? s->ring_n : 1, sizeof(*kept));
    if (kept != NULL) {
        n = s->ring_n;
        for (i = 0; i < n; i++)
            kept[i] = json_incref(s->ring[(s->ring_head + i) % s->o.history]);
    }
    pthread_mutex_unlock(&s->lock);
    if (kept == NULL)
        return NULL;
    loops = json_array();
    if (loops == NULL)
        goto out;
    for (i = n; i-- > 0;) { /* newest first */
        const json_t *dec = json_object_get(kept[i], "decision");
        json_t *hit;

        if (pod == NULL && node == NULL) {
            json_array_append(loops, kept[i]);
            continue;
        }
        hit = pod != NULL ? serve_pod_in(dec, pod) : serve_node_in(dec, node);
        if (hit == NULL)
            continue;
        json_object_set(hit, "loop", json_object_get(kept[i], "loop"));
        json_object_set(hit, "time", json_object_get(kept[i], "time"));
        json_array_append_new(loops, hit);
    }
    if ((pod != NULL || node != NULL) && json_array_size(loops) == 0) {
        size_t n_unplanned = 0;

        for (i = 0; i < n; i++)
            if (json_object_get(kept[i], "decision") == NULL)
                n_unplanned++;
        if (pod != NULL)
            snprintf(msg, sizeof(msg),
                     "pod %s was not pending in any of the last %zu loops (it may be "
                     "scheduled, gone, or never seen); %zu of them planned nothing (see "
                     "/explain)",
                     pod, n, n_unplanned);
        else
            snprintf(msg, sizeof(msg),
                     "node %s is in none of the last %zu loops' decisions; %zu of them "
                     "planned nothing (see /explain)",
                     node, n, n_unplanned);
        text = serve_json_error(msg, 404, status);
        goto out;
    }
    if (pod != NULL)
        out = json_pack("{s:s, s:O}", "pod", pod, "loops", loops);
    else if (node != NULL)
        out = json_pack("{s:s, s:O}", "node", node, "loops", loops);
    else
        out = json_pack("{s:I, s:O}", "history", (json_int_t)s->o.history, "loops", loops);
    if (out != NULL)
        text = json_dumps(out, JSON_INDENT(2));
    *status = 200;
out:
    json_decref(out);
    json_decref(loops);
    for (i = 0; i < n; i++)
        json_decref(kept[i]);
    free(kept);
    return text;
}
