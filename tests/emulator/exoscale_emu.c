/* The Exoscale API v2 emulator: HTTP on libmicrohttpd, EXO2-HMAC-SHA256 verification,
 * IAM operation lists, the compute/SKS objects an autoscaler touches, asynchronous
 * scale/evict operations, fault injection and call counts. The world is kept as JSON
 * objects shaped like openapi.json's schemas, so answers are those objects dumped. */
#include "config.h"

#include "exoscale_emu.h"
#include "exoscale_emu_int.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- small helpers ---- */

int64_t
emu_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
emu_uuid(struct exo_emu *e, char out[40])
{
    e->uuid_seq++;
    snprintf(out, 40, "%08x-%04x-4%03x-8%03x-%012llx",
             0xe0000000u | (unsigned)(e->seed & 0xfffffff),
             (unsigned)((e->uuid_seq >> 32) & 0xffff), (unsigned)(e->seed >> 28) & 0xfff, 0u,
             (unsigned long long)e->uuid_seq);
}

void
emu_timestamp(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *
jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static const char *
ref_of(const json_t *o, const char *k)
{
    return jstr(json_object_get(o, k), "id");
}

struct reply {
    unsigned int status;
    char *body;
    int retry_after; /* seconds, -1 none */
    int reset;       /* close the connection without an answer */
};

static void
reply_json(struct reply *r, unsigned int status, json_t *j)
{
    r->status = status;
    r->body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
}

static void reply_msg(struct reply *r, unsigned int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
reply_msg(struct reply *r, unsigned int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    reply_json(r, status, json_pack("{s:s}", "message", msg));
}

/* ---- the world ---- */

static json_t *
emu_new_instance(struct exo_emu *e, json_t *pool, const char *state, const char *want_id)
{
    char id[40], name[80], ts[32], ip[32];
    const char *prefix = jstr(pool, "instance-prefix");
    json_t *inst;
    struct emu_meta *m;

    if (want_id != NULL)
        snprintf(id, sizeof(id), "%s", want_id);
    else
        emu_uuid(e, id);
    snprintf(name, sizeof(name), "%s-%.8s-%.4s", prefix ? prefix : "pool", id, id + 32);
    emu_timestamp(emu_now_ms(), ts);
    snprintf(ip, sizeof(ip), "198.51.100.%u", (unsigned)(e->uuid_seq % 250) + 1);
    inst = json_pack("{s:s,s:s,s:s,s:{s:s,s:s},s:{s:s},s:s,s:s,s:{}}", "id", id, "name", name,
                     "state", state, "manager", "id", jstr(pool, "id"), "type", "instance-pool",
                     "instance-type", "id",
                     ref_of(pool, "instance-type") ? ref_of(pool, "instance-type") : "",
                     "created-at", ts, "public-ip", ip, "labels");
    json_object_set_new(e->instances, id, inst);
    json_array_append_new(json_object_get(pool, "instances"), json_pack("{s:s}", "id", id));
    if (e->n_meta == e->cap_meta) {
        e->cap_meta = e->cap_meta ? e->cap_meta * 2 : 64;
        e->meta = realloc(e->meta, e->cap_meta * sizeof(*e->meta));
        if (e->meta == NULL)
            abort();
    }
    m = &e->meta[e->n_meta++];
    memset(m, 0, sizeof(*m));
    snprintf(m->id, sizeof(m->id), "%s", id);
    snprintf(m->pool_id, sizeof(m->pool_id), "%s", jstr(pool, "id"));
    snprintf(m->node_name, sizeof(m->node_name), "%s", name);
    m->running_at_ms = strcmp(state, "running") == 0 ? 0 : emu_now_ms() + e->boot_delay_ms;
    return inst;
}

struct emu_meta *
emu_meta_find(struct exo_emu *e, const char *id)
{
    size_t i;

    for (i = 0; i < e->n_meta; i++) {
        if (strcmp(e->meta[i].id, id) == 0)
            return &e->meta[i];
    }
    return NULL;
}

/* The nodepool owning a pool, and its cluster, or NULL. */
static json_t *
emu_nodepool_of_pool(struct exo_emu *e, const char *pool_id, json_t **cluster)
{
    const char *cid;
    json_t *c, *np;
    size_t i;

    json_object_foreach(e->clusters, cid, c)
    {
        json_array_foreach(json_object_get(c, "nodepools"), i, np)
        {
            if (strcmp(ref_of(np, "instance-pool"), pool_id) == 0) {
                if (cluster)
                    *cluster = c;
                return np;
            }
        }
    }
    return NULL;
}

static json_t *
emu_nodepool(struct exo_emu *e, const char *cluster_id, const char *np_id)
{
    json_t *c = json_object_get(e->clusters, cluster_id), *np;
    size_t i;

    json_array_foreach(json_object_get(c, "nodepools"), i, np)
    {
        if (strcmp(jstr(np, "id"), np_id) == 0)
            return np;
    }
    return NULL;
}

static int64_t
emu_quota_usage(struct exo_emu *e)
{
    return (int64_t)json_object_size(e->instances);
}

static void
emu_set_pool_state(struct exo_emu *e, json_t *pool, const char *pool_state,
                   const char *np_state)
{
    json_t *np = emu_nodepool_of_pool(e, jstr(pool, "id"), NULL);

    json_object_set_new(pool, "state", json_string(pool_state));
    if (np != NULL) {
        json_object_set_new(np, "state", json_string(np_state));
        json_object_set(np, "size", json_object_get(pool, "size"));
    }
}

static int
load_pool(struct exo_emu *e, json_t *spec, const char *manager_id, json_t **out, char *err,
          size_t err_len)
{
    json_t *pool = json_deep_copy(spec), *given;
    char id[40];
    int64_t size = json_integer_value(json_object_get(spec, "size")), k;
    size_t i;
    json_t *v;

    if (jstr(pool, "id") == NULL) {
        emu_uuid(e, id);
        json_object_set_new(pool, "id", json_string(id));
    }
    if (!json_is_integer(json_object_get(spec, "size")) || size < 0) {
        snprintf(err, err_len, "instance pool %s: \"size\" must be an integer >= 0",
                 jstr(pool, "id"));
        json_decref(pool);
        return -1;
    }
    if (json_object_get(e->itypes, ref_of(pool, "instance-type") ? ref_of(pool, "instance-type")
                                                                 : "") == NULL) {
        snprintf(err, err_len, "instance pool %s: unknown instance-type", jstr(pool, "id"));
        json_decref(pool);
        return -1;
    }
    if (jstr(pool, "state") == NULL)
        json_object_set_new(pool, "state", json_string("running"));
    if (jstr(pool, "instance-prefix") == NULL)
        json_object_set_new(pool, "instance-prefix", json_string("pool"));
    if (json_object_get(pool, "labels") == NULL)
        json_object_set_new(pool, "labels", json_object());
    if (manager_id != NULL)
        json_object_set_new(pool, "manager",
                            json_pack("{s:s,s:s}", "id", manager_id, "type", "sks-nodepool"));
    given = json_incref(json_object_get(pool, "instances"));
    json_object_set_new(pool, "instances", json_array());
    json_object_set_new(e->pools, jstr(pool, "id"), pool);
    if (json_is_array(given)) {
        json_array_foreach(given, i, v) emu_new_instance(
            e, pool, jstr(v, "state") ? jstr(v, "state") : "running", jstr(v, "id"));
        json_object_set_new(pool, "size", json_integer((json_int_t)json_array_size(given)));
    } else {
        for (k = 0; k < size; k++)
            emu_new_instance(e, pool, "running", NULL);
    }
    json_decref(given);
    *out = pool;
    return 0;
}

int
emu_load_world(struct exo_emu *e, const json_t *w, char *err, size_t err_len)
{
    json_t *v, *c, *np, *pool;
    size_t i, k;

    snprintf(e->zone, sizeof(e->zone), "%s", jstr(w, "zone") ? jstr(w, "zone") : "ch-gva-2");
    e->creds = json_deep_copy(json_object_get(w, "credentials"));
    if (!json_is_array(e->creds) || json_array_size(e->creds) == 0) {
        snprintf(err, err_len,
                 "world: \"credentials\" must list at least one {key, secret, "
                 "operations}");
        return -1;
    }
    json_array_foreach(json_object_get(w, "instance-types"), i, v)
    {
        if (jstr(v, "id") == NULL) {
            snprintf(err, err_len, "world: instance-types[%zu] has no id", i);
            return -1;
        }
        json_object_set_new(e->itypes, jstr(v, "id"), json_deep_copy(v));
    }
    json_array_foreach(json_object_get(w, "quotas"), i, v)
    {
        if (jstr(v, "resource") == NULL) {
            snprintf(err, err_len, "world: quotas[%zu] has no resource", i);
            return -1;
        }
        json_object_set_new(e->quotas, jstr(v, "resource"), json_deep_copy(v));
    }
    json_array_foreach(json_object_get(w, "instance-pools"), i, v)
    {
        if (load_pool(e, v, NULL, &pool, err, err_len) < 0)
            return -1;
    }
    json_array_foreach(json_object_get(w, "sks-clusters"), i, v)
    {
        char id[40];

        c = json_deep_copy(v);
        if (jstr(c, "id") == NULL) {
            emu_uuid(e, id);
            json_object_set_new(c, "id", json_string(id));
        }
        if (jstr(c, "state") == NULL)
            json_object_set_new(c, "state", json_string("running"));
        if (!json_is_array(json_object_get(c, "nodepools")))
            json_object_set_new(c, "nodepools", json_array());
        json_array_foreach(json_object_get(c, "nodepools"), k, np)
        {
            json_t *spec;

            if (jstr(np, "id") == NULL) {
                emu_uuid(e, id);
                json_object_set_new(np, "id", json_string(id));
            }
            if (jstr(np, "state") == NULL)
                json_object_set_new(np, "state", json_string("running"));
            spec = json_pack("{s:O,s:O*,s:O*,s:s}", "size", json_object_get(np, "size"),
                             "instance-type", json_object_get(np, "instance-type"), "instances",
                             json_object_get(np, "instances"), "instance-prefix", "pool");
            if (ref_of(np, "instance-pool") != NULL)
                json_object_set_new(spec, "id", json_string(ref_of(np, "instance-pool")));
            snprintf(id, sizeof(id), "nodepool-%s", jstr(np, "name") ? jstr(np, "name") : "np");
            json_object_set_new(spec, "name", json_string(id));
            if (load_pool(e, spec, jstr(np, "id"), &pool, err, err_len) < 0) {
                json_decref(spec);
                json_decref(c);
                return -1;
            }
            json_decref(spec);
            json_object_del(np, "instances");
            json_object_set_new(np, "instance-pool",
                                json_pack("{s:s}", "id", jstr(pool, "id")));
            json_object_set(np, "size", json_object_get(pool, "size"));
        }
        json_object_set_new(e->clusters, jstr(c, "id"), c);
    }
    return 0;
}

/* ---- operations ---- */

static json_t *
emu_new_op(struct exo_emu *e, int kind, json_t *pool, const char *command, int64_t size,
           const json_t *evict_ids, const struct emu_fault *fault)
{
    struct emu_op *op;
    json_t *np, *cluster = NULL, *j;
    char link[256];

    if (e->n_ops == e->cap_ops) {
        e->cap_ops = e->cap_ops ? e->cap_ops * 2 : 32;
        e->ops = realloc(e->ops, e->cap_ops * sizeof(*e->ops));
        if (e->ops == NULL)
            abort();
    }
    op = &e->ops[e->n_ops++];
    memset(op, 0, sizeof(*op));
    emu_uuid(e, op->id);
    op->kind = kind;
    snprintf(op->pool_id, sizeof(op->pool_id), "%s", jstr(pool, "id"));
    op->size = size;
    op->evict_ids = evict_ids ? json_deep_copy(evict_ids) : NULL;
    op->due_ms = emu_now_ms() + e->op_delay_ms;
    if (fault != NULL) {
        op->fail = 1;
        snprintf(op->reason, sizeof(op->reason), "%s", fault->reason);
        snprintf(op->message, sizeof(op->message), "%s", fault->message);
        op->quota = strcmp(fault->kind, "quota") == 0;
    }
    np = emu_nodepool_of_pool(e, op->pool_id, &cluster);
    if (np != NULL)
        snprintf(link, sizeof(link), "/v2/sks-cluster/%s/nodepool/%s", jstr(cluster, "id"),
                 jstr(np, "id"));
    else
        snprintf(link, sizeof(link), "/v2/instance-pool/%s", op->pool_id);
    j = json_pack("{s:s,s:s,s:{s:s,s:s,s:s}}", "id", op->id, "state", "pending", "reference",
                  "id", np ? jstr(np, "id") : op->pool_id, "link", link, "command", command);
    json_object_set(e->opjson, op->id, j);
    if (kind == EMU_OP_SCALE)
        emu_set_pool_state(e, pool,
                           size >= json_integer_value(json_object_get(pool, "size"))
                               ? "scaling-up"
                               : "scaling-down",
                           "scaling");
    else
        emu_set_pool_state(e, pool, "scaling-down", "scaling");
    return j;
}

static void
emu_op_finish(struct exo_emu *e, struct emu_op *op, const char *state, const char *reason,
              const char *message)
{
    json_t *j = json_object_get(e->opjson, op->id);

    op->done = 1;
    json_object_set_new(j, "state", json_string(state));
    if (reason != NULL)
        json_object_set_new(j, "reason", json_string(reason));
    if (message != NULL)
        json_object_set_new(j, "message", json_string(message));
}

static void
emu_remove_member(struct exo_emu *e, json_t *pool, const char *id)
{
    json_t *members = json_object_get(pool, "instances"), *m;
    struct emu_meta *meta = emu_meta_find(e, id);
    size_t i;

    json_array_foreach(members, i, m)
    {
        if (strcmp(jstr(m, "id"), id) == 0) {
            json_array_remove(members, i);
            break;
        }
    }
    json_object_del(e->instances, id);
    if (meta != NULL && !meta->gone) {
        meta->gone = 1;
        if (meta->node_posted)
            emu_kube_queue(e, EMU_KUBE_DELETE, meta->node_name, NULL);
    }
}

static void
emu_apply_op(struct exo_emu *e, struct emu_op *op)
{
    json_t *pool = json_object_get(e->pools, op->pool_id);
    int64_t cur, limit;
    json_t *q;
    size_t i;
    json_t *v;

    if (pool == NULL) {
        emu_op_finish(e, op, "failure", "not-found", "instance pool vanished");
        return;
    }
    cur = json_integer_value(json_object_get(pool, "size"));
    if (op->fail && !op->quota) {
        emu_op_finish(e, op, "failure", op->reason, op->message);
        emu_set_pool_state(e, pool, "running", "running");
        return;
    }
    if (op->kind == EMU_OP_SCALE) {
        q = json_object_get(e->quotas, "instance");
        limit = q ? json_integer_value(json_object_get(q, "limit")) : -1;
        if (op->quota ||
            (op->size > cur && limit >= 0 && emu_quota_usage(e) + (op->size - cur) > limit)) {
            char msg[256];

            snprintf(msg, sizeof(msg),
                     "Quota exceeded: instance limit %lld, in use %lld, %lld more requested",
                     (long long)limit, (long long)emu_quota_usage(e),
                     (long long)(op->size - cur));
            emu_op_finish(e, op, "failure", "forbidden",
                          op->quota && op->message[0] ? op->message : msg);
            emu_set_pool_state(e, pool, "running", "running");
            return;
        }
        json_object_set_new(pool, "size", json_integer(op->size));
        while ((int64_t)json_array_size(json_object_get(pool, "instances")) < op->size)
            emu_new_instance(e, pool, "starting", NULL);
        /* Shrinking by :scale lets the platform pick: the newest members go. */
        while ((int64_t)json_array_size(json_object_get(pool, "instances")) > op->size) {
            json_t *members = json_object_get(pool, "instances");
            char id[40];

            snprintf(id, sizeof(id), "%s",
                     jstr(json_array_get(members, json_array_size(members) - 1), "id"));
            emu_remove_member(e, pool, id);
        }
    } else {
        json_array_foreach(op->evict_ids, i, v)
            emu_remove_member(e, pool, json_string_value(v));
        json_object_set_new(
            pool, "size",
            json_integer((json_int_t)json_array_size(json_object_get(pool, "instances"))));
    }
    emu_set_pool_state(e, pool, "running", "running");
    emu_op_finish(e, op, "success", NULL, NULL);
}

static int emu_take_register_fault(struct exo_emu *e, const struct emu_meta *m);

void
emu_tick_locked(struct exo_emu *e)
{
    int64_t now = emu_now_ms();
    size_t i;

    for (i = 0; i < e->n_ops; i++) {
        if (!e->ops[i].done && e->ops[i].due_ms <= now)
            emu_apply_op(e, &e->ops[i]);
    }
    for (i = 0; i < e->n_meta; i++) {
        struct emu_meta *m = &e->meta[i];
        json_t *inst;

        if (m->gone)
            continue;
        inst = json_object_get(e->instances, m->id);
        if (inst != NULL && m->running_at_ms <= now &&
            strcmp(jstr(inst, "state"), "starting") == 0)
            json_object_set_new(inst, "state", json_string("running"));
        if (inst != NULL && e->kube_url != NULL && !m->node_posted && !m->withheld &&
            strcmp(jstr(inst, "state"), "running") == 0 && emu_take_register_fault(e, m))
            m->withheld = 1;
        if (inst != NULL && e->kube_url != NULL && !m->node_posted && !m->withheld &&
            strcmp(jstr(inst, "state"), "running") == 0) {
            m->node_posted = 1;
            m->ready_at_ms = now + e->node_ready_delay_ms;
            emu_kube_queue(e, EMU_KUBE_CREATE, m->node_name, emu_kube_node_json(e, m, inst));
        }
        if (m->node_posted && !m->node_ready && m->ready_at_ms <= now) {
            m->node_ready = 1;
            emu_kube_queue(e, EMU_KUBE_READY, m->node_name, NULL);
        }
    }
}

/* ---- signature and IAM ---- */

static const json_t *
emu_cred(struct exo_emu *e, const char *key)
{
    const json_t *c;
    size_t i;

    json_array_foreach(e->creds, i, c)
    {
        if (jstr(c, "key") && strcmp(jstr(c, "key"), key) == 0)
            return c;
    }
    return NULL;
}

static int
emu_allowed(const json_t *cred, const char *op)
{
    const json_t *ops = json_object_get(cred, "operations"), *o;
    size_t i;

    if (json_is_string(ops) && strcmp(json_string_value(ops), "*") == 0)
        return 1;
    json_array_foreach(ops, i, o)
    {
        if (json_is_string(o) && strcmp(json_string_value(o), op) == 0)
            return 1;
    }
    return 0;
}

/* Checks the Authorization header; 0 when valid, else fills the reply. */
static int
emu_verify(struct exo_emu *e, struct MHD_Connection *conn, const char *method, const char *url,
           const char *body, size_t body_len, const char *op, struct reply *r)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    char buf[1024], *p, *save = NULL, *cred = NULL, *args = NULL, *expires = NULL, *sig = NULL;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    unsigned char want[100];
    const json_t *c;
    char *msg;
    size_t cap, used;
    long long exp;

    if (auth == NULL) {
        reply_msg(r, 401, "missing Authorization header");
        return -1;
    }
    if (strncmp(auth, "EXO2-HMAC-SHA256 ", 17) != 0 || strlen(auth) >= sizeof(buf)) {
        reply_msg(r, 403, "unsupported authorization scheme (want EXO2-HMAC-SHA256)");
        return -1;
    }
    snprintf(buf, sizeof(buf), "%s", auth + 17);
    for (p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (strncmp(p, "credential=", 11) == 0)
            cred = p + 11;
        else if (strncmp(p, "signed-query-args=", 18) == 0)
            args = p + 18;
        else if (strncmp(p, "expires=", 8) == 0)
            expires = p + 8;
        else if (strncmp(p, "signature=", 10) == 0)
            sig = p + 10;
        else {
            reply_msg(r, 403, "malformed Authorization header near '%.40s'", p);
            return -1;
        }
    }
    if (cred == NULL || expires == NULL || sig == NULL) {
        reply_msg(r, 403, "Authorization header lacks credential, expires or signature");
        return -1;
    }
    c = emu_cred(e, cred);
    if (c == NULL) {
        reply_msg(r, 403, "unable to verify user credentials and/or request signature");
        return -1;
    }
    exp = strtoll(expires, NULL, 10);
    if (exp < emu_now_ms() / 1000) {
        reply_msg(r, 403, "request expired at %lld (server time %lld)", exp,
                  (long long)(emu_now_ms() / 1000));
        return -1;
    }
    cap = strlen(method) + strlen(url) + body_len + 64 + strlen(expires) + 4096;
    msg = malloc(cap);
    if (msg == NULL)
        abort();
    used = (size_t)snprintf(msg, cap, "%s %s\n", method, url);
    memcpy(msg + used, body, body_len);
    used += body_len;
    msg[used++] = '\n';
    if (args != NULL) {
        char abuf[512], *a, *s2 = NULL;

        snprintf(abuf, sizeof(abuf), "%s", args);
        for (a = strtok_r(abuf, ";", &s2); a; a = strtok_r(NULL, ";", &s2)) {
            const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, a);

            if (v == NULL) {
                free(msg);
                reply_msg(r, 403, "signed query argument '%s' is not in the request", a);
                return -1;
            }
            used += (size_t)snprintf(msg + used, cap - used, "%s", v);
        }
    }
    used += (size_t)snprintf(msg + used, cap - used, "\n\n%s", expires);
    HMAC(EVP_sha256(), jstr(c, "secret"), (int)strlen(jstr(c, "secret")), (unsigned char *)msg,
         used, mac, &mac_len);
    free(msg);
    EVP_EncodeBlock(want, mac, (int)mac_len);
    if (strlen(sig) != strlen((char *)want) || CRYPTO_memcmp(sig, want, strlen(sig)) != 0) {
        reply_msg(r, 403, "unable to verify user credentials and/or request signature");
        return -1;
    }
    if (!emu_allowed(c, op)) {
        reply_msg(r, 403, "Forbidden: the IAM role of this key does not allow operation %s",
                  op);
        return -1;
    }
    return 0;
}

