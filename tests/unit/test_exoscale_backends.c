/* The sks and instance-pool backends, loaded by the real loader, against the Exoscale
 * emulator: discovery (empty nodepools too), scale from zero, eviction of named members,
 * 429/500 bursts, failed operations and the stand-ins they leave, IAM refusals and calls per
 * refresh. */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "exo.h"
#include "exoscale_emu.h"
#include "plugin/plugin.h"

#define SKS_KEY "EXOsks00000000000000000001"
#define SKS_SECRET "sks-secret-0123456789abcdefghijklmnopqrstu"
#define POOL_KEY "EXOpool0000000000000000001"
#define POOL_SECRET "pool-secret-0123456789abcdefghijklmnopqrst"
#define NP_GENERAL "66666666-7777-8888-9999-000000000001"
#define NP_GPU "66666666-7777-8888-9999-000000000002"
#define POOL_WORKERS "bbbbbbbb-0000-4000-8000-000000000001"
#define POOL_BATCH "bbbbbbbb-0000-4000-8000-000000000002"
#define I_GEN1 "exoscale://10000000-0000-4000-8000-000000000001"
#define I_GEN2 "exoscale://10000000-0000-4000-8000-000000000002"
#define I_WORKER "exoscale://20000000-0000-4000-8000-000000000001"

static struct exo_emu *emu;
static struct plugin *plug;
static struct backend *be;
static struct group_set set;
static char endpoint[64];
static char err[1024];

/* The operations a deploy/iam policy allows: the list in its "operation in [...]" rule. */
static json_t *
policy_ops(const char *file)
{
    char path[1024], list[2048], *p, *tok, *save = NULL;
    const char *expr, *lb, *rb;
    json_error_t je;
    json_t *pol, *ops = json_array();

    snprintf(path, sizeof(path), "%s/../../../deploy/iam/%s", EXO_TEST_DATA, file);
    pol = json_load_file(path, 0, &je);
    ck_assert_msg(pol != NULL, "%s: %s", path, je.text);
    expr = json_string_value(json_object_get(
        json_array_get(
            json_object_get(json_object_get(json_object_get(pol, "services"), "compute"),
                            "rules"),
            0),
        "expression"));
    ck_assert_ptr_nonnull(expr);
    lb = strchr(expr, '[');
    rb = strrchr(expr, ']');
    ck_assert(lb != NULL && rb != NULL && rb > lb);
    snprintf(list, sizeof(list), "%.*s", (int)(rb - lb - 1), lb + 1);
    for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\'')
            tok++;
        p = strchr(tok, '\'');
        if (p != NULL)
            *p = '\0';
        json_array_append_new(ops, json_string(tok));
    }
    json_decref(pol);
    return ops;
}

/* The world of world.json, with the sks and instance-pool keys limited to exactly what
 * the shipped IAM policies allow: every test then proves the policies suffice. */
static json_t *
load_world(void)
{
    json_error_t je;
    json_t *w = json_load_file(EXO_TEST_DATA "/world.json", 0, &je), *creds;

    ck_assert_msg(w != NULL, "world.json: %s", je.text);
    creds = json_object_get(w, "credentials");
    json_object_set_new(json_array_get(creds, 1), "operations",
                        policy_ops("sks-role-policy.json"));
    json_object_set_new(json_array_get(creds, 2), "operations",
                        policy_ops("instance-pool-role-policy.json"));
    return w;
}

static void
emu_setup(void)
{
    struct exo_emu_opts o;
    json_t *w = load_world();

    memset(&o, 0, sizeof(o));
    o.state = w;
    o.op_delay_ms = 50;
    o.boot_delay_ms = 100;
    ck_assert_msg(exo_emu_start(&o, &emu, err, sizeof(err)) == 0, "%s", err);
    json_decref(w);
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u/v2", (unsigned)exo_emu_port(emu));
    memset(&set, 0, sizeof(set));
    plug = NULL;
    be = NULL;
}

static void
emu_teardown(void)
{
    group_set_free(&set);
    backend_destroy(be);
    if (plug != NULL)
        plugin_unload(plug);
    exo_emu_stop(emu);
}

/* Load and create backend `name` with the common options plus extra ones. */
static int
open_backend(const char *name, const char *key, const char *secret,
             const struct nsc_option *extra, size_t n_extra)
{
    struct nsc_option opts[24];
    size_t n = 0, i;

    opts[n++] = (struct nsc_option){"api-key", key};
    opts[n++] = (struct nsc_option){"api-secret", secret};
    opts[n++] = (struct nsc_option){"zone", "ch-gva-2"};
    opts[n++] = (struct nsc_option){"api-endpoint", endpoint};
    opts[n++] = (struct nsc_option){"retry-base-ms", "20"};
    opts[n++] = (struct nsc_option){"operation-poll-interval-ms", "50"};
    for (i = 0; i < n_extra && n < 24; i++)
        opts[n++] = extra[i];
    if (plug == NULL)
        ck_assert_msg(plugin_load(name, &plug, err, sizeof(err)) == NSC_OK, "%s", err);
    return backend_create(plug, opts, n, &be, err, sizeof(err));
}

static int
refresh_read(void)
{
    int rc = backend_refresh(be, err, sizeof(err));

    if (rc < 0)
        return rc;
    group_set_free(&set);
    return backend_read_groups(be, &set, err, sizeof(err));
}

static const struct group_rec *
group(const char *id)
{
    size_t i;

    for (i = 0; i < set.n_groups; i++) {
        if (strcmp(set.groups[i].id, id) == 0)
            return &set.groups[i];
    }
    return NULL;
}

static const struct instance_rec *
instance(const struct group_rec *g, const char *pid)
{
    size_t i;

    for (i = 0; g != NULL && i < g->n_instances; i++) {
        if (strcmp(g->instances[i].provider_id, pid) == 0)
            return &g->instances[i];
    }
    return NULL;
}

