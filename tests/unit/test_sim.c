/* Check suite for engine/sim: every filter from tests/data/sim/filters.json, fork/revert,
 * prepared state that follows pods added in a fork (checked against fresh state), and the
 * free-capacity index behind sim_find. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
#include "sim/sim.h"
#include "sim_fixture.h"

static const char *
data_path(const char *name)
{
    static char buf[4096];
    const char *top = getenv("top_srcdir");
    snprintf(buf, sizeof(buf), "%s/tests/data/sim/%s", top ? top : "..", name);
    return buf;
}

static struct model *
build_case(json_t *tc)
{
    struct model *m = model_new();
    size_t i;
    json_t *d;
    /* "kube_minor": the cluster's version 1.NN, for rules that changed between versions. */
    m->kube_minor = (uint32_t)json_integer_value(json_object_get(tc, "kube_minor"));
    json_array_foreach(json_object_get(tc, "nodes"), i, d)
    {
        json_t *n = fx_node(d);
        ck_assert_int_eq(model_upsert(m, n, NULL), 0);
        json_decref(n);
    }
    json_array_foreach(json_object_get(tc, "pods"), i, d)
    {
        json_t *p = fx_pod(d);
        ck_assert_int_eq(model_upsert(m, p, NULL), 0);
        json_decref(p);
    }
    json_array_foreach(json_object_get(tc, "extra"), i, d)
        ck_assert_int_eq(model_upsert(m, d, NULL), 0);
    return m;
}

static void
check_expect(struct model *m, struct sim_snapshot *s, const char *name, json_t *pod_d,
             json_t *expect)
{
    json_t *pj = fx_pod(pod_d);
    ck_assert_int_eq(model_upsert(m, pj, NULL), 0);
    json_decref(pj);
    const char *pname = json_string_value(json_object_get(pod_d, "name"));
    struct model_pod *p = model_find_pod(m, "default", pname);
    ck_assert_ptr_nonnull(p);
    struct sim_ctx *c;
    ck_assert_int_eq(sim_ctx_new(s, p, &c), 0);
    const char *node;
    json_t *want;
    json_object_foreach(expect, node, want)
    {
        uint32_t idx = sim_node_index(s, node);
        ck_assert_msg(idx != SIM_NONE, "%s: no node %s", name, node);
        char why[256] = "";
        int rc = sim_check(s, c, idx, why, sizeof(why));
        const char *w = json_string_value(want);
        if (strcmp(w, "fits") == 0)
            ck_assert_msg(rc == SIM_OK, "%s: pod %s on %s refused: %s", name, pname, node, why);
        else {
            ck_assert_msg(rc != SIM_OK, "%s: pod %s fits %s, want \"%s\"", name, pname, node,
                          w);
            ck_assert_msg(strstr(why, w) != NULL, "%s: pod %s on %s: \"%s\" lacks \"%s\"", name,
                          pname, node, why, w);
        }
    }
    sim_ctx_free(c);
}

START_TEST(filter_table)
{
    json_error_t jerr;
    json_t *cases = json_load_file(data_path("filters.json"), 0, &jerr);
    ck_assert_msg(cases != NULL, "%s", jerr.text);
    ck_assert_int_ge(json_array_size(cases), 20);
    size_t i;
    json_t *tc;
    json_array_foreach(cases, i, tc)
    {
        const char *name = json_string_value(json_object_get(tc, "name"));
        struct model *m = build_case(tc);
        struct sim_snapshot *s;
        /* The incoming pods are unbound, so the snapshot is the same before and after. */
        ck_assert_int_eq(sim_snapshot_new(m, &s), 0);
        check_expect(m, s, name, json_object_get(tc, "pod"), json_object_get(tc, "expect"));
        /* pod2.. with expect2..; extraN objects are added before podN is checked. */
        for (int k = 2; k <= 9; k++) {
            char pk[8], ek[12], xk[12];
            snprintf(pk, sizeof(pk), "pod%d", k);
            snprintf(ek, sizeof(ek), "expect%d", k);
            snprintf(xk, sizeof(xk), "extra%d", k);
            if (!json_object_get(tc, pk))
                break;
            if (json_object_get(tc, xk)) {
                size_t j;
                json_t *d;
                json_array_foreach(json_object_get(tc, xk), j, d)
                    ck_assert_int_eq(model_upsert(m, d, NULL), 0);
                sim_snapshot_free(s);
                ck_assert_int_eq(sim_snapshot_new(m, &s), 0);
            }
            check_expect(m, s, name, json_object_get(tc, pk), json_object_get(tc, ek));
        }
        sim_snapshot_free(s);
        model_free(m);
    }
    json_decref(cases);
}
END_TEST

