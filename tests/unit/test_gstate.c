/* Check suite for engine/loop/gstate: upcoming nodes, provision timeouts, back-off, creation
 * errors, readiness buckets and the cluster health verdict, on a fake clock. */
#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loop/gstate.h"
#include "loop/pass.h"
#include "model/model.h"

#define MIN_MS (60 * 1000LL)
#define T0 (1700000000000LL) /* the fake clock's start */

/* ---- building inputs ---- */

struct fx {
    struct group_rec groups[8];
    struct instance_rec insts[8][16];
    struct group_set set;
    struct gstate_node nodes[128];
    size_t n_nodes;
    struct gstate *g;
    char err[512];
};

static void
fx_init(struct fx *f, const struct gstate_options *o)
{
    memset(f, 0, sizeof(*f));
    f->set.groups = f->groups;
    struct gstate_options d;
    gstate_options_default(&d);
    ck_assert_int_eq(gstate_create(o ? o : &d, &f->g, f->err, sizeof(f->err)), 0);
}

static size_t
fx_group(struct fx *f, const char *id, int32_t min, int32_t max, int32_t target)
{
    size_t i = f->set.n_groups++;
    f->groups[i].id = (char *)(uintptr_t)id;
    f->groups[i].min_size = min;
    f->groups[i].max_size = max;
    f->groups[i].target_size = target;
    f->groups[i].instances = f->insts[i];
    return i;
}

static struct instance_rec *
fx_inst(struct fx *f, size_t gi, const char *pid, enum nsc_instance_state st)
{
    struct instance_rec *in = &f->insts[gi][f->groups[gi].n_instances++];
    in->provider_id = (char *)(uintptr_t)pid;
    in->state = st;
    return in;
}

static struct gstate_node *
fx_node(struct fx *f, const char *pid, int8_t ready, int64_t created_ms)
{
    struct gstate_node *n = &f->nodes[f->n_nodes++];
    n->provider_id = pid;
    n->ready = ready;
    n->created_ms = created_ms;
    return n;
}

static void
fx_update(struct fx *f, int64_t now)
{
    int rc = gstate_update(f->g, &f->set, f->nodes, f->n_nodes, now, f->err, sizeof(f->err));
    ck_assert_msg(rc == 0, "update: %s", f->err);
}

static void
fx_view(struct fx *f, const char *id, int64_t now, struct gstate_group_view *v)
{
    long i = gstate_find(f->g, id);
    ck_assert_int_ge(i, 0);
    ck_assert_int_eq(gstate_group_view(f->g, (size_t)i, now, v), 0);
}

/* ---- upcoming ---- */

struct upcoming_case {
    const char *name;
    int32_t min, max, target;
    int ready, not_started, unready, creating, deleting_nodes, deleting_bare;
    int32_t want;
};