/* ---- faults and counts ---- */

int
exo_emu_add_fault(struct exo_emu *e, const json_t *rule, char *err, size_t err_len)
{
    static const char *const kinds[] = {
        "500", "429", "slow", "fail-operation", "quota", "never-register", "reset"};
    const char *op = jstr(rule, "operation"), *kind = jstr(rule, "kind");
    const char *pool = jstr(rule, "pool");
    const json_t *count = json_object_get(rule, "count");
    struct emu_fault *f;
    size_t i;

    for (i = 0; kind && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(kind, kinds[i]) == 0)
            break;
    }
    if (kind == NULL || i == sizeof(kinds) / sizeof(kinds[0])) {
        snprintf(err, err_len,
                 "fault: \"kind\" must be one of 500, 429, slow, fail-operation, quota, "
                 "never-register, reset");
        return -1;
    }
    if (strcmp(kind, "never-register") == 0) {
        if (pool == NULL || strlen(pool) >= sizeof(f->pool)) {
            snprintf(err, err_len,
                     "fault never-register: \"pool\" must be an instance pool id, a "
                     "nodepool id or \"*\"");
            return -1;
        }
        op = "";
    } else if (op == NULL || strlen(op) >= sizeof(f->op)) {
        snprintf(err, err_len, "fault %s: \"operation\" must be an operationId or \"*\"", kind);
        return -1;
    }
    if (count != NULL && (!json_is_integer(count) || json_integer_value(count) < -1 ||
                          json_integer_value(count) > 1000000)) {
        snprintf(err, err_len, "fault %s: \"count\" must be an integer in -1..1000000", kind);
        return -1;
    }
    pthread_mutex_lock(&e->lock);
    if (e->n_faults == EMU_MAX_FAULTS) {
        pthread_mutex_unlock(&e->lock);
        snprintf(err, err_len, "too many fault rules");
        return -1;
    }
    f = &e->faults[e->n_faults++];
    memset(f, 0, sizeof(*f));
    snprintf(f->op, sizeof(f->op), "%s", op);
    snprintf(f->kind, sizeof(f->kind), "%s", kind);
    snprintf(f->pool, sizeof(f->pool), "%s", pool ? pool : "");
    f->count = json_is_integer(json_object_get(rule, "count"))
                   ? (int)json_integer_value(json_object_get(rule, "count"))
                   : 1;
    f->retry_after = json_is_integer(json_object_get(rule, "retry-after"))
                         ? (int)json_integer_value(json_object_get(rule, "retry-after"))
                         : 1;
    f->delay_ms = (int)json_integer_value(json_object_get(rule, "delay-ms"));
    snprintf(f->reason, sizeof(f->reason), "%s",
             jstr(rule, "reason") ? jstr(rule, "reason")
                                  : (strcmp(kind, "quota") == 0 ? "forbidden" : "unavailable"));
    snprintf(f->message, sizeof(f->message), "%s",
             jstr(rule, "message")
                 ? jstr(rule, "message")
                 : (strcmp(kind, "quota") == 0 ? "" : "operation failed (injected)"));
    pthread_mutex_unlock(&e->lock);
    return 0;
}

