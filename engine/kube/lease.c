/* Lease-based leader election: GET, create on 404, take over only when the lease has
 * expired on our own clock, PUT with the resourceVersion read (409 = someone else won). */
#include "config.h"

#include "kube/lease.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/writes.h"
#include "log.h"

struct kube_lease {
    struct kube_client *c;
    char *ns, *name, *identity;
    int64_t duration_ms, deadline_ms, retry_ms;
    char path[768];
    char holder[256];
    json_t *observed_spec; /* the last spec seen, to notice changes */
    int64_t observed_ms;   /* local time it was first seen */
    int64_t renewed_ms;    /* local time of our last successful write as holder */
    int leading;
    uint64_t rng;
};

int
kube_lease_new(struct kube_client *c, const struct kube_lease_opts *o, struct kube_lease **out,
               char *err, size_t err_len)
{
    struct kube_lease *l;

    *out = NULL;
    if (o->namespace == NULL || o->name == NULL || o->identity == NULL || !*o->identity)
        return kube_errf(err, err_len,
                         "leader election: namespace, name and identity are required");
    l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NSC_ERR_NOMEM;
    l->c = c;
    l->duration_ms = o->lease_duration_ms > 0 ? o->lease_duration_ms : 15000;
    l->deadline_ms = o->renew_deadline_ms > 0 ? o->renew_deadline_ms : 10000;
    l->retry_ms = o->retry_period_ms > 0 ? o->retry_period_ms : 2000;
    if (!(l->duration_ms > l->deadline_ms) || !(l->deadline_ms * 10 > l->retry_ms * 12)) {
        free(l);
        return kube_errf(err, err_len,
                         "leader election: need lease duration > renew deadline > 1.2 x retry "
                         "period (got %lld ms, %lld ms, %lld ms)",
                         (long long)(o->lease_duration_ms > 0 ? o->lease_duration_ms : 15000),
                         (long long)(o->renew_deadline_ms > 0 ? o->renew_deadline_ms : 10000),
                         (long long)(o->retry_period_ms > 0 ? o->retry_period_ms : 2000));
    }
    l->ns = strdup(o->namespace);
    l->name = strdup(o->name);
    l->identity = strdup(o->identity);
    l->rng = (uint64_t)kube_wall_ms() ^ (uint64_t)(uintptr_t)l;
    if (l->ns == NULL || l->name == NULL || l->identity == NULL) {
        kube_lease_free(l);
        return NSC_ERR_NOMEM;
    }
    snprintf(l->path, sizeof(l->path), "/apis/coordination.k8s.io/v1/namespaces/%s/leases",
             l->ns);
    *out = l;
    return 0;
}

void
kube_lease_free(struct kube_lease *l)
{
    if (l == NULL)
        return;
    json_decref(l->observed_spec);
    free(l->ns);
    free(l->name);
    free(l->identity);
    free(l);
}

static int64_t
now_ms(const struct kube_lease *l)
{
    const struct kube_clock *clk = kube_client_clock(l->c);

    return clk->now_ms(clk->ctx);
}

int
kube_lease_is_leader(const struct kube_lease *l)
{
    return l->leading && now_ms(l) - l->renewed_ms < l->deadline_ms;
}

const char *
kube_lease_holder(const struct kube_lease *l)
{
    return l->holder;
}

int64_t
kube_lease_next_ms(struct kube_lease *l)
{
    uint64_t x = l->rng;

    if (l->leading)
        return l->retry_ms;
    /* candidates: RetryPeriod * (1 + rand * 1.2), client-go's JitterFactor */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    l->rng = x;
    return l->retry_ms + (int64_t)(x % (uint64_t)(l->retry_ms * 12 / 10 + 1));
}

static void
lose(struct kube_lease *l, const char *why)
{
    if (l->leading)
        log_msg(NSC_LOG_WARNING, "kube", "lease %s/%s: lost leadership: %s", l->ns, l->name,
                why);
    l->leading = 0;
}

static json_t *
lease_spec(struct kube_lease *l, const json_t *old_spec, int64_t wall)
{
    char now[40];
    json_t *spec;
    json_int_t transitions = json_integer_value(json_object_get(old_spec, "leaseTransitions"));
    const char *old_holder = json_string_value(json_object_get(old_spec, "holderIdentity"));
    const char *acquired = json_string_value(json_object_get(old_spec, "acquireTime"));

    kube_format_microtime(wall, now, sizeof(now));
    spec = json_pack("{s:s, s:I, s:s}", "holderIdentity", l->identity, "leaseDurationSeconds",
                     (json_int_t)((l->duration_ms + 999) / 1000), "renewTime", now);
    if (spec == NULL)
        return NULL;
    if (l->leading && old_holder && !strcmp(old_holder, l->identity) && acquired) {
        json_object_set_new(spec, "acquireTime", json_string(acquired));
        json_object_set_new(spec, "leaseTransitions", json_integer(transitions));
    } else {
        json_object_set_new(spec, "acquireTime", json_string(now));
        json_object_set_new(spec, "leaseTransitions",
                            json_integer(old_spec && old_holder && *old_holder &&
                                                 strcmp(old_holder, l->identity)
                                             ? transitions + 1
                                             : transitions));
    }
    return spec;
}

