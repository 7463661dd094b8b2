/* Kubernetes Events of the control loop: what a decision and a drain mean to the pods,
 * nodes and status ConfigMap that kubectl describe shows, posted within fixed budgets. */
#include "config.h"

#include "loop/events.h"

#include "kube/client.h"
#include "kube/writes.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Both tables are bounded: a cluster with a hundred thousand pending pods must not grow
 * them. A slot is found within EVENTS_PROBE steps; when none is free the oldest of them
 * goes, which at worst lets one duplicate through. */
#define EVENTS_SEEN_SLOTS 16384
#define EVENTS_OBJ_SLOTS 8192
#define EVENTS_PROBE 8

struct events_seen {
    uint64_t hash;
    char *key; /* NULL: free */
    int64_t at_ms;
};

struct events_obj {
    uint64_t hash;
    char *key;
    double tokens;
    int64_t at_ms;
};

struct events {
    struct events_options o;
    events_post_fn *post;
    void *ud;
    bool leading;
    size_t n_loop;
    uint64_t counts[EVENTS_FAILED + 1];
    struct events_seen seen[EVENTS_SEEN_SLOTS];
    struct events_obj objs[EVENTS_OBJ_SLOTS];
};

void
events_options_default(struct events_options *o)
{
    memset(o, 0, sizeof(*o));
    o->dedup_window_ms = 5 * 60 * 1000;
    o->max_per_loop = 20;
    o->object_burst = 10;
    o->object_refill_ms = 60 * 1000;
    o->component = "nodescaler";
}

int
events_new(const struct events_options *o, events_post_fn *post, void *ud, struct events **out)
{
    struct events *e = calloc(1, sizeof(*e));

    *out = NULL;
    if (e == NULL)
        return NSC_ERR_NOMEM;
    e->o = *o;
    if (e->o.component == NULL)
        e->o.component = "nodescaler";
    e->post = post;
    e->ud = ud;
    e->leading = true;
    *out = e;
    return 0;
}

void
events_free(struct events *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < EVENTS_SEEN_SLOTS; i++)
        free(e->seen[i].key);
    for (size_t i = 0; i < EVENTS_OBJ_SLOTS; i++)
        free(e->objs[i].key);
    free(e);
}

void
events_set_leader(struct events *e, bool leading)
{
    e->leading = leading;
}

void
events_loop_begin(struct events *e)
{
    e->n_loop = 0;
}

const uint64_t *
events_counts(const struct events *e)
{
    return e->counts;
}

/* ---- bounded, valid text ---------------------------------------------------------------- */

/* Copy src into dst (cap bytes with the NUL): invalid bytes and control characters become
 * '?', and a cut never splits a character; a cut text ends in "..." when there is room. */
static void
events_clean(char *dst, size_t cap, const char *src)
{
    const unsigned char *s = (const unsigned char *)(src ? src : "");
    size_t n = strlen((const char *)s), used = 0, i = 0;
    bool cut = false;

    if (cap == 0)
        return;
    while (i < n) {
        size_t l = s[i] < 0x80 ? 1 : log_utf8_len(s + i);
        bool bad = l == 0 || (l == 1 && (s[i] < 0x20 || s[i] == 0x7f)) ||
                   (l == 2 && s[i] == 0xc2 && s[i + 1] <= 0x9f);

        if (bad)
            l = 1;
        if (used + (bad ? 1 : l) > cap - 1) {
            cut = true;
            break;
        }
        if (bad)
            dst[used++] = '?';
        else {
            memcpy(dst + used, s + i, l);
            used += l;
        }
        i += l;
    }
    if (cut && cap > 4) {
        size_t end = used;

        /* Back off to a character boundary leaving room for the marker. */
        while (used > cap - 4 ||
               (used > 0 && used < end && ((unsigned char)dst[used] & 0xc0) == 0x80))
            used--;
        memcpy(dst + used, "...", 3);
        used += 3;
    }
    dst[used] = '\0';
}