/* Take one use of the first fault matching op (caller holds the lock); NULL if none. */
static struct emu_fault *
emu_take_fault(struct exo_emu *e, const char *op, int for_operation)
{
    size_t i;

    for (i = 0; i < e->n_faults; i++) {
        struct emu_fault *f = &e->faults[i];
        int is_op_kind =
            strcmp(f->kind, "fail-operation") == 0 || strcmp(f->kind, "quota") == 0;

        if (f->count == 0 || is_op_kind != for_operation ||
            strcmp(f->kind, "never-register") == 0)
            continue;
        if (strcmp(f->op, "*") != 0 && strcmp(f->op, op) != 0)
            continue;
        if (f->count > 0)
            f->count--;
        return f;
    }
    return NULL;
}

/* Take one use of a never-register fault matching the instance's pool or its nodepool
 * (caller holds the lock); 1 when the instance must never become a Node. */
static int
emu_take_register_fault(struct exo_emu *e, const struct emu_meta *m)
{
    const json_t *np = emu_nodepool_of_pool(e, m->pool_id, NULL);
    const char *np_id = np ? jstr(np, "id") : NULL;
    size_t i;

    for (i = 0; i < e->n_faults; i++) {
        struct emu_fault *f = &e->faults[i];

        if (f->count == 0 || strcmp(f->kind, "never-register") != 0)
            continue;
        if (strcmp(f->pool, "*") != 0 && strcmp(f->pool, m->pool_id) != 0 &&
            (np_id == NULL || strcmp(f->pool, np_id) != 0))
            continue;
        if (f->count > 0)
            f->count--;
        return 1;
    }
    return 0;
}