/* Refresh until the group has n instances in `state` (or up to 5 s). */
static const struct group_rec *
wait_instances(const char *gid, size_t n, enum nsc_instance_state state)
{
    int tries;

    for (tries = 0; tries < 100; tries++) {
        const struct group_rec *g;
        size_t i, cnt = 0;

        ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
        g = group(gid);
        ck_assert_ptr_nonnull(g);
        for (i = 0; i < g->n_instances; i++)
            cnt += g->instances[i].state == state &&
                   g->instances[i].error_class == NSC_ERROR_CLASS_NONE;
        if (cnt == n && g->n_instances == n)
            return g;
        usleep(50000);
    }
    ck_abort_msg("group %s never reached %zu instances in state %d", gid, n, (int)state);
    return NULL;
}

/* ---- sks ---- */

START_TEST(test_sks_discovers_every_nodepool)
{
    const struct group_rec *gen, *gpu;
    json_t *tpl;

    ck_assert_msg(open_backend("sks", SKS_KEY, SKS_SECRET, NULL, 0) == NSC_OK, "%s", err);
    ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
    ck_assert_int_eq(set.n_groups, 2);
    gen = group(NP_GENERAL);
    gpu = group(NP_GPU);
    ck_assert_ptr_nonnull(gen);
    ck_assert_ptr_nonnull(gpu);
    ck_assert_str_eq(gen->name, "general");
    ck_assert_int_eq(gen->target_size, 2);
    ck_assert_int_eq(gen->min_size, 1);
    ck_assert_int_eq(gen->max_size, 50); /* the instance quota */
    ck_assert_int_eq(gen->n_instances, 2);
    ck_assert_ptr_nonnull(instance(gen, I_GEN1));
    ck_assert_int_eq(instance(gen, I_GEN1)->state, NSC_INSTANCE_RUNNING);
    /* The empty nodepool is a group from the start, with a template to scale from zero. */
    ck_assert_int_eq(gpu->target_size, 0);
    ck_assert_int_eq(gpu->min_size, 0);
    ck_assert_int_eq(gpu->n_instances, 0);
    ck_assert_ptr_nonnull(gpu->template_node_json);
    tpl = json_loads(gpu->template_node_json, 0, NULL);
    ck_assert_ptr_nonnull(tpl);
    ck_assert_str_eq(
        json_string_value(json_object_get(
            json_object_get(json_object_get(tpl, "status"), "capacity"), "nvidia.com/gpu")),
        "1");
    ck_assert_str_eq(
        json_string_value(json_object_get(
            json_object_get(json_object_get(tpl, "status"), "allocatable"), "memory")),
        "60129542144");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(tpl, "metadata"), "labels"),
                         "node.exoscale.net/nodepool-id")),
                     NP_GPU);
    ck_assert_str_eq(
        json_string_value(json_object_get(
            json_object_get(json_object_get(tpl, "metadata"), "labels"), "accelerator")),
        "nvidia");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(tpl, "metadata"), "labels"),
                         "node.kubernetes.io/instance-type")),
                     "gpu3.small");
    ck_assert_str_eq(
        json_string_value(json_object_get(
            json_array_get(json_object_get(json_object_get(tpl, "spec"), "taints"), 0),
            "effect")),
        "NoSchedule");
    json_decref(tpl);
    /* Standalone pools are not nodepools. */
    ck_assert_ptr_null(group(POOL_WORKERS));
}
END_TEST

START_TEST(test_sks_nodes_limits)
{
    struct nsc_option extra[] = {{"nodes", "0:4:gpu"}, {"nodes", "2:9:general"}};

    ck_assert_msg(open_backend("sks", SKS_KEY, SKS_SECRET, extra, 2) == NSC_OK, "%s", err);
    ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
    ck_assert_int_eq(group(NP_GPU)->min_size, 0);
    ck_assert_int_eq(group(NP_GPU)->max_size, 4);
    ck_assert_int_eq(group(NP_GENERAL)->min_size, 2);
    ck_assert_int_eq(group(NP_GENERAL)->max_size, 9);
    /* A malformed spec is refused at create, naming it. */
    backend_destroy(be);
    be = NULL;
    extra[0].value = "1:x:gpu";
    ck_assert_int_eq(open_backend("sks", SKS_KEY, SKS_SECRET, extra, 1), NSC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "nodes=\"1:x:gpu\""));
}
END_TEST

/* What the kubelet keeps is taken off the template's allocatable, not its capacity. */
START_TEST(test_sks_template_reserved)
{
    struct nsc_option extra[] = {{"reserved-cpu-m", "250"}, {"reserved-memory-mib", "1024"}};
    json_t *tpl, *st;

    ck_assert_msg(open_backend("sks", SKS_KEY, SKS_SECRET, extra, 2) == NSC_OK, "%s", err);
    ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
    tpl = json_loads(group(NP_GPU)->template_node_json, 0, NULL);
    ck_assert_ptr_nonnull(tpl);
    st = json_object_get(tpl, "status");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(st, "capacity"), "memory")),
        "60129542144");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(st, "allocatable"), "memory")),
        "59055800320");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(st, "capacity"), "cpu")),
                     "12");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(st, "allocatable"), "cpu")),
        "11750m");
    json_decref(tpl);
    /* A value that is not a count is refused at create, naming the option. */
    backend_destroy(be);
    be = NULL;
    extra[0].value = "1.5";
    ck_assert_int_eq(open_backend("sks", SKS_KEY, SKS_SECRET, extra, 1), NSC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "reserved-cpu-m=\"1.5\""));
}
END_TEST