/* A DNS subdomain part for the Event's own name: lower-case alphanumerics, '-' and '.',
 * starting and ending alphanumeric; anything else becomes '-'. Kubernetes names are
 * already like this, but a name must never make the POST fail validation. */
static void
events_dns_part(char *dst, size_t cap, const char *src)
{
    size_t used = 0;

    for (const char *p = src; *p && used + 1 < cap; p++) {
        char c = *p;

        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            c = '-';
        if (used == 0 && (c == '-' || c == '.'))
            continue;
        dst[used++] = c;
    }
    while (used > 0 && (dst[used - 1] == '-' || dst[used - 1] == '.'))
        used--;
    if (used == 0 && cap > 6)
        used = (size_t)snprintf(dst, cap, "event");
    dst[used] = '\0';
}

/* ---- bounded tables --------------------------------------------------------------------- */

static uint64_t
events_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The slot of key, or the slot to reuse (a free one, else the oldest probed); *found
 * tells which. */
static struct events_seen *
events_seen_slot(struct events *e, const char *key, uint64_t h, bool *found)
{
    struct events_seen *victim = NULL;

    *found = false;
    for (size_t k = 0; k < EVENTS_PROBE; k++) {
        struct events_seen *s = &e->seen[(h + k) % EVENTS_SEEN_SLOTS];

        if (s->key != NULL && s->hash == h && strcmp(s->key, key) == 0) {
            *found = true;
            return s;
        }
        if (victim == NULL ||
            (victim->key != NULL && (s->key == NULL || s->at_ms < victim->at_ms)))
            victim = s;
    }
    return victim;
}

static struct events_obj *
events_obj_slot(struct events *e, const char *key, uint64_t h, bool *found)
{
    struct events_obj *victim = NULL;

    *found = false;
    for (size_t k = 0; k < EVENTS_PROBE; k++) {
        struct events_obj *s = &e->objs[(h + k) % EVENTS_OBJ_SLOTS];

        if (s->key != NULL && s->hash == h && strcmp(s->key, key) == 0) {
            *found = true;
            return s;
        }
        if (victim == NULL ||
            (victim->key != NULL && (s->key == NULL || s->at_ms < victim->at_ms)))
            victim = s;
    }
    return victim;
}

/* Whether the object may get one more event now (token bucket), without taking it. */
static bool
events_obj_allows(struct events *e, const char *okey, int64_t now_ms, struct events_obj **slot)
{
    uint64_t h = events_hash(okey);
    bool found;
    struct events_obj *s = events_obj_slot(e, okey, h, &found);

    *slot = NULL;
    if (!found) {
        char *k = strdup(okey);

        if (k == NULL)
            return true; /* without memory the budget is not kept; the per-loop cap holds */
        free(s->key);
        s->key = k;
        s->hash = h;
        s->tokens = e->o.object_burst;
        s->at_ms = now_ms;
    } else if (e->o.object_refill_ms > 0 && now_ms > s->at_ms) {
        s->tokens += (double)(now_ms - s->at_ms) / (double)e->o.object_refill_ms;
        if (s->tokens > e->o.object_burst)
            s->tokens = e->o.object_burst;
        s->at_ms = now_ms;
    }
    *slot = s;
    return s->tokens >= 1.0;
}

/* ---- posting ---------------------------------------------------------------------------- */