/* The rules still active (uses left, -1 for forever), so that a test can tell that the
 * faults it set were met rather than skipped. */
static json_t *
emu_faults_json(struct exo_emu *e)
{
    json_t *arr = json_array();
    size_t i;

    pthread_mutex_lock(&e->lock);
    for (i = 0; i < e->n_faults; i++) {
        const struct emu_fault *f = &e->faults[i];
        json_t *o;

        if (f->count == 0)
            continue;
        o = json_pack("{s:s,s:i}", "kind", f->kind, "count", f->count);
        if (strcmp(f->kind, "never-register") == 0)
            json_object_set_new(o, "pool", json_string(f->pool));
        else
            json_object_set_new(o, "operation", json_string(f->op));
        if (strcmp(f->kind, "slow") == 0)
            json_object_set_new(o, "delay-ms", json_integer(f->delay_ms));
        json_array_append_new(arr, o);
    }
    pthread_mutex_unlock(&e->lock);
    return json_pack("{s:o}", "faults", arr);
}

/* Each instance's life as a Node, for tests that must tell "not yet" from "never". */
static json_t *
emu_nodes_json(struct exo_emu *e)
{
    json_t *arr = json_array(), *out;
    size_t i;

    pthread_mutex_lock(&e->lock);
    for (i = 0; i < e->n_meta; i++) {
        const struct emu_meta *m = &e->meta[i];

        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:b,s:b,s:b,s:b}", "instance", m->id,
                                             "pool", m->pool_id, "node", m->node_name, "posted",
                                             m->node_posted, "ready", m->node_ready, "withheld",
                                             m->withheld, "gone", m->gone));
    }
    out = json_pack("{s:o,s:I}", "nodes", arr, "kube-errors",
                    (json_int_t)__atomic_load_n(&e->kube_errors, __ATOMIC_RELAXED));
    pthread_mutex_unlock(&e->lock);
    return out;
}