int
kube_lease_try(struct kube_lease *l)
{
    struct kube_resp resp;
    char get_path[1024], d[768];
    int64_t t0 = now_ms(l);
    json_t *lease = NULL, *spec, *new_spec;
    const char *holder;
    int rc;

    snprintf(get_path, sizeof(get_path), "%s/%s", l->path, l->name);
    rc = kube_request(l->c, "GET", get_path, NULL, NULL, 0, &resp);
    if (rc && resp.status == 404) {
        json_t *body;

        kube_resp_clear(&resp);
        new_spec = lease_spec(l, NULL, kube_wall_ms());
        body = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion",
                         "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name", l->name,
                         "namespace", l->ns, "spec", new_spec);
        if (body == NULL)
            return kube_lease_is_leader(l);
        rc = kube_request(l->c, "POST", l->path, body, NULL, 0, &resp);
        json_decref(body);
        if (rc == 0) {
            l->leading = 1;
            l->renewed_ms = t0;
            snprintf(l->holder, sizeof(l->holder), "%s", l->identity);
            log_msg(NSC_LOG_INFO, "kube", "lease %s/%s: acquired (created) as %s", l->ns,
                    l->name, l->identity);
        } else {
            /* 409 AlreadyExists: another candidate created it first */
            log_msg(NSC_LOG_DEBUG, "kube", "lease create: %s",
                    kube_resp_describe(&resp, d, sizeof(d)));
        }
        kube_resp_clear(&resp);
        return kube_lease_is_leader(l);
    }
    if (rc) {
        log_msg(NSC_LOG_WARNING, "kube", "lease %s/%s: %s", l->ns, l->name,
                kube_resp_describe(&resp, d, sizeof(d)));
        kube_resp_clear(&resp);
        if (l->leading && now_ms(l) - l->renewed_ms >= l->deadline_ms)
            lose(l, "renew deadline passed");
        return kube_lease_is_leader(l);
    }
    lease = resp.obj;
    resp.obj = NULL;
    kube_resp_clear(&resp);
    spec = json_object_get(lease, "spec");
    if (!json_is_object(spec)) {
        spec = json_object();
        json_object_set_new(lease, "spec", spec);
    }
    holder = json_string_value(json_object_get(spec, "holderIdentity"));
    snprintf(l->holder, sizeof(l->holder), "%s", holder ? holder : "");
    /* Expiry is judged on our clock from when we saw this record change, never from
     * renewTime, so that clock skew between machines does not matter. */
    if (l->observed_spec == NULL || !json_equal(l->observed_spec, spec)) {
        json_decref(l->observed_spec);
        l->observed_spec = json_deep_copy(spec);
        l->observed_ms = t0;
    }
    if (holder && *holder && strcmp(holder, l->identity) != 0) {
        int64_t dur_ms =
            json_integer_value(json_object_get(spec, "leaseDurationSeconds")) * 1000;

        lose(l, "another holder");
        if (t0 < l->observed_ms + (dur_ms > 0 ? dur_ms : l->duration_ms)) {
            json_decref(lease);
            return 0;
        }
    }
    new_spec = lease_spec(l, spec, kube_wall_ms());
    if (new_spec == NULL) {
        json_decref(lease);
        return kube_lease_is_leader(l);
    }
    json_object_set_new(lease, "spec", new_spec);
    /* the PUT carries the resourceVersion we read: 409 means someone wrote first */
    rc = kube_request(l->c, "PUT", get_path, lease, NULL, 0, &resp);
    json_decref(lease);
    if (rc == 0) {
        if (!l->leading)
            log_msg(NSC_LOG_INFO, "kube", "lease %s/%s: acquired as %s", l->ns, l->name,
                    l->identity);
        l->leading = 1;
        l->renewed_ms = t0;
        snprintf(l->holder, sizeof(l->holder), "%s", l->identity);
        json_decref(l->observed_spec);
        l->observed_spec = json_deep_copy(json_object_get(resp.obj, "spec"));
        l->observed_ms = t0;
    } else {
        if (resp.status == 409)
            lose(l, "the lease was updated by another candidate (409)");
        else
            log_msg(NSC_LOG_WARNING, "kube", "lease %s/%s: %s", l->ns, l->name,
                    kube_resp_describe(&resp, d, sizeof(d)));
        if (l->leading && now_ms(l) - l->renewed_ms >= l->deadline_ms)
            lose(l, "renew deadline passed");
    }
    kube_resp_clear(&resp);
    return kube_lease_is_leader(l);
}

int
kube_lease_release(struct kube_lease *l)
{
    struct kube_resp resp;
    char path[1024];
    json_t *lease, *spec;
    const char *holder;
    int rc;

    if (!l->leading)
        return 0;
    l->leading = 0;
    snprintf(path, sizeof(path), "%s/%s", l->path, l->name);
    rc = kube_request(l->c, "GET", path, NULL, NULL, 0, &resp);
    if (rc) {
        kube_resp_clear(&resp);
        return rc;
    }
    lease = resp.obj;
    resp.obj = NULL;
    kube_resp_clear(&resp);
    spec = json_object_get(lease, "spec");
    holder = json_string_value(json_object_get(spec, "holderIdentity"));
    if (!json_is_object(spec) || holder == NULL || strcmp(holder, l->identity) != 0) {
        json_decref(lease);
        return 0;
    }
    {
        char now[40];

        kube_format_microtime(kube_wall_ms(), now, sizeof(now));
        json_object_set_new(spec, "holderIdentity", json_string(""));
        json_object_set_new(spec, "leaseDurationSeconds", json_integer(1));
        json_object_set_new(spec, "renewTime", json_string(now));
    }
    rc = kube_request(l->c, "PUT", path, lease, NULL, 0, &resp);
    json_decref(lease);
    kube_resp_clear(&resp);
    if (rc == 0)
        log_msg(NSC_LOG_INFO, "kube", "lease %s/%s: released", l->ns, l->name);
    return rc;
}