int
events_post_kube(void *ud, const struct events_event *ev, char *err, size_t err_len)
{
    struct kube_client *c = ud;
    struct kube_resp resp;
    char now[32], path[EVENTS_NAME_MAX * 3 + 64], ens[EVENTS_NAME_MAX * 3 + 1];
    json_t *body, *inv;
    int rc;

    kube_format_time(ev->wall_ms, now, sizeof(now));
    body = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s}, s:s, s:s, s:s, s:{s:s},"
                     " s:s, s:s, s:i, s:s}",
                     "apiVersion", "v1", "kind", "Event", "metadata", "name", ev->name,
                     "namespace", ev->namespace, "involvedObject", "kind", ev->kind,
                     "apiVersion", ev->api_version, "name", ev->object_name, "reason",
                     ev->reason, "message", ev->message, "type", ev->type, "source",
                     "component", ev->component, "firstTimestamp", now, "lastTimestamp", now,
                     "count", 1, "reportingComponent", ev->component);
    if (body == NULL) {
        snprintf(err, err_len, "out of memory");
        return NSC_ERR_NOMEM;
    }
    inv = json_object_get(body, "involvedObject");
    if (ev->object_namespace[0] != '\0')
        json_object_set_new(inv, "namespace", json_string(ev->object_namespace));
    if (ev->instance != NULL && ev->instance[0] != '\0')
        json_object_set_new(body, "reportingInstance", json_string(ev->instance));
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events",
             kube_query_escape(ev->namespace, ens, sizeof(ens)));
    rc = kube_request(c, "POST", path, body, NULL, 0, &resp);
    json_decref(body);
    if (rc < 0) {
        char d[512];

        snprintf(err, err_len, "POST %s: %s", path, kube_resp_describe(&resp, d, sizeof(d)));
    }
    kube_resp_clear(&resp);
    return rc;
}

static void
events_fill(struct events *e, struct events_event *ev, int64_t now_ms,
            const struct events_ref *ref, const char *type, const char *reason, const char *msg)
{
    char part[EVENTS_NAME_MAX + 1];
    char suffix[24];
    size_t room;

    memset(ev, 0, sizeof(*ev));
    events_clean(ev->kind, sizeof(ev->kind), ref->kind);
    events_clean(ev->api_version, sizeof(ev->api_version), "v1");
    events_clean(ev->object_namespace, sizeof(ev->object_namespace), ref->namespace);
    events_clean(ev->object_name, sizeof(ev->object_name), ref->name);
    /* Events about cluster-scoped objects (nodes) live in default, as kubectl looks. */
    events_clean(ev->namespace, sizeof(ev->namespace),
                 ev->object_namespace[0] ? ev->object_namespace : "default");
    events_clean(ev->type, sizeof(ev->type), type);
    events_clean(ev->reason, sizeof(ev->reason), reason);
    events_clean(ev->message, sizeof(ev->message), msg);
    /* client-go's name, "<object>.<hex unix nanoseconds>", with the object part cut so
     * that the whole stays a valid name. */
    snprintf(suffix, sizeof(suffix), ".%llx", (unsigned long long)now_ms * 1000000ULL);
    room = EVENTS_NAME_MAX - strlen(suffix);
    events_dns_part(part, room + 1 < sizeof(part) ? room + 1 : sizeof(part), ev->object_name);
    memcpy(ev->name, part, strlen(part));
    memcpy(ev->name + strlen(part), suffix, strlen(suffix) + 1);
    ev->component = e->o.component;
    ev->instance = e->o.instance;
    ev->wall_ms = now_ms;
}