/* Versions as --kubernetes-version and the API server's /version write them. */
START_TEST(kube_minor_parse)
{
    static const struct {
        const char *text;
        int rc;
        uint32_t minor;
    } cases[] = {
        {"1.26", 0, 26},
        {"v1.31.2", 0, 31},
        {"v1.27.3-eks-4701dcb", 0, 27},
        {"1.29+", 0, 29},
        {"v1.20.2", 0, 20},
        {"2.1", NSC_ERR_INVALID, 0},
        {"1.", NSC_ERR_INVALID, 0},
        {"1.2x", NSC_ERR_INVALID, 0},
        {"", NSC_ERR_INVALID, 0},
        {"1.12345", NSC_ERR_INVALID, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint32_t minor = 0;
        int rc = model_kube_minor_parse(cases[i].text, &minor);
        ck_assert_msg(rc == cases[i].rc, "\"%s\": rc %d, want %d", cases[i].text, rc,
                      cases[i].rc);
        if (rc == 0)
            ck_assert_msg(minor == cases[i].minor, "\"%s\": minor %u, want %u", cases[i].text,
                          minor, cases[i].minor);
    }
    ck_assert_int_eq(model_kube_minor_parse(NULL, NULL), NSC_ERR_INVALID);
}
END_TEST

/* Add the pod of a short-form fixture (JSON text) to the model. */
static void
upsert_pod(struct model *m, const char *text)
{
    json_error_t jerr;
    json_t *d = json_loads(text, 0, &jerr);
    ck_assert_msg(d != NULL, "%s", jerr.text);
    json_t *p = fx_pod(d);
    ck_assert_int_eq(model_upsert(m, p, NULL), 0);
    json_decref(p);
    json_decref(d);
}

static struct model *
small_cluster(void)
{
    struct model *m = model_new();
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "n%d", i);
        json_t *d = json_pack("{s:s}", "name", name);
        json_t *n = fx_node(d);
        ck_assert_int_eq(model_upsert(m, n, NULL), 0);
        json_decref(n);
        json_decref(d);
    }
    upsert_pod(m, "{\"name\":\"web\",\"labels\":{\"app\":\"web\"},\"cpu\":\"1\","
                  "\"spec\":{\"affinity\":{\"podAntiAffinity\":{"
                  "\"requiredDuringSchedulingIgnoredDuringExecution\":[{\"labelSelector\":"
                  "{\"matchLabels\":{\"app\":\"web\"}},\"topologyKey\":"
                  "\"kubernetes.io/hostname\"}]}}}}");
    return m;
}

/* Read what the calls between stderr_capture and stderr_release wrote to stderr. */
static int saved_stderr = -1;

static FILE *
stderr_capture(void)
{
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    fflush(stderr);
    saved_stderr = dup(2);
    ck_assert_int_ge(saved_stderr, 0);
    ck_assert_int_ge(dup2(fileno(f), 2), 0);
    return f;
}