uint64_t
exo_emu_calls(struct exo_emu *e, const char *operation)
{
    uint64_t n;

    pthread_mutex_lock(&e->lock);
    n = operation ? (uint64_t)json_integer_value(json_object_get(e->calls, operation))
                  : e->n_calls;
    pthread_mutex_unlock(&e->lock);
    return n;
}

void
exo_emu_reset_calls(struct exo_emu *e)
{
    pthread_mutex_lock(&e->lock);
    json_object_clear(e->calls);
    json_object_clear(e->call_times);
    e->n_calls = 0;
    pthread_mutex_unlock(&e->lock);
}

static void
emu_count(struct exo_emu *e, const char *op)
{
    json_int_t n = json_integer_value(json_object_get(e->calls, op));
    json_t *t = json_object_get(e->call_times, op);
    json_int_t now = (json_int_t)emu_now_ms();

    json_object_set_new(e->calls, op, json_integer(n + 1));
    if (t == NULL)
        json_object_set_new(e->call_times, op,
                            json_pack("{s:I,s:I}", "first_ms", now, "last_ms", now));
    else
        json_object_set_new(t, "last_ms", json_integer(now));
    e->n_calls++;
}

json_t *
exo_emu_snapshot(struct exo_emu *e)
{
    json_t *s, *arr, *v;
    const char *k;

    pthread_mutex_lock(&e->lock);
    s = json_pack("{s:s}", "zone", e->zone);
    arr = json_array();
    json_object_foreach(e->pools, k, v) json_array_append(arr, v);
    json_object_set_new(s, "instance-pools", arr);
    arr = json_array();
    json_object_foreach(e->instances, k, v) json_array_append(arr, v);
    json_object_set_new(s, "instances", arr);
    arr = json_array();
    json_object_foreach(e->clusters, k, v) json_array_append(arr, v);
    json_object_set_new(s, "sks-clusters", arr);
    arr = json_array();
    json_object_foreach(e->opjson, k, v) json_array_append(arr, v);
    json_object_set_new(s, "operations", arr);
    v = json_deep_copy(s);
    json_decref(s);
    pthread_mutex_unlock(&e->lock);
    return v;
}

/* ---- the API ---- */

struct route {
    const char *op;
    char id[128];
    char id2[128];
    char verb[16]; /* "scale", "evict" or "" */
};