enum events_result
events_emit(struct events *e, int64_t now_ms, const struct events_ref *ref, const char *type,
            const char *reason, const char *fmt, ...)
{
    struct events_event ev;
    char msg[EVENTS_MESSAGE_MAX * 2], key[4096], err[768];
    struct events_seen *seen = NULL;
    struct events_obj *obj = NULL;
    enum events_result res;
    uint64_t h = 0;
    bool found = false;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_redact_in_place(msg, sizeof(msg));
    events_fill(e, &ev, now_ms, ref, type, reason, msg);
    if (!e->leading) {
        res = EVENTS_NOT_LEADER;
        goto out;
    }
    snprintf(key, sizeof(key), "%s\n%s\n%s\n%s\n%s\n%s", ev.kind, ev.object_namespace,
             ev.object_name, ev.type, ev.reason, ev.message);
    if (!e->o.record_duplicates) {
        h = events_hash(key);
        seen = events_seen_slot(e, key, h, &found);
        if (found && now_ms - seen->at_ms < e->o.dedup_window_ms) {
            res = EVENTS_DUPLICATE;
            goto out;
        }
    }
    if (e->n_loop >= e->o.max_per_loop) {
        res = EVENTS_LOOP_CAP;
        goto out;
    }
    {
        char okey[EVENTS_NAME_MAX * 2 + 48];

        snprintf(okey, sizeof(okey), "%s\n%s\n%s", ev.kind, ev.object_namespace,
                 ev.object_name);
        if (!events_obj_allows(e, okey, now_ms, &obj)) {
            res = EVENTS_RATE_LIMITED;
            goto out;
        }
    }
    e->n_loop++;
    if (obj != NULL)
        obj->tokens -= 1.0;
    if (e->o.dry_run) {
        log_info("dry run: event %s %s on %s %s%s%s: %s", ev.type, ev.reason, ev.kind,
                 ev.object_namespace, ev.object_namespace[0] ? "/" : "", ev.object_name,
                 ev.message);
        res = EVENTS_DRY_RUN;
    } else if (e->post(e->ud, &ev, err, sizeof(err)) < 0) {
        log_warning("event %s on %s %s not recorded: %s", ev.reason, ev.kind, ev.object_name,
                    err);
        res = EVENTS_FAILED;
        goto out;
    } else {
        log_debug("event %s %s on %s %s: %s", ev.type, ev.reason, ev.kind, ev.object_name,
                  ev.message);
        res = EVENTS_POSTED;
    }
    if (seen != NULL) {
        if (!found) {
            char *k = strdup(key);

            if (k != NULL) {
                free(seen->key);
                seen->key = k;
                seen->hash = h;
            }
        }
        seen->at_ms = now_ms;
    }
out:
    e->counts[res]++;
    return res;
}

/* ---- a decision's events ------------------------------------------------------------- */

/* Split "ns/name" into its parts (ns cut to its buffer). */
static const char *
events_split_pod(const char *pod, char *ns, size_t ns_len)
{
    const char *slash = strchr(pod, '/');

    if (slash == NULL) {
        snprintf(ns, ns_len, "default");
        return pod;
    }
    snprintf(ns, ns_len, "%.*s", (int)(slash - pod), pod);
    return slash + 1;
}

static int32_t
events_group_max(const struct group_set *groups, const char *id)
{
    for (size_t i = 0; groups != NULL && i < groups->n_groups; i++)
        if (strcmp(groups->groups[i].id, id) == 0)
            return groups->groups[i].max_size;
    return -1;
}

/* "{group from->to (max: m)}", Go's rendering of one scale-up in TriggeredScaleUp. */
static size_t
events_put_group(char *buf, size_t len, size_t used, const struct decision_scale_up *s,
                 const struct group_set *groups)
{
    int32_t max = events_group_max(groups, s->group_id);
    int n;

    if (used >= len)
        return used;
    if (max >= 0)
        n = snprintf(buf + used, len - used, "%s{%s %d->%d (max: %d)}", used > 1 ? " " : "",
                     s->group_id, (int)s->from, (int)s->to, (int)max);
    else
        n = snprintf(buf + used, len - used, "%s{%s %d->%d}", used > 1 ? " " : "", s->group_id,
                     (int)s->from, (int)s->to);
    return n < 0 ? used : used + (size_t)n;
}

void
events_no_scale_up_message(const struct decision_no_scale_up *n, char *buf, size_t len)
{
    size_t used;
    int k;

    k = snprintf(buf, len, "pod didn't trigger scale-up:");
    used = k < 0 ? 0 : (size_t)k;
    if (n->why != NULL || n->n_reasons == 0) {
        if (used < len)
            snprintf(buf + used, len - used, " %s", n->why ? n->why : "no node group");
        return;
    }
    for (size_t i = 0; i < n->n_reasons && used < len; i++) {
        k = snprintf(buf + used, len - used, "%s group %s: %s", i ? ";" : "",
                     n->reasons[i].group_id, n->reasons[i].why);
        if (k < 0)
            break;
        used += (size_t)k;
    }
}