START_TEST(test_sks_scale_from_zero)
{
    struct nsc_option extra[] = {{"nodes", "0:4:gpu"}};
    const struct group_rec *gpu;
    json_t *snap;

    ck_assert_msg(open_backend("sks", SKS_KEY, SKS_SECRET, extra, 1) == NSC_OK, "%s", err);
    ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
    ck_assert_msg(backend_resize(be, NP_GPU, 2, err, sizeof(err)) == NSC_OK, "%s", err);
    ck_assert_int_eq(exo_emu_calls(emu, "scale-sks-nodepool"), 1);
    /* Accepted at once; the next refresh already reports the new target. */
    ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
    ck_assert_int_eq(group(NP_GPU)->target_size, 2);
    gpu = wait_instances(NP_GPU, 2, NSC_INSTANCE_RUNNING);
    ck_assert_int_eq(gpu->target_size, 2);
    ck_assert_int_eq(exo_emu_calls(emu, "scale-sks-nodepool"), 1);
    ck_assert_msg(
        exo_emu_calls(emu, "get-operation") >= 1, "get-operation %d list %d cluster %d",
        (int)exo_emu_calls(emu, "get-operation"), (int)exo_emu_calls(emu, "list-instances"),
        (int)exo_emu_calls(emu, "get-sks-cluster"));
    snap = exo_emu_snapshot(emu);
    ck_assert_int_eq(json_array_size(json_object_get(snap, "instances")), 5);
    json_decref(snap);
    /* Shrinking through :scale is refused: the cloud would choose the victims. */
    ck_assert_int_eq(backend_resize(be, NP_GPU, 1, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "evict"));
    ck_assert_int_eq(backend_resize(be, NP_GPU, 5, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_int_eq(exo_emu_calls(emu, "scale-sks-nodepool"), 1);
}
END_TEST

START_TEST(test_sks_evict_named)
{
    struct nsc_option extra[] = {{"nodes", "0:9:general"}};
    const char *victim[] = {I_GEN2};
    const char *stranger[] = {I_WORKER};
    const struct group_rec *gen;
    json_t *snap, *inst;
    size_t i;

    ck_assert_msg(open_backend("sks", SKS_KEY, SKS_SECRET, extra, 1) == NSC_OK, "%s", err);
    ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
    /* Not a member: refused before any call. */
    ck_assert_int_eq(backend_evict(be, NP_GENERAL, stranger, 1, err, sizeof(err)),
                     NSC_ERR_INVALID);
    ck_assert_int_eq(exo_emu_calls(emu, "evict-sks-nodepool-members"), 0);
    ck_assert_msg(backend_evict(be, NP_GENERAL, victim, 1, err, sizeof(err)) == NSC_OK, "%s",
                  err);
    ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
    gen = group(NP_GENERAL);
    ck_assert_int_eq(gen->target_size, 1);
    if (instance(gen, I_GEN2) != NULL)
        ck_assert_int_eq(instance(gen, I_GEN2)->state, NSC_INSTANCE_DELETING);
    gen = wait_instances(NP_GENERAL, 1, NSC_INSTANCE_RUNNING);
    ck_assert_ptr_nonnull(instance(gen, I_GEN1));
    ck_assert_int_eq(exo_emu_calls(emu, "evict-sks-nodepool-members"), 1);
    snap = exo_emu_snapshot(emu);
    json_array_foreach(json_object_get(snap, "instances"), i, inst)
        ck_assert_str_ne(json_string_value(json_object_get(inst, "id")), I_GEN2 + 11);
    json_decref(snap);
    /* Going below min is refused. */
    backend_destroy(be);
    be = NULL;
    extra[0].value = "1:9:general";
    victim[0] = I_GEN1;
    ck_assert_msg(open_backend("sks", SKS_KEY, SKS_SECRET, extra, 1) == NSC_OK, "%s", err);
    ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
    ck_assert_int_eq(backend_evict(be, NP_GENERAL, victim, 1, err, sizeof(err)),
                     NSC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "below min"));
}
END_TEST

START_TEST(test_sks_survives_bursts)
{
    json_t *f500 =
        json_pack("{s:s,s:s,s:i}", "operation", "list-instances", "kind", "500", "count", 2);
    json_t *f429 = json_pack("{s:s,s:s,s:i,s:i}", "operation", "get-sks-cluster", "kind", "429",
                             "count", 1, "retry-after", 1);
    json_t *fmany =
        json_pack("{s:s,s:s,s:i}", "operation", "list-instances", "kind", "500", "count", 20);
    uint64_t before;

    ck_assert_msg(open_backend("sks", SKS_KEY, SKS_SECRET, NULL, 0) == NSC_OK, "%s", err);
    ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
    ck_assert_int_eq(exo_emu_add_fault(emu, f500, err, sizeof(err)), 0);
    ck_assert_int_eq(exo_emu_add_fault(emu, f429, err, sizeof(err)), 0);
    before = exo_emu_calls(emu, "list-instances");
    /* Force a re-read of the cluster too, then survive both bursts in one refresh. */
    ck_assert_int_eq(backend_resize(be, NP_GPU, 1, err, sizeof(err)), NSC_OK);
    ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
    ck_assert_int_eq(exo_emu_calls(emu, "list-instances") - before, 3);
    ck_assert_int_ge(exo_emu_calls(emu, "get-sks-cluster"), 2);
    ck_assert_int_eq(set.n_groups, 2);
    /* A storm longer than the retries: refresh fails, the last view stays readable. */
    ck_assert_int_eq(exo_emu_add_fault(emu, fmany, err, sizeof(err)), 0);
    ck_assert_int_eq(backend_refresh(be, err, sizeof(err)), NSC_ERR_TRANSIENT);
    ck_assert_ptr_nonnull(strstr(err, "HTTP 500"));
    group_set_free(&set);
    ck_assert_int_eq(backend_read_groups(be, &set, err, sizeof(err)), NSC_OK);
    ck_assert_int_eq(set.n_groups, 2);
    json_decref(f500);
    json_decref(f429);
    json_decref(fmany);
}
END_TEST

START_TEST(test_sks_failed_operation)
{
    struct nsc_option extra[] = {{"nodes", "0:4:gpu"}};
    json_t *fail = json_pack("{s:s,s:s,s:s,s:s}", "operation", "scale-sks-nodepool", "kind",
                             "fail-operation", "reason", "unavailable", "message",
                             "no hypervisor left for gpu3");
    json_t *quota = json_pack("{s:s,s:s}", "operation", "scale-sks-nodepool", "kind", "quota");
    const struct group_rec *gpu = NULL;
    const struct instance_rec *in;
    int tries;

    ck_assert_msg(open_backend("sks", SKS_KEY, SKS_SECRET, extra, 1) == NSC_OK, "%s", err);
    ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
    ck_assert_int_eq(exo_emu_add_fault(emu, fail, err, sizeof(err)), 0);
    ck_assert_msg(backend_resize(be, NP_GPU, 2, err, sizeof(err)) == NSC_OK, "%s", err);
    for (tries = 0; tries < 100; tries++) {
        ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
        gpu = group(NP_GPU);
        if (gpu->n_instances > 0)
            break;
        usleep(50000);
    }
    ck_assert_int_eq(gpu->n_instances, 2);
    in = &gpu->instances[0];
    ck_assert_int_eq(in->state, NSC_INSTANCE_CREATING);
    ck_assert_int_eq(in->error_class, NSC_ERROR_CLASS_OTHER);
    ck_assert_str_eq(in->error_code, "OPERATION_FAILED");
    ck_assert_ptr_nonnull(strstr(in->error_message, "unavailable"));
    ck_assert_ptr_nonnull(strstr(in->error_message, "no hypervisor left for gpu3"));
    ck_assert_int_eq(gpu->target_size, 0);
    /* A quota refusal is out-of-resources. */
    ck_assert_int_eq(exo_emu_add_fault(emu, quota, err, sizeof(err)), 0);
    ck_assert_msg(backend_resize(be, NP_GPU, 1, err, sizeof(err)) == NSC_OK, "%s", err);
    for (tries = 0; tries < 100; tries++) {
        ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
        gpu = group(NP_GPU);
        if (gpu->n_instances > 0 && gpu->instances[0].error_code != NULL &&
            strcmp(gpu->instances[0].error_code, "QUOTA_EXCEEDED") == 0)
            break;
        usleep(50000);
    }
    ck_assert_int_eq(gpu->n_instances, 1);
    ck_assert_int_eq(gpu->instances[0].error_class, NSC_ERROR_CLASS_OUT_OF_RESOURCES);
    ck_assert_ptr_nonnull(strstr(gpu->instances[0].error_message, "Quota exceeded"));
    json_decref(fail);
    json_decref(quota);
}
END_TEST

START_TEST(test_sks_auth_and_iam)
{
    const char *victim[] = {I_GEN2};
    struct nsc_option extra[] = {{"nodes", "0:9:general"}};

    ck_assert_msg(open_backend("sks", SKS_KEY, "wrong-secret-0000000000000000000000000000",
                               NULL, 0) == NSC_OK,
                  "%s", err);
    ck_assert_int_eq(backend_refresh(be, err, sizeof(err)), NSC_ERR_AUTH);
    ck_assert_ptr_nonnull(strstr(err, "HTTP 403"));
    ck_assert_ptr_nonnull(strstr(err, "signature"));
    ck_assert_ptr_null(strstr(err, "wrong-secret"));
    backend_destroy(be);
    be = NULL;
    ck_assert_msg(open_backend("sks", "EXOnoevict0000000000000001",
                               "noevict-secret-0123456789abcdefghijklmnopq", extra,
                               1) == NSC_OK,
                  "%s", err);
    ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
    ck_assert_int_eq(backend_evict(be, NP_GENERAL, victim, 1, err, sizeof(err)), NSC_ERR_AUTH);
    ck_assert_ptr_nonnull(strstr(err, "evict-sks-nodepool-members"));
}
END_TEST

START_TEST(test_sks_steady_state_calls)
{
    uint64_t before;
    int i;

    ck_assert_msg(open_backend("sks", SKS_KEY, SKS_SECRET, NULL, 0) == NSC_OK, "%s", err);
    ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
    before = exo_emu_calls(emu, NULL);
    for (i = 0; i < 5; i++)
        ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
    /* One list-instances per loop; the cluster is re-read only when stale or changed. */
    ck_assert_int_eq(exo_emu_calls(emu, NULL) - before, 5);
}
END_TEST

START_TEST(test_sks_group_for_node)
{
    struct group_set one;

    memset(&one, 0, sizeof(one));
    ck_assert_msg(open_backend("sks", SKS_KEY, SKS_SECRET, NULL, 0) == NSC_OK, "%s", err);
    ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
    ck_assert_int_eq(backend_group_for_node(be, I_GEN1, &one, err, sizeof(err)), NSC_OK);
    ck_assert_int_eq(one.n_groups, 1);
    ck_assert_str_eq(one.groups[0].id, NP_GENERAL);
    group_set_free(&one);
    /* A standalone pool's instance is not ours; the answer is remembered. */
    ck_assert_int_eq(backend_group_for_node(be, I_WORKER, &one, err, sizeof(err)),
                     NSC_ERR_NOT_FOUND);
    ck_assert_int_eq(exo_emu_calls(emu, "get-instance"), 1);
    ck_assert_int_eq(backend_group_for_node(be, I_WORKER, &one, err, sizeof(err)),
                     NSC_ERR_NOT_FOUND);
    ck_assert_int_eq(exo_emu_calls(emu, "get-instance"), 1);
    group_set_free(&one);
}
END_TEST

/* ---- instance-pool ---- */

START_TEST(test_pool_discover_scale_evict)
{
    struct nsc_option extra[] = {{"nodes", "0:5:batch"}, {"nodes", "0:5:workers"}};
    const char *victim[] = {I_WORKER};
    const struct group_rec *batch;

    ck_assert_msg(open_backend("instance-pool", POOL_KEY, POOL_SECRET, extra, 2) == NSC_OK,
                  "%s", err);
    ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
    /* Both standalone pools (one empty), none of the SKS-managed ones. */
    ck_assert_int_eq(set.n_groups, 2);
    ck_assert_ptr_nonnull(group(POOL_WORKERS));
    batch = group(POOL_BATCH);
    ck_assert_ptr_nonnull(batch);
    ck_assert_int_eq(batch->target_size, 0);
    ck_assert_ptr_nonnull(batch->template_node_json);
    ck_assert_ptr_null(strstr(batch->template_node_json, "nodepool-id"));
    ck_assert_msg(backend_resize(be, POOL_BATCH, 1, err, sizeof(err)) == NSC_OK, "%s", err);
    wait_instances(POOL_BATCH, 1, NSC_INSTANCE_RUNNING);
    ck_assert_int_eq(exo_emu_calls(emu, "scale-instance-pool"), 1);
    ck_assert_msg(backend_evict(be, POOL_WORKERS, victim, 1, err, sizeof(err)) == NSC_OK, "%s",
                  err);
    wait_instances(POOL_WORKERS, 0, NSC_INSTANCE_RUNNING);
    ck_assert_int_eq(group(POOL_WORKERS)->target_size, 0);
    ck_assert_int_eq(exo_emu_calls(emu, "evict-instance-pool-members"), 1);
}
END_TEST

/* A failed scale-up leaves stand-ins for the machines never made. Removing them, as the
 * core does for failed instances, costs no call and leaves exactly the cloud's members:
 * a refused removal would be tried again every loop, each time refused. */
START_TEST(test_pool_failed_scale_standins_removed)
{
    struct nsc_option extra[] = {{"nodes", "0:5:workers"}};
    json_t *fail = json_pack("{s:s,s:s,s:s}", "operation", "scale-instance-pool", "kind",
                             "fail-operation", "message", "no capacity for standard.medium");
    char standin[2][128], real_pid[128] = "";
    const struct group_rec *w = NULL;
    const char *ids[2];
    size_t i, n_standins = 0;
    int tries;

    ck_assert_msg(open_backend("instance-pool", POOL_KEY, POOL_SECRET, extra, 1) == NSC_OK,
                  "%s", err);
    ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
    ck_assert_int_eq(exo_emu_add_fault(emu, fail, err, sizeof(err)), 0);
    ck_assert_msg(backend_resize(be, POOL_WORKERS, 3, err, sizeof(err)) == NSC_OK, "%s", err);
    for (tries = 0; tries < 100; tries++) {
        ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
        w = group(POOL_WORKERS);
        if (w->n_instances == 3)
            break;
        usleep(50000);
    }
    ck_assert_int_eq(w->n_instances, 3);
    ck_assert_int_eq(w->target_size, 1);
    for (i = 0; i < w->n_instances; i++) {
        if (w->instances[i].error_class == NSC_ERROR_CLASS_NONE)
            snprintf(real_pid, sizeof(real_pid), "%s", w->instances[i].provider_id);
        else if (n_standins < 2)
            snprintf(standin[n_standins++], sizeof(standin[0]), "%s",
                     w->instances[i].provider_id);
    }
    ck_assert_int_eq(n_standins, 2);
    ck_assert_str_eq(real_pid, I_WORKER);
    /* One at a time, as the core removes them, then a stand-in no longer reported. */
    ids[0] = standin[0];
    ck_assert_msg(backend_evict(be, POOL_WORKERS, ids, 1, err, sizeof(err)) == NSC_OK, "%s",
                  err);
    ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
    w = group(POOL_WORKERS);
    ck_assert_int_eq(w->n_instances, 2);
    ids[0] = standin[0];
    ids[1] = standin[1];
    ck_assert_int_eq(backend_evict(be, POOL_WORKERS, ids, 2, err, sizeof(err)),
                     NSC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "not one of its instances"));
    ids[0] = w->instances[0].error_class != NSC_ERROR_CLASS_NONE ? w->instances[0].provider_id
                                                                 : w->instances[1].provider_id;
    ck_assert_msg(backend_evict(be, POOL_WORKERS, ids, 1, err, sizeof(err)) == NSC_OK, "%s",
                  err);
    ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
    w = group(POOL_WORKERS);
    ck_assert_int_eq(w->n_instances, 1);
    ck_assert_str_eq(w->instances[0].provider_id, I_WORKER);
    ck_assert_int_eq(w->instances[0].error_class, NSC_ERROR_CLASS_NONE);
    ck_assert_int_eq(w->target_size, 1);
    /* The cloud was never asked to remove anything, and its machine is still there. */
    ck_assert_int_eq(exo_emu_calls(emu, "evict-instance-pool-members"), 0);
    json_decref(fail);
}
END_TEST