static char *
stderr_release(FILE *f)
{
    static char buf[8192];
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    rewind(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* A snapshot without claims cannot check volumes: a pod with claims is placed as if they
 * fitted, and the log says so once, naming a pod; with claims listed from the API server,
 * a missing claim is missing. */
START_TEST(volume_checks_off_said_once)
{
    struct model *m = model_new();
    json_t *d = json_pack("{s:s}", "name", "n1");
    json_t *n = fx_node(d);
    ck_assert_int_eq(model_upsert(m, n, NULL), 0);
    json_decref(n);
    json_decref(d);
    upsert_pod(m, "{\"name\":\"db\",\"spec\":{\"volumes\":[{\"name\":\"v\","
                  "\"persistentVolumeClaim\":{\"claimName\":\"data\"}}]}}");
    struct model_pod *p = model_find_pod(m, "default", "db");
    FILE *f = stderr_capture();
    struct sim_snapshot *s1, *s2;
    ck_assert_int_eq(sim_snapshot_new(m, &s1), 0);
    ck_assert_int_eq(sim_snapshot_new(m, &s2), 0);
    const char *log = stderr_release(f);
    const char *hit = strstr(log, "volume checks are off");
    ck_assert_msg(hit != NULL, "no warning in \"%s\"", log);
    ck_assert_ptr_null(strstr(hit + 1, "volume checks are off"));
    ck_assert_ptr_nonnull(strstr(log, "default/db"));
    struct sim_ctx *c;
    ck_assert_int_eq(sim_ctx_new(s1, p, &c), 0);
    ck_assert_int_eq(sim_check(s1, c, 0, NULL, 0), SIM_OK);
    sim_ctx_free(c);
    sim_snapshot_free(s1);
    sim_snapshot_free(s2);
    m->volumes_listed = true;
    ck_assert_int_eq(sim_snapshot_new(m, &s1), 0);
    ck_assert_int_eq(sim_ctx_new(s1, p, &c), 0);
    char why[256] = "";
    ck_assert_int_eq(sim_check(s1, c, 0, why, sizeof(why)), SIM_FAIL_VOLUME);
    ck_assert_str_eq(why, "persistentvolumeclaim \"data\" not found");
    sim_ctx_free(c);
    sim_snapshot_free(s1);
    model_free(m);
}
END_TEST

START_TEST(fork_revert_restores)
{
    struct model *m = small_cluster();
    struct sim_snapshot *s;
    ck_assert_int_eq(sim_snapshot_new(m, &s), 0);
    struct model_pod *web = model_find_pod(m, "default", "web");
    uint32_t mark = sim_fork(s);
    ck_assert_int_eq(sim_add_pod(s, web, 0), 0);
    ck_assert_int_eq(s->nodes[0].used[RES_CPU], 1000);
    uint32_t t;
    ck_assert_int_eq(sim_add_template_node(s, s->nodes[1].src, "tmpl-1", &t), 0);
    ck_assert_uint_eq(t, 3);
    ck_assert_str_eq(intern_str(&m->strings, labels_get(s->nodes[t].labels, m->s_hostname)),
                     "tmpl-1");
    ck_assert_int_eq(sim_add_pod(s, web, t), 0);
    uint32_t inner = sim_fork(s);
    ck_assert_int_eq(sim_remove_pod(s, 0), 0);
    ck_assert_int_eq(s->nodes[0].used[RES_CPU], 0);
    ck_assert_int_eq(sim_disable_node(s, 1), 0);
    sim_revert(s, inner);
    ck_assert_int_eq(s->nodes[0].used[RES_CPU], 1000);
    ck_assert(!s->nodes[1].disabled);
    sim_revert(s, mark);
    ck_assert_uint_eq(s->n_nodes, 3);
    ck_assert_uint_eq(s->n_pods, 0);
    ck_assert_uint_eq(s->n_anti_pods, 0);
    ck_assert_int_eq(s->nodes[0].used[RES_CPU], 0);
    ck_assert_int_eq(s->nodes[0].used[RES_PODS], 0);
    sim_snapshot_free(s);
    model_free(m);
}
END_TEST

START_TEST(ctx_follows_fork)
{
    /* Placing replicas with hostname anti-affinity one by one: each needs its own node,
     * and the prepared state sees every placement without being rebuilt by the caller. */
    struct model *m = small_cluster();
    struct sim_snapshot *s;
    ck_assert_int_eq(sim_snapshot_new(m, &s), 0);
    struct model_pod *web = model_find_pod(m, "default", "web");
    struct sim_ctx *c;
    ck_assert_int_eq(sim_ctx_new(s, web, &c), 0);
    uint32_t mark = sim_fork(s);
    for (uint32_t i = 0; i < 3; i++) {
        uint32_t n = sim_find(s, c, 0, UINT32_MAX, NULL, NULL);
        ck_assert_uint_eq(n, i);
        ck_assert_int_eq(sim_add_pod(s, web, n), 0);
    }
    ck_assert_uint_eq(sim_find(s, c, 0, UINT32_MAX, NULL, NULL), SIM_NONE);
    uint32_t t;
    ck_assert_int_eq(sim_add_template_node(s, s->nodes[0].src, "new-0", &t), 0);
    ck_assert_uint_eq(sim_find(s, c, 0, UINT32_MAX, NULL, NULL), t);
    char why[200];
    ck_assert_int_eq(sim_check(s, c, 0, why, sizeof(why)), SIM_FAIL_ANTI_AFFINITY);
    sim_revert(s, mark);
    ck_assert_uint_eq(sim_find(s, c, 0, UINT32_MAX, NULL, NULL), 0);
    sim_ctx_free(c);
    sim_snapshot_free(s);
    model_free(m);
}
END_TEST

/* The first node in [0, n) that passes every filter, by checking each one. */
static uint32_t
first_fit_linear(struct sim_snapshot *s, struct sim_ctx *c)
{
    for (uint32_t i = 0; i < s->n_nodes; i++)
        if (sim_check(s, c, i, NULL, 0) == SIM_OK)
            return i;
    return SIM_NONE;
}

START_TEST(incremental_matches_fresh)
{
    /* Contexts prepared once and then kept in sync through the label indexes while pods
     * and template nodes come and go (forks, nested reverts) must decide exactly as
     * contexts prepared afresh, and sim_find (free-capacity index) as a scan of every
     * node. A fixed pseudo-random walk over the shapes of incremental.json. */
    json_error_t jerr;
    json_t *fx = json_load_file(data_path("incremental.json"), 0, &jerr);
    ck_assert_msg(fx != NULL, "%s", jerr.text);
    struct model *m = build_case(fx);
    json_t *shapes = json_object_get(fx, "shapes");
    size_t n_shapes = json_array_size(shapes);
    ck_assert_uint_ge(n_shapes, 5);
    const struct model_pod **pods = calloc(n_shapes, sizeof(*pods));
    size_t i;
    json_t *d;
    json_array_foreach(shapes, i, d)
    {
        json_t *pj = fx_pod(d);
        ck_assert_int_eq(model_upsert(m, pj, NULL), 0);
        json_decref(pj);
        pods[i] = model_find_pod(m, "default", json_string_value(json_object_get(d, "name")));
        ck_assert_ptr_nonnull(pods[i]);
    }
    struct sim_snapshot *s;
    ck_assert_int_eq(sim_snapshot_new(m, &s), 0);
    struct sim_ctx **kept = calloc(n_shapes, sizeof(*kept));
    for (i = 0; i < n_shapes; i++) {
        ck_assert_int_eq(sim_ctx_new(s, pods[i], &kept[i]), 0);
        (void)sim_check(s, kept[i], 0, NULL, 0); /* prepared before any change */
    }
    uint32_t marks[16], n_marks = 0, tmpl_seq = 0, rng = 12345;
    size_t compared = 0, refused = 0;
    for (int step = 0; step < 400; step++) {
        rng = rng * 1103515245u + 12345u;
        uint32_t r = (rng >> 8) % 100;
        if (r < 10 && n_marks < 16) {
            marks[n_marks++] = sim_fork(s);
        } else if (r < 20 && n_marks > 0) {
            uint32_t k = (rng >> 20) % n_marks;
            sim_revert(s, marks[k]);
            n_marks = k;
        } else if (r < 35) {
            char name[32];
            uint32_t t;
            snprintf(name, sizeof(name), "tmpl-%u", tmpl_seq++);
            ck_assert_int_eq(sim_add_template_node(s, s->nodes[(rng >> 16) % 5].src, name, &t),
                             0);
        } else {
            const struct model_pod *p = pods[(rng >> 12) % n_shapes];
            ck_assert_int_eq(sim_add_pod(s, p, (rng >> 18) % s->n_nodes), 0);
        }
        for (i = 0; i < n_shapes; i++) {
            struct sim_ctx *fresh;
            ck_assert_int_eq(sim_ctx_new(s, pods[i], &fresh), 0);
            for (uint32_t n = 0; n < s->n_nodes; n++) {
                char why_k[300] = "", why_f[300] = "";
                int rk = sim_check(s, kept[i], n, why_k, sizeof(why_k));
                int rf = sim_check(s, fresh, n, why_f, sizeof(why_f));
                /* Existing pods' anti-affinity may forbid a node through several
                 * topology keys; which one the sentence names depends on the order the
                 * keys were first met, so only the verdict is compared there. */
                ck_assert_msg(rk == rf &&
                                  (rk == SIM_FAIL_EXISTING_ANTI || strcmp(why_k, why_f) == 0),
                              "step %d, %s on node %u: kept %d (%s), fresh %d (%s)", step,
                              pods[i]->name, n, rk, why_k, rf, why_f);
                compared++;
                refused += rk != SIM_OK;
            }
            ck_assert_uint_eq(sim_find(s, kept[i], 0, UINT32_MAX, NULL, NULL),
                              first_fit_linear(s, fresh));
            uint32_t from = s->n_nodes / 2;
            uint32_t lin = SIM_NONE;
            for (uint32_t n = from; n < s->n_nodes && lin == SIM_NONE; n++)
                if (sim_check(s, fresh, n, NULL, 0) == SIM_OK)
                    lin = n;
            ck_assert_uint_eq(sim_find(s, fresh, from, UINT32_MAX, NULL, NULL), lin);
            sim_ctx_free(fresh);
        }
    }
    /* The walk must have met both outcomes often, or it proves little. */
    ck_assert_uint_gt(refused, compared / 20);
    ck_assert_uint_gt(compared - refused, compared / 20);
    for (i = 0; i < n_shapes; i++)
        sim_ctx_free(kept[i]);
    free(kept);
    free(pods);
    sim_snapshot_free(s);
    model_free(m);
    json_decref(fx);
}
END_TEST

START_TEST(find_skips_full_and_disabled_nodes)
{
    /* The free-capacity index: a full node, a disabled one and a node freed by a revert. */
    struct model *m = small_cluster();
    struct sim_snapshot *s;
    ck_assert_int_eq(sim_snapshot_new(m, &s), 0);
    upsert_pod(m, "{\"name\":\"big\",\"cpu\":\"3\",\"pending\":false}");
    struct model_pod *big = model_find_pod(m, "default", "big");
    struct sim_ctx *c;
    ck_assert_int_eq(sim_ctx_new(s, big, &c), 0);
    ck_assert_uint_eq(sim_find(s, c, 0, UINT32_MAX, NULL, NULL), 0);
    uint32_t mark = sim_fork(s);
    ck_assert_int_eq(sim_add_pod(s, big, 0), 0);
    ck_assert_uint_eq(sim_find(s, c, 0, UINT32_MAX, NULL, NULL), 1);
    ck_assert_int_eq(sim_disable_node(s, 1), 0);
    ck_assert_uint_eq(sim_find(s, c, 0, UINT32_MAX, NULL, NULL), 2);
    ck_assert_uint_eq(sim_find(s, c, 0, 2, NULL, NULL), SIM_NONE);
    ck_assert_int_eq(sim_add_pod(s, big, 2), 0);
    ck_assert_uint_eq(sim_find(s, c, 0, UINT32_MAX, NULL, NULL), SIM_NONE);
    uint32_t t;
    ck_assert_int_eq(sim_add_template_node(s, s->nodes[0].src, "t-0", &t), 0);
    ck_assert_uint_eq(sim_find(s, c, 0, UINT32_MAX, NULL, NULL), t);
    sim_revert(s, mark);
    ck_assert_uint_eq(sim_find(s, c, 1, UINT32_MAX, NULL, NULL), 1);
    ck_assert_uint_eq(sim_find(s, c, 0, UINT32_MAX, NULL, NULL), 0);
    const struct sim_free need = {3000, INT64_MIN, 1};
    ck_assert_uint_eq(sim_next_with_room(s, 1, UINT32_MAX, &need), 1);
    const struct sim_free too_much = {5000, INT64_MIN, 1};
    ck_assert_uint_eq(sim_next_with_room(s, 0, UINT32_MAX, &too_much), SIM_NONE);
    sim_ctx_free(c);
    sim_snapshot_free(s);
    model_free(m);
}
END_TEST

/* Pods the API server bound are summed unchecked: three of 4Ei pass int64. The sum
 * saturates, so the node refuses even one more byte, and removing the pods undoes it. */
START_TEST(huge_requests_saturate)
{
    json_error_t jerr;
    json_t *tc = json_loads(
        "{\"nodes\": [{\"name\": \"n1\", \"alloc\": {\"cpu\": \"4\", \"memory\": \"4Ei\","
        " \"pods\": \"110\"}}],"
        " \"pods\": [{\"name\": \"a\", \"node\": \"n1\", \"mem\": \"4Ei\"},"
        "  {\"name\": \"b\", \"node\": \"n1\", \"mem\": \"4Ei\"},"
        "  {\"name\": \"c\", \"node\": \"n1\", \"mem\": \"4Ei\"},"
        "  {\"name\": \"small\", \"mem\": \"1\"}]}",
        0, &jerr);
    ck_assert_msg(tc != NULL, "%s", jerr.text);
    struct model *m = build_case(tc);
    json_decref(tc);
    struct sim_snapshot *s;
    ck_assert_int_eq(sim_snapshot_new(m, &s), 0);
    ck_assert_uint_eq(s->n_pods, 3);
    ck_assert_int_eq(s->nodes[0].used[RES_MEMORY], INT64_MAX);
    struct sim_ctx *c;
    ck_assert_int_eq(sim_ctx_new(s, model_find_pod(m, "default", "small"), &c), 0);
    char why[200];
    ck_assert_int_eq(sim_check(s, c, 0, why, sizeof(why)), SIM_FAIL_RESOURCES);
    ck_assert_uint_eq(sim_find(s, c, 0, UINT32_MAX, NULL, NULL), SIM_NONE);
    uint32_t mark = sim_fork(s);
    ck_assert_int_eq(sim_remove_pod(s, 0), 0);
    ck_assert_int_eq(s->nodes[0].used[RES_MEMORY], INT64_MAX); /* 8Ei: still past int64 */
    ck_assert_int_eq(sim_remove_pod(s, 1), 0);
    ck_assert_int_eq(s->nodes[0].used[RES_MEMORY], 4611686018427387904LL);
    ck_assert_int_eq(sim_remove_pod(s, 2), 0);
    ck_assert_int_eq(s->nodes[0].used[RES_MEMORY], 0);
    ck_assert_int_eq(sim_check(s, c, 0, NULL, 0), SIM_OK);
    sim_revert(s, mark);
    ck_assert_int_eq(s->nodes[0].used[RES_MEMORY], INT64_MAX);
    ck_assert_int_eq(sim_check(s, c, 0, NULL, 0), SIM_FAIL_RESOURCES);
    sim_ctx_free(c);
    sim_snapshot_free(s);
    model_free(m);
}
END_TEST

START_TEST(format_amounts)
{
    char b[32];
    sim_format_amount(RES_CPU, 1500, b, sizeof(b));
    ck_assert_str_eq(b, "1.5");
    sim_format_amount(RES_CPU, 2000, b, sizeof(b));
    ck_assert_str_eq(b, "2");
    sim_format_amount(RES_CPU, 1, b, sizeof(b));
    ck_assert_str_eq(b, "0.001");
    sim_format_amount(RES_CPU, -250, b, sizeof(b));
    ck_assert_str_eq(b, "-0.25");
    sim_format_amount(RES_MEMORY, 3LL << 30, b, sizeof(b));
    ck_assert_str_eq(b, "3Gi");
    sim_format_amount(RES_MEMORY, 1000, b, sizeof(b));
    ck_assert_str_eq(b, "1000");
}
END_TEST

static Suite *
sim_suite(void)
{
    Suite *s = suite_create("sim");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, filter_table);
    tcase_add_test(tc, kube_minor_parse);
    tcase_add_test(tc, fork_revert_restores);
    tcase_add_test(tc, ctx_follows_fork);
    tcase_add_test(tc, incremental_matches_fresh);
    tcase_add_test(tc, find_skips_full_and_disabled_nodes);
    tcase_add_test(tc, format_amounts);
    tcase_add_test(tc, huge_requests_saturate);
    tcase_add_test(tc, volume_checks_off_said_once);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(sim_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