/* Split "/sks-cluster/X/nodepool/Y:scale" etc. into an operationId and ids. */
static int
emu_route(const char *method, const char *path, struct route *rt)
{
    char p[512], *parts[6], *save = NULL, *tok, *colon;
    size_t n = 0;
    int get = strcmp(method, "GET") == 0, put = strcmp(method, "PUT") == 0;

    memset(rt, 0, sizeof(*rt));
    snprintf(p, sizeof(p), "%s", path);
    for (tok = strtok_r(p, "/", &save); tok && n < 6; tok = strtok_r(NULL, "/", &save))
        parts[n++] = tok;
    if (n == 0)
        return -1;
    colon = strchr(parts[n - 1], ':');
    if (colon != NULL) {
        *colon = '\0';
        snprintf(rt->verb, sizeof(rt->verb), "%s", colon + 1);
    }
    if (n >= 2)
        snprintf(rt->id, sizeof(rt->id), "%s", parts[1]);
    if (n >= 4)
        snprintf(rt->id2, sizeof(rt->id2), "%s", parts[3]);
#define IS(s) (strcmp(parts[0], s) == 0)
    if (IS("instance") && n == 1 && get && !rt->verb[0])
        rt->op = "list-instances";
    else if (IS("instance") && n == 2 && get && !rt->verb[0])
        rt->op = "get-instance";
    else if (IS("instance-pool") && n == 1 && get && !rt->verb[0])
        rt->op = "list-instance-pools";
    else if (IS("instance-pool") && n == 2 && get && !rt->verb[0])
        rt->op = "get-instance-pool";
    else if (IS("instance-pool") && n == 2 && put && strcmp(rt->verb, "scale") == 0)
        rt->op = "scale-instance-pool";
    else if (IS("instance-pool") && n == 2 && put && strcmp(rt->verb, "evict") == 0)
        rt->op = "evict-instance-pool-members";
    else if (IS("sks-cluster") && n == 1 && get && !rt->verb[0])
        rt->op = "list-sks-clusters";
    else if (IS("sks-cluster") && n == 2 && get && !rt->verb[0])
        rt->op = "get-sks-cluster";
    else if (IS("sks-cluster") && n == 4 && strcmp(parts[2], "nodepool") == 0) {
        if (get && !rt->verb[0])
            rt->op = "get-sks-nodepool";
        else if (put && strcmp(rt->verb, "scale") == 0)
            rt->op = "scale-sks-nodepool";
        else if (put && strcmp(rt->verb, "evict") == 0)
            rt->op = "evict-sks-nodepool-members";
    } else if (IS("operation") && n == 2 && get)
        rt->op = "get-operation";
    else if (IS("quota") && n == 1 && get)
        rt->op = "list-quotas";
    else if (IS("quota") && n == 2 && get)
        rt->op = "get-quota";
    else if (IS("instance-type") && n == 1 && get)
        rt->op = "list-instance-types";
    else if (IS("instance-type") && n == 2 && get)
        rt->op = "get-instance-type";
    else if (IS("zone") && n == 1 && get)
        rt->op = "list-zones";
#undef IS
    return rt->op ? 0 : -1;
}

static json_t *
emu_quota_json(struct exo_emu *e, const json_t *q)
{
    json_t *o = json_deep_copy(q);

    if (strcmp(jstr(q, "resource"), "instance") == 0)
        json_object_set_new(o, "usage", json_integer(emu_quota_usage(e)));
    return o;
}

static void
emu_list(json_t *coll, const char *key, struct reply *r)
{
    json_t *arr = json_array(), *v;
    const char *k;

    json_object_foreach(coll, k, v) json_array_append(arr, v);
    reply_json(r, 200, json_pack("{s:o}", key, arr));
}

/* Parses {"size": n} or {"instances": [uuid...]} of a scale or evict. */
static int
emu_body(const char *body, size_t len, int evict, json_t *pool, int64_t *size, json_t **ids,
         struct reply *r)
{
    json_t *j = json_loadb(body, len, 0, NULL), *v, *m;
    size_t i, k;
    int found;

    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        reply_msg(r, 400, "request body is not a JSON object");
        return -1;
    }
    if (!evict) {
        v = json_object_get(j, "size");
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            json_decref(j);
            reply_msg(r, 400, "invalid request: \"size\" must be an integer >= 0");
            return -1;
        }
        *size = json_integer_value(v);
        json_decref(j);
        return 0;
    }
    v = json_object_get(j, "instances");
    if (!json_is_array(v) || json_array_size(v) == 0) {
        json_decref(j);
        reply_msg(r, 400, "invalid request: \"instances\" must be a non-empty array");
        return -1;
    }
    json_array_foreach(v, i, m)
    {
        size_t k2;

        if (!json_is_string(m)) {
            json_decref(j);
            reply_msg(r, 400, "invalid request: \"instances\"[%zu] is not a string", i);
            return -1;
        }
        for (k2 = 0; k2 < i; k2++) {
            if (json_equal(json_array_get(v, k2), m)) {
                json_decref(j);
                reply_msg(r, 400, "invalid request: \"instances\" items must be unique");
                return -1;
            }
        }
        found = 0;
        json_array_foreach(json_object_get(pool, "instances"), k, m)
        {
            if (strcmp(jstr(m, "id"), json_string_value(json_array_get(v, i))) == 0)
                found = 1;
        }
        if (!found) {
            reply_msg(r, 400, "instance %s is not a member of Instance Pool %s",
                      json_string_value(json_array_get(v, i)), jstr(pool, "id"));
            json_decref(j);
            return -1;
        }
    }
    *ids = json_incref(v);
    json_decref(j);
    return 0;
}