START_TEST(test_pool_named_only)
{
    struct nsc_option extra[] = {{"pools", "batch"}};

    ck_assert_msg(open_backend("instance-pool", POOL_KEY, POOL_SECRET, extra, 1) == NSC_OK,
                  "%s", err);
    ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
    ck_assert_int_eq(set.n_groups, 1);
    ck_assert_ptr_nonnull(group(POOL_BATCH));
    /* The default limits: min 1 clamped to the empty pool's 0, max from the quota. */
    ck_assert_int_eq(group(POOL_BATCH)->min_size, 0);
    ck_assert_int_eq(group(POOL_BATCH)->max_size, 50);
}
END_TEST

/* A misspelt or foreign key is refused at create, naming it, not silently ignored. */
START_TEST(test_unknown_option_keys_refused)
{
    static const struct {
        const char *backend, *key, *secret, *bad;
    } cases[] = {{"sks", SKS_KEY, SKS_SECRET, "retry-budget"},
                 {"sks", SKS_KEY, SKS_SECRET, "pools"},
                 {"instance-pool", POOL_KEY, POOL_SECRET, "cluster"},
                 {"instance-pool", POOL_KEY, POOL_SECRET, "no-such-option"}};
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct nsc_option extra[] = {{cases[i].bad, "1"}};

        if (plug != NULL)
            plugin_unload(plug);
        plug = NULL;
        ck_assert_int_eq(
            open_backend(cases[i].backend, cases[i].key, cases[i].secret, extra, 1),
            NSC_ERR_INVALID);
        ck_assert_msg(strstr(err, cases[i].bad) != NULL && strstr(err, "unknown option"),
                      "%s: %s", cases[i].backend, err);
        ck_assert_ptr_null(strstr(err, cases[i].secret));
    }
    /* Every key the backends document is still accepted. */
    {
        struct nsc_option extra[] = {
            {"pools", "batch"}, {"pool", "workers"}, {"default-min", "1"}, {"max-pods", "50"}};

        if (plug != NULL)
            plugin_unload(plug);
        plug = NULL;
        ck_assert_msg(open_backend("instance-pool", POOL_KEY, POOL_SECRET, extra, 4) == NSC_OK,
                      "%s", err);
    }
}
END_TEST