static const struct upcoming_case upcoming_cases[] = {
    {"two coming", 0, 10, 5, 2, 0, 0, 3, 0, 0, 3},
    {"target not yet visible as instances", 0, 10, 5, 2, 0, 0, 0, 0, 0, 3},
    {"more nodes than target", 0, 10, 2, 3, 0, 0, 0, 0, 0, 0},
    {"not started nodes are still coming", 0, 10, 6, 1, 2, 1, 2, 0, 0, 4},
    {"target above max", 0, 10, 12, 4, 0, 0, 8, 0, 0, 6},
    {"registered above max", 0, 5, 5, 7, 0, 0, 0, 0, 0, 0},
    {"deleting instances are not coming", 0, 10, 2, 2, 0, 0, 0, 0, 3, 0},
    {"deleting nodes are not capacity", 0, 10, 3, 2, 0, 0, 0, 1, 0, 1},
    {"huge target saturates at max", 0, INT32_MAX, INT32_MAX, 1, 0, 0, 0, 0, 0, INT32_MAX - 1},
    {"huge target capped by max", 0, 5, INT32_MAX, 0, 0, 0, 0, 0, 0, 5},
    {"zero", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

START_TEST(upcoming_table)
{
    const struct upcoming_case *c = &upcoming_cases[_i];
    struct fx f;
    fx_init(&f, NULL);
    size_t gi = fx_group(&f, "pool", c->min, c->max, c->target);
    static char ids[16][16];
    int k = 0;
    for (int i = 0; i < c->ready + c->not_started + c->unready; i++, k++) {
        snprintf(ids[k], sizeof(ids[k]), "p://%d", k);
        fx_inst(&f, gi, ids[k], NSC_INSTANCE_RUNNING);
        int8_t ready = i < c->ready ? 1 : 0;
        int64_t created = i < c->ready + c->not_started ? T0 - MIN_MS : T0 - 60 * MIN_MS;
        fx_node(&f, ids[k], ready, created);
    }
    for (int i = 0; i < c->creating; i++, k++) {
        snprintf(ids[k], sizeof(ids[k]), "p://%d", k);
        fx_inst(&f, gi, ids[k], NSC_INSTANCE_CREATING);
    }
    for (int i = 0; i < c->deleting_nodes + c->deleting_bare; i++, k++) {
        snprintf(ids[k], sizeof(ids[k]), "p://%d", k);
        fx_inst(&f, gi, ids[k], NSC_INSTANCE_DELETING);
        if (i < c->deleting_nodes)
            fx_node(&f, ids[k], 1, T0 - 60 * MIN_MS);
    }
    fx_update(&f, T0);
    ck_assert_msg(gstate_upcoming(f.g, 0) == c->want, "%s: upcoming %d, want %d", c->name,
                  (int)gstate_upcoming(f.g, 0), (int)c->want);
    struct gstate_group_view v;
    fx_view(&f, "pool", T0, &v);
    ck_assert_uint_eq(v.n_ready, (size_t)c->ready + (size_t)c->deleting_nodes * 0);
    ck_assert_uint_eq(v.n_deleting, (size_t)c->deleting_nodes);
    ck_assert_uint_eq(v.n_not_started, (size_t)c->not_started);
    ck_assert_uint_eq(v.n_unready, (size_t)c->unready);
    gstate_free(f.g);
}
END_TEST

/* ---- provision timeout ---- */

START_TEST(provision_timeout)
{
    struct fx f;
    fx_init(&f, NULL);
    size_t gi = fx_group(&f, "pool", 0, 10, 3);
    fx_inst(&f, gi, "p://ok", NSC_INSTANCE_RUNNING);
    fx_node(&f, "p://ok", 1, T0 - 60 * MIN_MS);
    fx_inst(&f, gi, "p://slow", NSC_INSTANCE_CREATING);
    fx_inst(&f, gi, "p://stuck", NSC_INSTANCE_RUNNING);
    size_t n;
    fx_update(&f, T0);
    ck_assert_int_eq(gstate_upcoming(f.g, 0), 2);
    fx_update(&f, T0 + 15 * MIN_MS - 1);
    gstate_removals(f.g, &n);
    ck_assert_uint_eq(n, 0);
    ck_assert(!gstate_backed_off(f.g, "pool", T0 + 15 * MIN_MS - 1, NULL, NULL));

    fx_update(&f, T0 + 15 * MIN_MS);
    const struct gstate_removal *rm = gstate_removals(f.g, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(rm[0].provider_id, "p://slow");
    ck_assert_str_eq(rm[1].provider_id, "p://stuck");
    ck_assert_str_eq(rm[0].reason, "timeout");
    ck_assert_str_eq(rm[0].group_id, "pool");
    const char *reason;
    int64_t until;
    ck_assert(gstate_backed_off(f.g, "pool", T0 + 15 * MIN_MS, &reason, &until));
    ck_assert_str_eq(reason, "timeout");
    ck_assert_int_eq(until, T0 + 20 * MIN_MS);
    ck_assert_int_eq(gstate_upcoming(f.g, 0), 0);
    struct gstate_group_view v;
    fx_view(&f, "pool", T0 + 15 * MIN_MS, &v);
    ck_assert_uint_eq(v.n_long_unregistered, 2);
    ck_assert_ptr_nonnull(strstr(v.backoff_message, "no node registered after 900 s"));

    /* Still listed while they exist, but the same instances do not back off again. */
    fx_update(&f, T0 + 25 * MIN_MS);
    gstate_removals(f.g, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert(!gstate_backed_off(f.g, "pool", T0 + 25 * MIN_MS, NULL, NULL));

    /* A node that registers late clears its instance. */
    fx_node(&f, "p://slow", 1, T0 + 24 * MIN_MS);
    fx_update(&f, T0 + 26 * MIN_MS);
    rm = gstate_removals(f.g, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(rm[0].provider_id, "p://stuck");
    gstate_free(f.g);
}
END_TEST

START_TEST(removals_keep_min)
{
    struct fx f;
    fx_init(&f, NULL);
    size_t gi = fx_group(&f, "pool", 2, 10, 3);
    fx_inst(&f, gi, "p://a", NSC_INSTANCE_CREATING);
    fx_inst(&f, gi, "p://b", NSC_INSTANCE_CREATING);
    struct instance_rec *c = fx_inst(&f, gi, "p://c", NSC_INSTANCE_CREATING);
    c->error_class = NSC_ERROR_CLASS_OTHER;
    fx_update(&f, T0);
    fx_update(&f, T0 + 16 * MIN_MS);
    size_t n;
    const struct gstate_removal *rm = gstate_removals(f.g, &n);
    /* Room for one: the failed instance goes first. */
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(rm[0].provider_id, "p://c");
    ck_assert_str_eq(rm[0].reason, "other");
    ck_assert(gstate_backed_off(f.g, "pool", T0 + 16 * MIN_MS, NULL, NULL));
    gstate_free(f.g);
}
END_TEST

/* ---- back-off ---- */

struct backoff_step {
    int64_t at_min;    /* failure time */
    int64_t until_min; /* expected end */
};

START_TEST(backoff_doubling_and_cap)
{
    static const struct backoff_step steps[] = {
        {0, 5},    /* first: initial */
        {2, 7},    /* during a back-off: same length, from now */
        {8, 18},   /* after it ended: doubled to 10 */
        {20, 40},  /* 20 */
        {41, 71},  /* 40 capped at 30 */
        {72, 102}, /* stays at the cap */
    };
    struct fx f;
    fx_init(&f, NULL);
    fx_group(&f, "pool", 0, 10, 0);
    fx_update(&f, T0);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        int64_t at = T0 + steps[i].at_min * MIN_MS;
        ck_assert_int_eq(gstate_note_failure(f.g, "pool", "resize", "HTTP 500", at), 0);
        int64_t until;
        const char *reason;
        ck_assert(gstate_backed_off(f.g, "pool", at, &reason, &until));
        ck_assert_msg(until == T0 + steps[i].until_min * MIN_MS, "step %zu: until +%lld ms", i,
                      (long long)(until - T0));
        ck_assert_str_eq(reason, "resize");
    }
    /* until is excluded */
    ck_assert(gstate_backed_off(f.g, "pool", T0 + 102 * MIN_MS - 1, NULL, NULL));
    ck_assert(!gstate_backed_off(f.g, "pool", T0 + 102 * MIN_MS, NULL, NULL));
    ck_assert_int_eq(gstate_note_failure(f.g, "nope", "resize", NULL, T0), NSC_ERR_NOT_FOUND);
    gstate_free(f.g);
}
END_TEST

/* A resize refused for the moment is tried again: the group backs off only at the third
 * refusal in a row, the count survives an update and an accepted resize resets it. */
START_TEST(transient_refusals_before_backoff)
{
    struct fx f;
    bool off = true;
    fx_init(&f, NULL);
    fx_group(&f, "pool", 0, 10, 1);
    fx_update(&f, T0);
    ck_assert_int_eq(gstate_note_transient(f.g, "pool", "operation still running", T0, &off),
                     0);
    ck_assert(!off);
    fx_update(&f, T0 + 1000);
    ck_assert_int_eq(gstate_note_transient(f.g, "pool", "operation still running", T0, &off),
                     0);
    ck_assert(!off);
    ck_assert(!gstate_backed_off(f.g, "pool", T0 + 2000, NULL, NULL));
    ck_assert_int_eq(gstate_note_scale_up(f.g, "pool", 1, 2, T0 + 2000), 0);
    for (int i = 0; i < GSTATE_TRANSIENT_BEFORE_BACKOFF - 1; i++) {
        ck_assert_int_eq(gstate_note_transient(f.g, "pool", "HTTP 503", T0 + 3000, &off), 0);
        ck_assert(!off);
    }
    ck_assert(!gstate_backed_off(f.g, "pool", T0 + 3000, NULL, NULL));
    ck_assert_int_eq(gstate_note_transient(f.g, "pool", "HTTP 503", T0 + 3000, &off), 0);
    ck_assert(off);
    const char *reason;
    ck_assert(gstate_backed_off(f.g, "pool", T0 + 3000, &reason, NULL));
    ck_assert_str_eq(reason, "resize");
    ck_assert_int_eq(gstate_note_transient(f.g, "nope", "x", T0, &off), NSC_ERR_NOT_FOUND);
    gstate_free(f.g);
}
END_TEST

/* A Node the model cannot read (a quantity of 1e999) is still a registered machine: the
 * daemon's node list carries it as not ready, so its instance is neither upcoming nor, after
 * the provision timeout, removed as never registered (which would delete it undrained). */
START_TEST(unreadable_node_is_registered)
{
    static const char *const bad =
        "{\"kind\":\"Node\",\"metadata\":{\"name\":\"n-bad\"},\"spec\":{\"providerID\":"
        "\"p://bad\"},\"status\":{\"capacity\":{\"cpu\":\"1e999\",\"memory\":\"1Gi\"},"
        "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}";
    struct model *m = model_new();
    json_t *obj = json_loads(bad, 0, NULL);
    struct gstate_node *nodes = NULL;
    const char **keys = NULL;
    size_t n = 0, n_rm = 99;
    struct fx f;

    log_set_level(NSC_LOG_ERROR);
    ck_assert_ptr_nonnull(obj);
    ck_assert_int_eq(model_upsert(m, obj, NULL), NSC_ERR_INVALID);
    json_decref(obj);
    ck_assert_int_eq(loop_gstate_nodes(m, &nodes, &n, &keys), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(nodes[0].provider_id, "p://bad");
    ck_assert_int_eq(nodes[0].ready, -1);

    fx_init(&f, NULL);
    size_t gi = fx_group(&f, "pool", 0, 10, 1);
    fx_inst(&f, gi, "p://bad", NSC_INSTANCE_RUNNING);
    f.nodes[0] = nodes[0];
    f.n_nodes = 1;
    fx_update(&f, T0);
    ck_assert_int_eq(gstate_upcoming(f.g, 0), 0);
    fx_update(&f, T0 + 60 * MIN_MS);
    gstate_removals(f.g, &n_rm);
    ck_assert_uint_eq(n_rm, 0);
    gstate_free(f.g);
    free(nodes);
    free(keys);
    model_free(m);
}
END_TEST

START_TEST(backoff_reset)
{
    struct fx f;
    fx_init(&f, NULL);
    fx_group(&f, "pool", 0, 10, 0);
    fx_update(&f, T0);
    ck_assert_int_eq(gstate_note_failure(f.g, "pool", "resize", NULL, T0), 0);
    ck_assert_int_eq(gstate_note_failure(f.g, "pool", "resize", NULL, T0 + 6 * MIN_MS), 0);
    int64_t last = T0 + 6 * MIN_MS; /* back-off now 10 m */
    int64_t until;

    /* One ms short of the reset timeout: the next failure still doubles. */
    struct fx f2;
    fx_init(&f2, NULL);
    fx_group(&f2, "pool", 0, 10, 0);
    fx_update(&f2, T0);
    ck_assert_int_eq(gstate_note_failure(f2.g, "pool", "resize", NULL, T0), 0);
    ck_assert_int_eq(gstate_note_failure(f2.g, "pool", "resize", NULL, T0 + 6 * MIN_MS), 0);
    fx_update(&f2, last + 180 * MIN_MS - 1);
    ck_assert_int_eq(gstate_note_failure(f2.g, "pool", "resize", NULL, last + 180 * MIN_MS), 0);
    gstate_backed_off(f2.g, "pool", last + 180 * MIN_MS, NULL, &until);
    ck_assert_int_eq(until, last + 180 * MIN_MS + 20 * MIN_MS);
    gstate_free(f2.g);

    /* At the reset timeout the entry is dropped: the next failure starts at 5 m. */
    fx_update(&f, last + 180 * MIN_MS);
    struct gstate_group_view v;
    fx_view(&f, "pool", last + 180 * MIN_MS, &v);
    ck_assert(!v.backed_off);
    ck_assert_ptr_null(v.backoff_reason);
    ck_assert_int_eq(gstate_note_failure(f.g, "pool", "resize", NULL, last + 180 * MIN_MS), 0);
    gstate_backed_off(f.g, "pool", last + 180 * MIN_MS, NULL, &until);
    ck_assert_int_eq(until, last + 185 * MIN_MS);
    gstate_free(f.g);
}
END_TEST

/* ---- creation errors ---- */

START_TEST(error_instances_back_off_at_once)
{
    struct fx f;
    fx_init(&f, NULL);
    size_t a = fx_group(&f, "quota", 0, 10, 2);
    size_t b = fx_group(&f, "broken", 0, 10, 1);
    size_t c = fx_group(&f, "fine", 0, 10, 2);
    struct instance_rec *qa = fx_inst(&f, a, "p://q1", NSC_INSTANCE_CREATING);
    qa->error_class = NSC_ERROR_CLASS_OUT_OF_RESOURCES;
    qa->error_code = (char *)(uintptr_t) "QUOTA_EXCEEDED";
    qa->error_message = (char *)(uintptr_t) "instance quota reached\nfor medium";
    fx_inst(&f, a, "p://q2", NSC_INSTANCE_CREATING);
    struct instance_rec *ob = fx_inst(&f, b, "p://o1", NSC_INSTANCE_CREATING);
    ob->error_class = NSC_ERROR_CLASS_OTHER;
    /* An error on a running instance is not a failed creation. */
    struct instance_rec *rc = fx_inst(&f, c, "p://r1", NSC_INSTANCE_RUNNING);
    rc->error_class = NSC_ERROR_CLASS_OTHER;
    fx_node(&f, "p://r1", 1, T0 - 60 * MIN_MS);
    struct instance_rec *rc2 = fx_inst(&f, c, "p://r2", NSC_INSTANCE_RUNNING);
    rc2->error_class = NSC_ERROR_CLASS_OUT_OF_RESOURCES;
    fx_update(&f, T0);

    struct gstate_group_view v;
    fx_view(&f, "quota", T0, &v);
    ck_assert(v.backed_off);
    ck_assert_str_eq(v.backoff_reason, "out-of-resources");
    ck_assert_str_eq(v.backoff_message, "instance p://q1: instance quota reached?for medium");
    ck_assert_int_eq(v.backoff_until_ms, T0 + 5 * MIN_MS);
    ck_assert_uint_eq(v.n_failed, 1);
    ck_assert_int_eq(v.n_upcoming, 1); /* q2 only */
    fx_view(&f, "broken", T0, &v);
    ck_assert_str_eq(v.backoff_reason, "other");
    ck_assert_str_eq(v.backoff_message, "instance p://o1: creation failed");
    ck_assert(!gstate_backed_off(f.g, "fine", T0, NULL, NULL));

    size_t n;
    const struct gstate_removal *rm = gstate_removals(f.g, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(rm[0].provider_id, "p://q1");
    ck_assert_str_eq(rm[0].reason, "out-of-resources");
    ck_assert_str_eq(rm[1].provider_id, "p://o1");

    /* Seen again after the back-off ended: not a new failure, no new back-off. */
    fx_update(&f, T0 + 6 * MIN_MS);
    ck_assert(!gstate_backed_off(f.g, "quota", T0 + 6 * MIN_MS, NULL, NULL));
    gstate_removals(f.g, &n);
    ck_assert_uint_eq(n, 2);
    gstate_free(f.g);
}
END_TEST

START_TEST(error_message_is_cut)
{
    struct fx f;
    fx_init(&f, NULL);
    size_t a = fx_group(&f, "pool", 0, 10, 1);
    static char big[5000];
    memset(big, 'x', sizeof(big) - 1);
    /* two-byte characters, one straddling the cut after the 16 bytes "instance p://a: " */
    memcpy(big + 231, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 14);
    struct instance_rec *in = fx_inst(&f, a, "p://a", NSC_INSTANCE_CREATING);
    in->error_class = NSC_ERROR_CLASS_OTHER;
    in->error_message = big;
    fx_update(&f, T0);
    struct gstate_group_view v;
    fx_view(&f, "pool", T0, &v);
    ck_assert_uint_le(strlen(v.backoff_message), GSTATE_MESSAGE_MAX);
    size_t len = strlen(v.backoff_message);
    ck_assert_uint_eq(len, 255);
    ck_assert((v.backoff_message[len - 1] & 0xC0) != 0xC0); /* no cut lead byte */
    gstate_free(f.g);
}
END_TEST

/* ---- readiness and health ---- */

struct health_case {
    int ready, unready;
    bool healthy;
};

static const struct health_case health_cases[] = {
    {0, 0, true},    {1, 3, true},   {0, 4, false}, /* 4 > 3 and 4 > 1.8 */
    {6, 4, true},                                   /* 4 > 3 but 4 <= 4.5 */
    {5, 5, false},   {11, 9, true},                 /* 9 <= 9.0 */
    {10, 10, false}, {100, 3, true},
};

START_TEST(health_table)
{
    const struct health_case *c = &health_cases[_i];
    struct fx f;
    fx_init(&f, NULL);
    fx_group(&f, "pool", 0, 100, 0);
    for (int i = 0; i < c->ready; i++)
        fx_node(&f, NULL, 1, T0 - 60 * MIN_MS); /* nodes outside groups count too */
    for (int i = 0; i < c->unready; i++)
        fx_node(&f, NULL, 0, T0 - 60 * MIN_MS);
    fx_update(&f, T0);
    char why[200];
    bool h = gstate_cluster_healthy(f.g, why, sizeof(why));
    ck_assert_msg(h == c->healthy, "%d ready %d unready: %s", c->ready, c->unready, why);
    struct gstate_totals t;
    gstate_totals(f.g, &t);
    ck_assert_uint_eq(t.n_unready, (size_t)c->unready);
    ck_assert_uint_eq(t.n_nodes, (size_t)(c->ready + c->unready));
    gstate_free(f.g);
}
END_TEST

START_TEST(health_options)
{
    struct gstate_options o;
    gstate_options_default(&o);
    o.ok_total_unready_count = 0;
    o.max_total_unready_percentage = 0;
    struct fx f;
    fx_init(&f, &o);
    fx_node(&f, NULL, 1, T0 - 60 * MIN_MS);
    fx_update(&f, T0);
    ck_assert(gstate_cluster_healthy(f.g, NULL, 0));
    fx_node(&f, NULL, -1, T0 - 60 * MIN_MS);
    fx_update(&f, T0);
    ck_assert(!gstate_cluster_healthy(f.g, NULL, 0));
    gstate_free(f.g);
}
END_TEST

START_TEST(unhealthy_until_first_update)
{
    struct fx f;
    fx_init(&f, NULL);
    char why[200];
    ck_assert(!gstate_cluster_healthy(f.g, why, sizeof(why)));
    ck_assert_str_eq(why, "no node state yet");
    fx_update(&f, T0);
    ck_assert(gstate_cluster_healthy(f.g, why, sizeof(why)));
    gstate_free(f.g);
}
END_TEST

struct ready_case {
    const char *name;
    int8_t ready;
    int64_t age_ms; /* now - created; INT64_MIN: no creation time */
    const char *taint;
    char want; /* 'r'eady, 'n'ot started, 'u'nready */
};

static const struct ready_case ready_cases[] = {
    {"ready", 1, 60 * MIN_MS, NULL, 'r'},
    {"young not ready", 0, 15 * MIN_MS - 1, NULL, 'n'},
    {"old not ready", 0, 15 * MIN_MS, NULL, 'u'},
    {"young unknown", -1, 0, NULL, 'n'},
    {"no creation time", 0, INT64_MIN, NULL, 'u'},
    {"created in the future", 0, -1, NULL, 'u'},
    {"young startup taint", 1, MIN_MS, "startup-taint.cluster-autoscaler.kubernetes.io/cni",
     'n'},
    {"old startup taint", 1, 20 * MIN_MS, "startup-taint.cluster-autoscaler.kubernetes.io/cni",
     'u'},
    {"ignore taint", 1, MIN_MS, "ignore-taint.cluster-autoscaler.kubernetes.io/x", 'n'},
    {"status taint", 1, MIN_MS, "status-taint.cluster-autoscaler.kubernetes.io/gpu", 'r'},
    {"configured startup taint", 1, MIN_MS, "example.com/warming", 'n'},
    {"configured prefix", 1, MIN_MS, "boot.example.com/image", 'n'},
    {"prefix is not a key", 1, MIN_MS, "example.com/warming-up", 'r'},
    {"not-ready taint", 1, 60 * MIN_MS, "node.kubernetes.io/not-ready", 'u'},
    {"network taint", 1, MIN_MS, "node.kubernetes.io/network-unavailable", 'n'},
    {"other taint", 1, MIN_MS, "dedicated", 'r'},
};

START_TEST(readiness_table)
{
    const struct ready_case *c = &ready_cases[_i];
    static const char *const keys[] = {"example.com/warming"};
    static const char *const prefixes[] = {"boot.example.com/"};
    struct gstate_options o;
    gstate_options_default(&o);
    o.startup_taints = keys;
    o.n_startup_taints = 1;
    o.startup_taint_prefixes = prefixes;
    o.n_startup_taint_prefixes = 1;
    struct fx f;
    fx_init(&f, &o);
    size_t gi = fx_group(&f, "pool", 0, 10, 1);
    fx_inst(&f, gi, "p://a", NSC_INSTANCE_RUNNING);
    struct gstate_node *n =
        fx_node(&f, "p://a", c->ready, c->age_ms == INT64_MIN ? 0 : T0 - c->age_ms);
    const char *taints[] = {"dedicated", c->taint};
    n->taint_keys = taints;
    n->n_taint_keys = c->taint ? 2 : 1;
    fx_update(&f, T0);
    struct gstate_group_view v;
    fx_view(&f, "pool", T0, &v);
    char got = v.n_ready ? 'r' : v.n_not_started ? 'n' : v.n_unready ? 'u' : '?';
    ck_assert_msg(got == c->want, "%s: got %c want %c", c->name, got, c->want);
    ck_assert_uint_eq(v.n_registered, 1);
    /* A node still starting takes no pod yet: it is still coming. */
    ck_assert_int_eq(v.n_upcoming, c->want == 'n' ? 1 : 0);
    gstate_free(f.g);
}
END_TEST

/* ---- scale-up bookkeeping ---- */

START_TEST(scale_up_done_when_registered)
{
    struct fx f;
    fx_init(&f, NULL);
    size_t gi = fx_group(&f, "pool", 0, 10, 1);
    fx_inst(&f, gi, "p://a", NSC_INSTANCE_RUNNING);
    fx_node(&f, "p://a", 1, T0 - 60 * MIN_MS);
    fx_update(&f, T0);
    ck_assert_int_eq(gstate_last_scale_up_ms(f.g), 0);
    ck_assert_int_eq(gstate_note_scale_up(f.g, "pool", 1, 3, T0 + 1000), 0);
    ck_assert_int_eq(gstate_last_scale_up_ms(f.g), T0 + 1000);
    f.groups[gi].target_size = 3;
    fx_inst(&f, gi, "p://b", NSC_INSTANCE_CREATING);
    fx_inst(&f, gi, "p://c", NSC_INSTANCE_CREATING);
    fx_update(&f, T0 + MIN_MS);
    struct gstate_group_view v;
    fx_view(&f, "pool", T0 + MIN_MS, &v);
    ck_assert(v.scale_up_in_progress);
    ck_assert_int_eq(v.n_upcoming, 2);
    ck_assert_int_eq(v.last_scale_up_ms, T0 + 1000);
    /* Registered ends the scale-up; a node still starting takes no pod yet: upcoming. */
    fx_node(&f, "p://b", 1, T0 + 2 * MIN_MS);
    fx_node(&f, "p://c", 0, T0 + 2 * MIN_MS);
    fx_update(&f, T0 + 3 * MIN_MS);
    fx_view(&f, "pool", T0 + 3 * MIN_MS, &v);
    ck_assert(!v.scale_up_in_progress);
    ck_assert_int_eq(v.n_upcoming, 1);
    ck_assert_uint_eq(v.n_not_started, 1);
    ck_assert(!v.backed_off);
    ck_assert_int_eq(gstate_note_scale_up(f.g, "pool", 3, 3, T0), NSC_ERR_INVALID);
    ck_assert_int_eq(gstate_note_scale_up(f.g, "pool", -1, 3, T0), NSC_ERR_INVALID);
    ck_assert_int_eq(gstate_note_scale_up(f.g, "other", 1, 3, T0), NSC_ERR_NOT_FOUND);
    gstate_free(f.g);
}
END_TEST

START_TEST(scale_up_timeout)
{
    struct fx f;
    fx_init(&f, NULL);
    /* The backend took the new target but shows no instance for it. */
    size_t gi = fx_group(&f, "pool", 0, 10, 4);
    fx_inst(&f, gi, "p://a", NSC_INSTANCE_RUNNING);
    fx_node(&f, "p://a", 1, T0 - 60 * MIN_MS);
    fx_update(&f, T0);
    ck_assert_int_eq(gstate_note_scale_up(f.g, "pool", 1, 4, T0), 0);
    fx_update(&f, T0 + 15 * MIN_MS - 1);
    ck_assert_int_eq(gstate_upcoming(f.g, 0), 3);
    ck_assert(!gstate_backed_off(f.g, "pool", T0 + 15 * MIN_MS - 1, NULL, NULL));
    fx_inst(&f, gi, "p://late", NSC_INSTANCE_CREATING);
    fx_update(&f, T0 + 15 * MIN_MS);
    const char *reason;
    ck_assert(gstate_backed_off(f.g, "pool", T0 + 15 * MIN_MS, &reason, NULL));
    ck_assert_str_eq(reason, "timeout");
    /* Only the instance the backend shows is still expected. */
    ck_assert_int_eq(gstate_upcoming(f.g, 0), 1);
    struct gstate_group_view v;
    fx_view(&f, "pool", T0 + 15 * MIN_MS, &v);
    ck_assert(!v.scale_up_in_progress);
    ck_assert_ptr_nonnull(strstr(v.backoff_message, "scale-up to 4: 1 nodes registered"));
    gstate_free(f.g);
}
END_TEST

/* ---- forgetting and bad input ---- */

START_TEST(forgets_what_disappears)
{
    struct fx f;
    fx_init(&f, NULL);
    size_t a = fx_group(&f, "a", 0, 10, 1);
    fx_group(&f, "b", 0, 10, 0);
    fx_inst(&f, a, "p://x", NSC_INSTANCE_CREATING);
    fx_update(&f, T0);
    ck_assert_int_eq(gstate_note_failure(f.g, "b", "resize", NULL, T0), 0);
    fx_update(&f, T0 + 10 * MIN_MS);

    /* b and x vanish for one loop. */
    f.set.n_groups = 1;
    f.groups[a].n_instances = 0;
    fx_update(&f, T0 + 11 * MIN_MS);
    ck_assert_uint_eq(gstate_n_groups(f.g), 1);
    ck_assert_int_eq(gstate_find(f.g, "b"), -1);
    ck_assert(!gstate_backed_off(f.g, "b", T0 + 11 * MIN_MS, NULL, NULL));

    /* Back again: x is timed afresh, b starts without a back-off. */
    f.set.n_groups = 2;
    f.groups[a].n_instances = 1;
    fx_update(&f, T0 + 20 * MIN_MS);
    size_t n;
    gstate_removals(f.g, &n);
    ck_assert_uint_eq(n, 0);
    ck_assert(!gstate_backed_off(f.g, "b", T0 + 20 * MIN_MS, NULL, NULL));
    ck_assert_int_eq(gstate_find(f.g, "b"), 1);

    /* x unregistered for 14 m, then listed by b: timed afresh there. */
    fx_update(&f, T0 + 34 * MIN_MS);
    f.groups[a].n_instances = 0;
    fx_inst(&f, 1, "p://x", NSC_INSTANCE_CREATING);
    fx_update(&f, T0 + 36 * MIN_MS);
    struct gstate_group_view v;
    fx_view(&f, "b", T0 + 36 * MIN_MS, &v);
    ck_assert_uint_eq(v.n_long_unregistered, 0);
    ck_assert_uint_eq(v.n_unregistered, 1);
    gstate_free(f.g);
}
END_TEST

START_TEST(bad_input_is_refused_and_fails_closed)
{
    struct fx f;
    fx_init(&f, NULL);
    size_t a = fx_group(&f, "a", 0, 10, 1);
    fx_inst(&f, a, "p://x", NSC_INSTANCE_CREATING);
    fx_update(&f, T0);
    ck_assert_int_eq(gstate_note_failure(f.g, "a", "resize", NULL, T0), 0);

    size_t b = fx_group(&f, "b", 0, 10, 1);
    fx_inst(&f, b, "p://x", NSC_INSTANCE_RUNNING);
    ck_assert_int_eq(gstate_update(f.g, &f.set, NULL, 0, T0, f.err, sizeof(f.err)),
                     NSC_ERR_INVALID);
    ck_assert_str_eq(f.err, "instance p://x is listed by groups a and b");
    char why[300];
    ck_assert(!gstate_cluster_healthy(f.g, why, sizeof(why)));
    ck_assert_str_eq(why,
                     "group state not updated: instance p://x is listed by groups a and b");
    /* What the last good update knew is kept. */
    ck_assert(gstate_backed_off(f.g, "a", T0, NULL, NULL));
    ck_assert_uint_eq(gstate_n_groups(f.g), 1);

    f.groups[b].instances[0].provider_id = (char *)(uintptr_t) "p://y";
    f.groups[b].id = (char *)(uintptr_t) "a";
    ck_assert_int_eq(gstate_update(f.g, &f.set, NULL, 0, T0, f.err, sizeof(f.err)),
                     NSC_ERR_INVALID);
    ck_assert_str_eq(f.err, "group a: field id is a duplicate");
    f.groups[b].id = (char *)(uintptr_t) "b";

    f.groups[b].min_size = 5;
    f.groups[b].max_size = 4;
    ck_assert_int_eq(gstate_update(f.g, &f.set, NULL, 0, T0, f.err, sizeof(f.err)),
                     NSC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(f.err, "group b: sizes min 5, max 4"));
    f.groups[b].min_size = 0;
    f.groups[b].target_size = -1;
    ck_assert_int_eq(gstate_update(f.g, &f.set, NULL, 0, T0, f.err, sizeof(f.err)),
                     NSC_ERR_INVALID);
    f.groups[b].target_size = 1;
    f.groups[b].instances[0].provider_id = (char *)(uintptr_t) "";
    ck_assert_int_eq(gstate_update(f.g, &f.set, NULL, 0, T0, f.err, sizeof(f.err)),
                     NSC_ERR_INVALID);
    ck_assert_str_eq(f.err, "group b: instance 1: field provider_id is missing");
    f.groups[b].instances[0].provider_id = (char *)(uintptr_t) "p://y";
    ck_assert_int_eq(gstate_update(f.g, &f.set, NULL, 0, -1, f.err, sizeof(f.err)),
                     NSC_ERR_INVALID);
    ck_assert_int_eq(
        gstate_update(f.g, &f.set, NULL, GSTATE_MAX_NODES + 1, T0, f.err, sizeof(f.err)),
        NSC_ERR_INVALID);
    ck_assert(!gstate_cluster_healthy(f.g, NULL, 0));

    fx_update(&f, T0);
    ck_assert(gstate_cluster_healthy(f.g, NULL, 0));
    ck_assert_uint_eq(gstate_n_groups(f.g), 2);
    gstate_free(f.g);
}
END_TEST

START_TEST(options_are_checked)
{
    struct gstate *g = NULL;
    char err[300];
    struct gstate_options o;
    gstate_options_default(&o);
    o.initial_backoff_ms = 31 * MIN_MS;
    ck_assert_int_eq(gstate_create(&o, &g, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "--initial-node-group-backoff-duration"));
    gstate_options_default(&o);
    o.max_node_provision_time_ms = 0;
    ck_assert_int_eq(gstate_create(&o, &g, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "--max-node-provision-time"));
    gstate_options_default(&o);
    o.max_total_unready_percentage = NAN;
    ck_assert_int_eq(gstate_create(&o, &g, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "--max-total-unready-percentage"));
    o.max_total_unready_percentage = 100.5;
    ck_assert_int_eq(gstate_create(&o, &g, err, sizeof(err)), NSC_ERR_INVALID);
    gstate_options_default(&o);
    o.ok_total_unready_count = -1;
    ck_assert_int_eq(gstate_create(&o, &g, err, sizeof(err)), NSC_ERR_INVALID);
    gstate_options_default(&o);
    static const char *const empty[] = {""};
    o.startup_taints = empty;
    o.n_startup_taints = 1;
    ck_assert_int_eq(gstate_create(&o, &g, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_str_eq(err, "--startup-taint: value 1 is empty");
    ck_assert_ptr_null(g);
}
END_TEST

static Suite *
gstate_suite(void)
{
    Suite *s = suite_create("gstate");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, upcoming_table, 0,
                        (int)(sizeof(upcoming_cases) / sizeof(upcoming_cases[0])));
    tcase_add_test(tc, provision_timeout);
    tcase_add_test(tc, removals_keep_min);
    tcase_add_test(tc, backoff_doubling_and_cap);
    tcase_add_test(tc, transient_refusals_before_backoff);
    tcase_add_test(tc, unreadable_node_is_registered);
    tcase_add_test(tc, backoff_reset);
    tcase_add_test(tc, error_instances_back_off_at_once);
    tcase_add_test(tc, error_message_is_cut);
    tcase_add_loop_test(tc, health_table, 0,
                        (int)(sizeof(health_cases) / sizeof(health_cases[0])));
    tcase_add_test(tc, health_options);
    tcase_add_test(tc, unhealthy_until_first_update);
    tcase_add_loop_test(tc, readiness_table, 0,
                        (int)(sizeof(ready_cases) / sizeof(ready_cases[0])));
    tcase_add_test(tc, scale_up_done_when_registered);
    tcase_add_test(tc, scale_up_timeout);
    tcase_add_test(tc, forgets_what_disappears);
    tcase_add_test(tc, bad_input_is_refused_and_fails_closed);
    tcase_add_test(tc, options_are_checked);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(gstate_suite());
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