static void
emu_api(struct exo_emu *e, struct MHD_Connection *conn, const struct route *rt,
        const char *body, size_t body_len, struct emu_fault *opfault, struct reply *r)
{
    const char *op = rt->op;
    json_t *v, *pool = NULL;

    if (strcmp(op, "list-zones") == 0) {
        char url[128];

        snprintf(url, sizeof(url), "http://127.0.0.1:%u/v2", (unsigned)e->port);
        reply_json(r, 200,
                   json_pack("{s:[{s:s,s:s}]}", "zones", "name", e->zone, "api-endpoint", url));
    } else if (strcmp(op, "list-instances") == 0) {
        const char *mid =
            MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "manager-id");
        const char *mtype =
            MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "manager-type");
        json_t *arr = json_array();
        const char *k;

        json_object_foreach(e->instances, k, v)
        {
            json_t *mgr = json_object_get(v, "manager");

            if (mid && (!mgr || strcmp(jstr(mgr, "id"), mid) != 0))
                continue;
            if (mtype && (!mgr || strcmp(jstr(mgr, "type"), mtype) != 0))
                continue;
            json_array_append(arr, v);
        }
        reply_json(r, 200, json_pack("{s:o}", "instances", arr));
    } else if (strcmp(op, "get-instance") == 0) {
        v = json_object_get(e->instances, rt->id);
        if (v)
            reply_json(r, 200, json_incref(v));
        else
            reply_msg(r, 404, "instance %s not found", rt->id);
    } else if (strcmp(op, "list-instance-pools") == 0) {
        emu_list(e->pools, "instance-pools", r);
    } else if (strcmp(op, "get-instance-pool") == 0) {
        v = json_object_get(e->pools, rt->id);
        if (v)
            reply_json(r, 200, json_incref(v));
        else
            reply_msg(r, 404, "instance-pool %s not found", rt->id);
    } else if (strcmp(op, "list-sks-clusters") == 0) {
        emu_list(e->clusters, "sks-clusters", r);
    } else if (strcmp(op, "get-sks-cluster") == 0) {
        v = json_object_get(e->clusters, rt->id);
        if (v)
            reply_json(r, 200, json_incref(v));
        else
            reply_msg(r, 404, "sks-cluster %s not found", rt->id);
    } else if (strcmp(op, "get-sks-nodepool") == 0) {
        v = emu_nodepool(e, rt->id, rt->id2);
        if (v)
            reply_json(r, 200, json_incref(v));
        else
            reply_msg(r, 404, "sks-nodepool %s not found in cluster %s", rt->id2, rt->id);
    } else if (strcmp(op, "get-operation") == 0) {
        v = json_object_get(e->opjson, rt->id);
        if (v)
            reply_json(r, 200, json_incref(v));
        else
            reply_msg(r, 404, "operation %s not found", rt->id);
    } else if (strcmp(op, "list-quotas") == 0) {
        json_t *arr = json_array();
        const char *k;

        json_object_foreach(e->quotas, k, v) json_array_append_new(arr, emu_quota_json(e, v));
        reply_json(r, 200, json_pack("{s:o}", "quotas", arr));
    } else if (strcmp(op, "get-quota") == 0) {
        v = json_object_get(e->quotas, rt->id);
        if (v)
            reply_json(r, 200, emu_quota_json(e, v));
        else
            reply_msg(r, 404, "quota %s not found", rt->id);
    } else if (strcmp(op, "list-instance-types") == 0) {
        emu_list(e->itypes, "instance-types", r);
    } else if (strcmp(op, "get-instance-type") == 0) {
        v = json_object_get(e->itypes, rt->id);
        if (v)
            reply_json(r, 200, json_incref(v));
        else
            reply_msg(r, 404, "instance-type %s not found", rt->id);
    } else {
        /* scale / evict of a pool or a nodepool */
        int evict = strcmp(rt->verb, "evict") == 0;
        int64_t size = 0;
        json_t *ids = NULL;

        if (strncmp(op, "scale-sks", 9) == 0 || strncmp(op, "evict-sks", 9) == 0) {
            json_t *np = emu_nodepool(e, rt->id, rt->id2);

            if (np == NULL) {
                reply_msg(r, 404, "sks-nodepool %s not found in cluster %s", rt->id2, rt->id);
                return;
            }
            pool = json_object_get(e->pools, ref_of(np, "instance-pool"));
        } else {
            pool = json_object_get(e->pools, rt->id);
            if (pool == NULL) {
                reply_msg(r, 404, "instance-pool %s not found", rt->id);
                return;
            }
            if (json_object_get(pool, "manager") != NULL) {
                reply_msg(r, 403,
                          "Instance Pool %s is managed by SKS Nodepool %s: operate on "
                          "the Nodepool instead",
                          rt->id, ref_of(pool, "manager"));
                return;
            }
        }
        if (emu_body(body, body_len, evict, pool, &size, &ids, r) < 0)
            return;
        v = emu_new_op(e, evict ? EMU_OP_EVICT : EMU_OP_SCALE, pool, op, size, ids, opfault);
        json_decref(ids);
        reply_json(r, 200, v);
    }
}

static void
emu_admin(struct exo_emu *e, const char *method, const char *url, const char *body,
          size_t body_len, struct reply *r)
{
    char err[256];

    if (strcmp(url, "/_emu/calls") == 0 && strcmp(method, "GET") == 0) {
        pthread_mutex_lock(&e->lock);
        reply_json(r, 200,
                   json_pack("{s:I,s:O,s:O}", "total", (json_int_t)e->n_calls, "operations",
                             e->calls, "times", e->call_times));
        pthread_mutex_unlock(&e->lock);
    } else if (strcmp(url, "/_emu/calls/reset") == 0 && strcmp(method, "POST") == 0) {
        exo_emu_reset_calls(e);
        reply_json(r, 200, json_object());
    } else if (strcmp(url, "/_emu/faults") == 0 && strcmp(method, "POST") == 0) {
        json_t *rule = json_loadb(body, body_len, 0, NULL);

        if (rule == NULL || exo_emu_add_fault(e, rule, err, sizeof(err)) < 0)
            reply_msg(r, 400, "%s", rule ? err : "body is not JSON");
        else
            reply_json(r, 200, json_object());
        json_decref(rule);
    } else if (strcmp(url, "/_emu/faults") == 0 && strcmp(method, "GET") == 0) {
        reply_json(r, 200, emu_faults_json(e));
    } else if (strcmp(url, "/_emu/faults") == 0 && strcmp(method, "DELETE") == 0) {
        pthread_mutex_lock(&e->lock);
        e->n_faults = 0;
        pthread_mutex_unlock(&e->lock);
        reply_json(r, 200, json_object());
    } else if (strcmp(url, "/_emu/state") == 0 && strcmp(method, "GET") == 0) {
        reply_json(r, 200, exo_emu_snapshot(e));
    } else if (strcmp(url, "/_emu/nodes") == 0 && strcmp(method, "GET") == 0) {
        reply_json(r, 200, emu_nodes_json(e));
    } else if (strcmp(url, "/_emu/tick") == 0 && strcmp(method, "POST") == 0) {
        exo_emu_tick(e);
        reply_json(r, 200, json_object());
    } else {
        reply_msg(r, 404, "no admin endpoint %s %s", method, url);
    }
}