/* A pool reported at min 0 (below the default min 1) keeps min 0 once grown, so that
 * the core may take it back to 0 with evict. */
START_TEST(test_pool_min_stays_after_growth)
{
    const struct group_rec *batch;
    const char *victim[1];

    ck_assert_msg(open_backend("instance-pool", POOL_KEY, POOL_SECRET, NULL, 0) == NSC_OK, "%s",
                  err);
    ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
    ck_assert_int_eq(group(POOL_BATCH)->min_size, 0);
    ck_assert_msg(backend_resize(be, POOL_BATCH, 1, err, sizeof(err)) == NSC_OK, "%s", err);
    batch = wait_instances(POOL_BATCH, 1, NSC_INSTANCE_RUNNING);
    ck_assert_int_eq(batch->target_size, 1);
    ck_assert_int_eq(batch->min_size, 0);
    victim[0] = batch->instances[0].provider_id;
    ck_assert_msg(backend_evict(be, POOL_BATCH, victim, 1, err, sizeof(err)) == NSC_OK, "%s",
                  err);
    wait_instances(POOL_BATCH, 0, NSC_INSTANCE_RUNNING);
    ck_assert_int_eq(group(POOL_BATCH)->target_size, 0);
    ck_assert_int_eq(group(POOL_BATCH)->min_size, 0);
    /* A pool that was at its default min all along keeps min 1. */
    ck_assert_int_eq(group(POOL_WORKERS)->min_size, 1);
}
END_TEST