static bool
events_outcome_counts(const struct decision *d, const struct decision_scale_up *s)
{
    return s->outcome == DECISION_APPLIED || (d->dry_run && s->outcome == DECISION_PLANNED);
}

void
events_from_decision(struct events *e, int64_t now_ms, const struct decision *d,
                     const struct group_set *groups, const struct events_cluster_ref *cl)
{
    struct events_ref cm = {"ConfigMap", cl ? cl->namespace : NULL, cl ? cl->configmap : NULL};
    char msg[EVENTS_MESSAGE_MAX * 2];

    for (size_t i = 0; i < d->n_scale_up; i++) {
        const struct decision_scale_up *s = &d->scale_up[i];
        int32_t max = events_group_max(groups, s->group_id);

        if (cm.name == NULL)
            break;
        if (events_outcome_counts(d, s))
            events_emit(e, now_ms, &cm, "Normal", "ScaledUpGroup",
                        "Scale-up: setting group %s size to %d instead of %d (max: %d)",
                        s->group_id, (int)s->to, (int)s->from, (int)max);
        else if (s->outcome == DECISION_FAILED)
            events_emit(e, now_ms, &cm, "Warning", "FailedToScaleUpGroup",
                        "Scale-up failed for group %s: %s", s->group_id,
                        s->error ? s->error : "refused");
    }
    /* Each pod once, with every group grown for it. */
    for (size_t i = 0; i < d->n_scale_up; i++) {
        const struct decision_scale_up *s = &d->scale_up[i];

        if (!events_outcome_counts(d, s))
            continue;
        for (size_t p = 0; p < s->n_pods; p++) {
            const char *pod = s->pods[p];
            bool earlier = false;
            size_t used;
            char ns[EVENTS_NAME_MAX + 1];
            struct events_ref ref = {"Pod", ns, NULL};

            for (size_t j = 0; j < i && !earlier; j++)
                for (size_t q = 0; q < d->scale_up[j].n_pods && !earlier; q++)
                    earlier = events_outcome_counts(d, &d->scale_up[j]) &&
                              strcmp(d->scale_up[j].pods[q], pod) == 0;
            if (earlier)
                continue;
            used = (size_t)snprintf(msg, sizeof(msg), "[");
            for (size_t j = i; j < d->n_scale_up; j++) {
                bool has = false;

                if (!events_outcome_counts(d, &d->scale_up[j]))
                    continue;
                for (size_t q = 0; q < d->scale_up[j].n_pods && !has; q++)
                    has = strcmp(d->scale_up[j].pods[q], pod) == 0;
                if (has)
                    used = events_put_group(msg, sizeof(msg), used, &d->scale_up[j], groups);
            }
            if (used < sizeof(msg) - 1)
                snprintf(msg + used, sizeof(msg) - used, "]");
            ref.name = events_split_pod(pod, ns, sizeof(ns));
            events_emit(e, now_ms, &ref, "Normal", "TriggeredScaleUp",
                        "pod triggered scale-up: %s", msg);
        }
    }
    for (size_t i = 0; i < d->n_no_scale_up; i++) {
        const struct decision_no_scale_up *n = &d->no_scale_up[i];
        char ns[EVENTS_NAME_MAX + 1];
        struct events_ref ref = {"Pod", ns, NULL};

        ref.name = events_split_pod(n->pod, ns, sizeof(ns));
        events_no_scale_up_message(n, msg, sizeof(msg));
        events_emit(e, now_ms, &ref, "Normal", "NotTriggerScaleUp", "%s", msg);
    }
}