static void
emu_handle(struct exo_emu *e, struct MHD_Connection *conn, const char *method, const char *url,
           const char *body, size_t body_len, struct reply *r)
{
    struct route rt;
    struct emu_fault *f, fcopy, *opfault = NULL;
    int delay_ms = 0;

    if (strncmp(url, "/_emu/", 6) == 0) {
        emu_admin(e, method, url, body, body_len, r);
        return;
    }
    if (strncmp(url, "/v2/", 4) != 0 || emu_route(method, url + 3, &rt) < 0) {
        reply_msg(r, 404, "no such endpoint: %s %s", method, url);
        return;
    }
    pthread_mutex_lock(&e->lock);
    emu_count(e, rt.op);
    pthread_mutex_unlock(&e->lock);
    /* list-zones is public; everything else is signed. */
    if (strcmp(rt.op, "list-zones") != 0 &&
        emu_verify(e, conn, method, url, body, body_len, rt.op, r) < 0)
        return;
    pthread_mutex_lock(&e->lock);
    f = emu_take_fault(e, rt.op, 0);
    if (f != NULL) {
        fcopy = *f;
        f = &fcopy;
    }
    if (strncmp(rt.op, "scale", 5) == 0 || strncmp(rt.op, "evict", 5) == 0) {
        struct emu_fault *of = emu_take_fault(e, rt.op, 1);

        if (of != NULL) {
            static __thread struct emu_fault ofcopy;

            ofcopy = *of;
            opfault = &ofcopy;
        }
    }
    pthread_mutex_unlock(&e->lock);
    if (f != NULL && strcmp(f->kind, "500") == 0) {
        reply_msg(r, 500, "Internal Server Error (injected)");
        return;
    }
    if (f != NULL && strcmp(f->kind, "429") == 0) {
        reply_msg(r, 429, "Too Many Requests (injected)");
        r->retry_after = f->retry_after;
        return;
    }
    /* A connection reset by a proxy: no status line at all (status 0 closes it). */
    if (f != NULL && strcmp(f->kind, "reset") == 0) {
        r->reset = 1;
        return;
    }
    if (f != NULL && strcmp(f->kind, "slow") == 0)
        delay_ms = f->delay_ms;
    if (delay_ms > 0)
        usleep((useconds_t)delay_ms * 1000);
    pthread_mutex_lock(&e->lock);
    emu_tick_locked(e);
    emu_api(e, conn, &rt, body, body_len, opfault, r);
    pthread_mutex_unlock(&e->lock);
}

/* ---- HTTP plumbing ---- */

struct req_ctx {
    char *body;
    size_t len;
};

static enum MHD_Result
emu_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size,
           void **con_cls)
{
    struct exo_emu *e = cls;
    struct req_ctx *rc = *con_cls;
    struct reply r = {0, NULL, -1, 0};
    struct MHD_Response *resp;
    enum MHD_Result ret;

    (void)version;
    if (rc == NULL) {
        rc = calloc(1, sizeof(*rc));
        if (rc == NULL)
            return MHD_NO;
        *con_cls = rc;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        char *g = realloc(rc->body, rc->len + *upload_data_size + 1);

        if (g == NULL)
            return MHD_NO;
        rc->body = g;
        memcpy(rc->body + rc->len, upload_data, *upload_data_size);
        rc->len += *upload_data_size;
        rc->body[rc->len] = '\0';
        *upload_data_size = 0;
        return MHD_YES;
    }
    emu_handle(e, conn, method, url, rc->body ? rc->body : "", rc->len, &r);
    if (r.reset) {
        free(r.body);
        return MHD_NO;
    }
    if (r.body == NULL)
        r.body = strdup("{}");
    resp = MHD_create_response_from_buffer(strlen(r.body), r.body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (r.retry_after >= 0) {
        char ra[16];

        snprintf(ra, sizeof(ra), "%d", r.retry_after);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    ret = MHD_queue_response(conn, r.status ? r.status : 500, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void
emu_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
              enum MHD_RequestTerminationCode toe)
{
    struct req_ctx *rc = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (rc != NULL) {
        free(rc->body);
        free(rc);
        *con_cls = NULL;
    }
}

void
exo_emu_tick(struct exo_emu *e)
{
    pthread_mutex_lock(&e->lock);
    emu_tick_locked(e);
    pthread_mutex_unlock(&e->lock);
    emu_kube_flush(e);
}

static void *
emu_ticker(void *arg)
{
    struct exo_emu *e = arg;

    while (!__atomic_load_n(&e->stop, __ATOMIC_SEQ_CST)) {
        exo_emu_tick(e);
        usleep(20000);
    }
    return NULL;
}

int
exo_emu_start(const struct exo_emu_opts *o, struct exo_emu **out, char *err, size_t err_len)
{
    struct exo_emu *e = calloc(1, sizeof(*e));
    const union MHD_DaemonInfo *info;
    struct sockaddr_in sa;

    *out = NULL;
    if (e == NULL)
        return -1;
    pthread_mutex_init(&e->lock, NULL);
    e->seed = (uint64_t)emu_now_ms() ^ (uint64_t)getpid() << 16;
    e->itypes = json_object();
    e->quotas = json_object();
    e->pools = json_object();
    e->instances = json_object();
    e->clusters = json_object();
    e->opjson = json_object();
    e->calls = json_object();
    e->call_times = json_object();
    e->op_delay_ms = o->op_delay_ms;
    e->boot_delay_ms = o->boot_delay_ms;
    e->node_ready_delay_ms = o->node_ready_delay_ms;
    if (o->kube_url != NULL && emu_kube_init(e, o, err, err_len) < 0) {
        exo_emu_stop(e);
        return -1;
    }
    if (emu_load_world(e, o->state, err, err_len) < 0) {
        exo_emu_stop(e);
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(o->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    e->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                MHD_USE_ERROR_LOG,
                            o->port, NULL, NULL, emu_access, e, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_NOTIFY_COMPLETED, emu_completed, e,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_END);
    if (e->d == NULL) {
        snprintf(err, err_len, "cannot listen on 127.0.0.1:%u", (unsigned)o->port);
        exo_emu_stop(e);
        return -1;
    }
    info = MHD_get_daemon_info(e->d, MHD_DAEMON_INFO_BIND_PORT);
    e->port = info ? info->port : o->port;
    if (pthread_create(&e->ticker, NULL, emu_ticker, e) != 0) {
        snprintf(err, err_len, "cannot start the ticker thread");
        exo_emu_stop(e);
        return -1;
    }
    e->ticker_running = 1;
    *out = e;
    return 0;
}

uint16_t
exo_emu_port(const struct exo_emu *e)
{
    return e->port;
}

void
exo_emu_stop(struct exo_emu *e)
{
    size_t i;

    if (e == NULL)
        return;
    if (e->ticker_running) {
        __atomic_store_n(&e->stop, 1, __ATOMIC_SEQ_CST);
        pthread_join(e->ticker, NULL);
    }
    if (e->d != NULL)
        MHD_stop_daemon(e->d);
    emu_kube_fini(e);
    for (i = 0; i < e->n_ops; i++)
        json_decref(e->ops[i].evict_ids);
    free(e->ops);
    free(e->meta);
    json_decref(e->creds);
    json_decref(e->itypes);
    json_decref(e->quotas);
    json_decref(e->pools);
    json_decref(e->instances);
    json_decref(e->clusters);
    json_decref(e->opjson);
    json_decref(e->calls);
    json_decref(e->call_times);
    pthread_mutex_destroy(&e->lock);
    free(e);
}