START_TEST(test_config_errors_name_variable)
{
    struct nsc_option opts[] = {{"api-key", SKS_KEY}, {"api-secret", SKS_SECRET}};

    ck_assert_int_eq(plugin_load("sks", &plug, err, sizeof(err)), NSC_OK);
    unsetenv("EXOSCALE_ZONE");
    ck_assert_int_eq(backend_create(plug, opts, 2, &be, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "EXOSCALE_ZONE"));
    ck_assert_ptr_null(strstr(err, SKS_SECRET));
}
END_TEST

START_TEST(test_slow_api_fails_within_bound)
{
    struct nsc_option extra[] = {{"request-timeout-ms", "400"}, {"retry-budget-ms", "400"}};
    json_t *slow = json_pack("{s:s,s:s,s:i,s:i}", "operation", "list-instances", "kind", "slow",
                             "count", 10, "delay-ms", 2000);
    struct timespec t0, t1;
    int64_t took_ms;
    int rc;

    ck_assert_msg(open_backend("sks", SKS_KEY, SKS_SECRET, extra, 2) == NSC_OK, "%s", err);
    ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
    ck_assert_int_eq(exo_emu_add_fault(emu, slow, err, sizeof(err)), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = backend_refresh(be, err, sizeof(err));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    took_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    ck_assert_int_eq(rc, NSC_ERR_TRANSIENT);
    /* request-timeout-ms + retry-budget-ms for the whole call, attempts and back-off
     * together (each attempt alone could take 400 ms, five of them 2 s), plus slack for
     * a loaded machine. */
    ck_assert_msg(took_ms < 1300, "refresh took %lld ms", (long long)took_ms);
    ck_assert_msg(strstr(err, "list") != NULL || strstr(err, "instance") != NULL, "%s", err);
    json_decref(slow);
}
END_TEST

START_TEST(test_time_options_range_checked)
{
    static const struct {
        const char *key, *value;
    } bad[] = {{"request-timeout-ms", "99"},
               {"request-timeout-ms", "600000"},
               {"retry-budget-ms", "-1"},
               {"retry-budget-ms", "600000"},
               {"retries", "11"}};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct nsc_option extra[] = {{bad[i].key, bad[i].value}};

        ck_assert_int_eq(open_backend("sks", SKS_KEY, SKS_SECRET, extra, 1), NSC_ERR_INVALID);
        ck_assert_msg(strstr(err, bad[i].key) != NULL, "%s", err);
    }
}
END_TEST

/* ---- the emulator itself ---- */

static size_t
collect(char *p, size_t sz, size_t n, void *u)
{
    size_t used = strlen((char *)u), len = sz * n;

    if (used + len >= 4096)
        len = 4096 - used - 1;
    memcpy((char *)u + used, p, len);
    ((char *)u)[used + len] = '\0';
    return sz * n;
}

/* One raw request; auth NULL sends none. Returns the status, the body in out (4 KiB). */
static long
raw(const char *method, const char *path, const char *query, const char *body, const char *auth,
    char *out)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char url[512], hdr[600];
    long status = 0;

    out[0] = '\0';
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s%s%s", (unsigned)exo_emu_port(emu), path,
             query ? "?" : "", query ? query : "");
    if (auth != NULL) {
        snprintf(hdr, sizeof(hdr), "Authorization: %s", auth);
        h = curl_slist_append(h, hdr);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    if (body != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static char *
signed_auth(const char *key, const char *secret, const char *method, const char *path,
            const char *query, const char *body, int64_t expires)
{
    char *auth = NULL;

    ck_assert_int_eq(exo_sign(key, secret, method, path, query, body, body ? strlen(body) : 0,
                              expires, &auth),
                     NSC_OK);
    return auth;
}

START_TEST(test_emu_verifies_signatures)
{
    int64_t later = (int64_t)time(NULL) + 600;
    char out[4096], *a;

    ck_assert_int_eq(raw("GET", "/v2/zone", NULL, NULL, NULL, out), 200);
    ck_assert_int_eq(raw("GET", "/v2/instance-pool", NULL, NULL, NULL, out), 401);
    a = signed_auth(POOL_KEY, POOL_SECRET, "GET", "/v2/instance-pool", NULL, NULL, later);
    ck_assert_int_eq(raw("GET", "/v2/instance-pool", NULL, NULL, a, out), 200);
    ck_assert_ptr_nonnull(strstr(out, "\"instance-pools\""));
    /* The same header on another path is a wrong signature. */
    ck_assert_int_eq(raw("GET", "/v2/instance", NULL, NULL, a, out), 403);
    ck_assert_ptr_nonnull(strstr(out, "signature"));
    free(a);
    a = signed_auth(POOL_KEY, POOL_SECRET, "GET", "/v2/instance-pool", NULL, NULL,
                    (int64_t)time(NULL) - 5);
    ck_assert_int_eq(raw("GET", "/v2/instance-pool", NULL, NULL, a, out), 403);
    ck_assert_ptr_nonnull(strstr(out, "expired"));
    free(a);
    /* Query arguments are signed: changing one breaks the signature. */
    a = signed_auth(POOL_KEY, POOL_SECRET, "GET", "/v2/instance", "manager-type=instance-pool",
                    NULL, later);
    ck_assert_int_eq(raw("GET", "/v2/instance", "manager-type=instance-pool", NULL, a, out),
                     200);
    ck_assert_int_eq(raw("GET", "/v2/instance", "manager-type=sks-nodepool", NULL, a, out),
                     403);
    free(a);
    /* The body is signed too. */
    a = signed_auth(POOL_KEY, POOL_SECRET, "PUT", "/v2/instance-pool/" POOL_BATCH ":scale",
                    NULL, "{\"size\":1}", later);
    ck_assert_int_eq(
        raw("PUT", "/v2/instance-pool/" POOL_BATCH ":scale", NULL, "{\"size\":2}", a, out),
        403);
    ck_assert_int_eq(
        raw("PUT", "/v2/instance-pool/" POOL_BATCH ":scale", NULL, "{\"size\":1}", a, out),
        200);
    ck_assert_ptr_nonnull(strstr(out, "\"pending\""));
    free(a);
    /* IAM: the pool key may not touch SKS. */
    a = signed_auth(POOL_KEY, POOL_SECRET, "GET", "/v2/sks-cluster", NULL, NULL, later);
    ck_assert_int_eq(raw("GET", "/v2/sks-cluster", NULL, NULL, a, out), 403);
    ck_assert_ptr_nonnull(strstr(out, "list-sks-clusters"));
    free(a);
    ck_assert_int_eq(raw("GET", "/_emu/calls", NULL, NULL, NULL, out), 200);
    ck_assert_ptr_nonnull(strstr(out, "\"list-sks-clusters\":1"));
    ck_assert_int_eq(exo_emu_calls(emu, "list-instance-pools"), 3);
}
END_TEST

START_TEST(test_emu_refuses_bad_requests)
{
    int64_t later = (int64_t)time(NULL) + 600;
    char out[4096], *a;

    a = signed_auth(POOL_KEY, POOL_SECRET, "PUT", "/v2/instance-pool/" POOL_WORKERS ":evict",
                    NULL, "{\"instances\":[\"10000000-0000-4000-8000-000000000001\"]}", later);
    ck_assert_int_eq(raw("PUT", "/v2/instance-pool/" POOL_WORKERS ":evict", NULL,
                         "{\"instances\":[\"10000000-0000-4000-8000-000000000001\"]}", a, out),
                     400);
    ck_assert_ptr_nonnull(strstr(out, "not a member"));
    free(a);
    a = signed_auth(POOL_KEY, POOL_SECRET, "PUT", "/v2/instance-pool/" POOL_BATCH ":scale",
                    NULL, "{\"size\":-1}", later);
    ck_assert_int_eq(
        raw("PUT", "/v2/instance-pool/" POOL_BATCH ":scale", NULL, "{\"size\":-1}", a, out),
        400);
    free(a);
    /* An SKS-managed pool is operated through its nodepool. */
    a = signed_auth("EXOadmin0000000000000000001", "admin-secret-0123456789abcdefghijklmnopqrs",
                    "PUT", "/v2/instance-pool/aaaaaaaa-bbbb-cccc-dddd-000000000001:scale", NULL,
                    "{\"size\":3}", later);
    ck_assert_int_eq(raw("PUT", "/v2/instance-pool/aaaaaaaa-bbbb-cccc-dddd-000000000001:scale",
                         NULL, "{\"size\":3}", a, out),
                     403);
    free(a);
    ck_assert_int_eq(raw("GET", "/v2/nothing-here", NULL, NULL, NULL, out), 404);
}
END_TEST

/* ---- the kube half: Nodes in a kube-apiserver (the kube emulator) ---- */

static pid_t kube_pid;
static char kube_url[64];

static long
kube_get(const char *path, char *out)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer exo-test-token");
    char url[256];
    long status = 0;

    out[0] = '\0';
    snprintf(url, sizeof(url), "%s%s", kube_url, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static void
kube_setup(void)
{
    const char *top = getenv("top_builddir");
    char bin[512], port_file[] = "/tmp/exo-kube-port-XXXXXX", portbuf[16] = "";
    struct exo_emu_opts o;
    json_t *w;
    int fd = mkstemp(port_file), tries;

    ck_assert_int_ge(fd, 0);
    close(fd);
    unlink(port_file);
    snprintf(bin, sizeof(bin), "%s/tests/emulator/kube-emulator", top ? top : ".");
    ck_assert_msg(access(bin, X_OK) == 0, "%s is not built", bin);
    kube_pid = fork();
    if (kube_pid == 0) {
        char pf[64];

        snprintf(pf, sizeof(pf), "--port-file=%s", port_file);
        execl(bin, bin, pf, "--token=exo-test-token", (char *)NULL);
        _exit(127);
    }
    for (tries = 0; tries < 100 && portbuf[0] == '\0'; tries++) {
        FILE *f = fopen(port_file, "r");

        if (f != NULL) {
            if (fgets(portbuf, sizeof(portbuf), f) == NULL)
                portbuf[0] = '\0';
            fclose(f);
        }
        if (portbuf[0] == '\0')
            usleep(50000);
    }
    unlink(port_file);
    ck_assert_msg(portbuf[0] != '\0', "kube-emulator did not start");
    snprintf(kube_url, sizeof(kube_url), "http://127.0.0.1:%d", atoi(portbuf));
    w = load_world();
    memset(&o, 0, sizeof(o));
    o.state = w;
    o.op_delay_ms = 20;
    o.boot_delay_ms = 50;
    o.node_ready_delay_ms = 200;
    o.kube_url = kube_url;
    o.kube_token = "exo-test-token";
    ck_assert_msg(exo_emu_start(&o, &emu, err, sizeof(err)) == 0, "%s", err);
    json_decref(w);
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u/v2", (unsigned)exo_emu_port(emu));
    memset(&set, 0, sizeof(set));
    plug = NULL;
    be = NULL;
}

static void
kube_teardown(void)
{
    emu_teardown();
    if (kube_pid > 0) {
        kill(kube_pid, SIGTERM);
        waitpid(kube_pid, NULL, 0);
    }
}

/* Wait until GET path answers with status and a body containing (or not) text. */
static void
kube_wait(const char *path, long status, const char *text, int present)
{
    static char out[65536];
    int tries;

    for (tries = 0; tries < 100; tries++) {
        long st = kube_get(path, out);

        if (st == status && (text == NULL || (strstr(out, text) != NULL) == present))
            return;
        usleep(50000);
    }
    ck_abort_msg("GET %s never gave %ld %s '%s'; last: %.300s", path, status,
                 present ? "with" : "without", text ? text : "", out);
}

START_TEST(test_kube_nodes_follow_instances)
{
    struct nsc_option extra[] = {{"nodes", "0:4:gpu"}, {"nodes", "0:4:general"}};
    const char *victim[] = {I_GEN2};
    const struct group_rec *gpu;
    char path[128], out[4096];
    json_t *node;

    /* The world's running instances become Nodes. */
    kube_wait("/api/v1/nodes/pool-10000000-0002", 200,
              "exoscale://10000000-0000-4000-8000-000000000002", 1);
    ck_assert_msg(open_backend("sks", SKS_KEY, SKS_SECRET, extra, 2) == NSC_OK, "%s", err);
    ck_assert_msg(refresh_read() == NSC_OK, "%s", err);
    ck_assert_msg(backend_resize(be, NP_GPU, 1, err, sizeof(err)) == NSC_OK, "%s", err);
    gpu = wait_instances(NP_GPU, 1, NSC_INSTANCE_RUNNING);
    /* Node name: the instance prefix and the two ends of its id. */
    snprintf(path, sizeof(path), "/api/v1/nodes/pool-%.8s-%.4s",
             gpu->instances[0].provider_id + 11, gpu->instances[0].provider_id + 11 + 32);
    kube_wait(path, 200, "\"nvidia.com/gpu\"", 1);
    ck_assert_int_eq(kube_get(path, out), 200);
    node = json_loads(out, 0, NULL);
    ck_assert_ptr_nonnull(node);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(node, "spec"), "providerID")),
        gpu->instances[0].provider_id);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(node, "metadata"), "labels"),
                         "node.exoscale.net/nodepool-id")),
                     NP_GPU);
    json_decref(node);
    kube_wait(path, 200, "\"KubeletReady\"", 1);
    /* Evicting an instance removes its Node. */
    ck_assert_msg(backend_evict(be, NP_GENERAL, victim, 1, err, sizeof(err)) == NSC_OK, "%s",
                  err);
    kube_wait("/api/v1/nodes/pool-10000000-0002", 404, NULL, 1);
    kube_wait("/api/v1/nodes/pool-10000000-0001", 200, NULL, 1);
}
END_TEST

static Suite *
backends_suite(void)
{
    Suite *s = suite_create("exoscale-backends");
    TCase *tc = tcase_create("sks");

    tcase_add_checked_fixture(tc, emu_setup, emu_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_sks_discovers_every_nodepool);
    tcase_add_test(tc, test_sks_nodes_limits);
    tcase_add_test(tc, test_sks_template_reserved);
    tcase_add_test(tc, test_sks_scale_from_zero);
    tcase_add_test(tc, test_sks_evict_named);
    tcase_add_test(tc, test_sks_survives_bursts);
    tcase_add_test(tc, test_sks_failed_operation);
    tcase_add_test(tc, test_sks_auth_and_iam);
    tcase_add_test(tc, test_sks_steady_state_calls);
    tcase_add_test(tc, test_sks_group_for_node);
    suite_add_tcase(s, tc);
    tc = tcase_create("instance-pool");
    tcase_add_checked_fixture(tc, emu_setup, emu_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_pool_discover_scale_evict);
    tcase_add_test(tc, test_pool_failed_scale_standins_removed);
    tcase_add_test(tc, test_pool_named_only);
    tcase_add_test(tc, test_config_errors_name_variable);
    tcase_add_test(tc, test_unknown_option_keys_refused);
    tcase_add_test(tc, test_pool_min_stays_after_growth);
    tcase_add_test(tc, test_slow_api_fails_within_bound);
    tcase_add_test(tc, test_time_options_range_checked);
    suite_add_tcase(s, tc);
    tc = tcase_create("emulator");
    tcase_add_checked_fixture(tc, emu_setup, emu_teardown);
    tcase_add_test(tc, test_emu_verifies_signatures);
    tcase_add_test(tc, test_emu_refuses_bad_requests);
    suite_add_tcase(s, tc);
    tc = tcase_create("kube");
    tcase_add_checked_fixture(tc, kube_setup, kube_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_kube_nodes_follow_instances);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(backends_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
