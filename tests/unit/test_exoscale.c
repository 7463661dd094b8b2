/* Unit tests of the Exoscale API client: the signing vectors, configuration rules,
 * tolerant parsing of spec-shaped objects, error bodies and retries on a fake clock. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "exo.h"
#include "exo_fake_host.h"

#define NOW_MS 1700000000000LL

/* Outside a test (when the suite is built) a broken fixture ends the program. */
static json_t *
load_fixture_raw(const char *name)
{
    char path[1024];
    json_error_t e;
    json_t *j;

    snprintf(path, sizeof(path), "%s/%s", EXO_TEST_DATA, name);
    j = json_load_file(path, 0, &e);
    if (j == NULL) {
        fprintf(stderr, "%s: %s (line %d)\n", path, e.text, e.line);
        exit(2);
    }
    return j;
}

static json_t *
load_fixture(const char *name)
{
    json_t *j = load_fixture_raw(name);

    ck_assert_ptr_nonnull(j);
    return j;
}

/* ---- signing ---- */

START_TEST(test_sign_vectors)
{
    json_t *root = load_fixture("sign-vectors.json");
    json_t *vecs = json_object_get(root, "vectors");
    json_t *v = json_array_get(vecs, (size_t)_i);
    const char *body = json_string_value(json_object_get(v, "body"));
    const char *query = json_string_value(json_object_get(v, "query"));
    char *msg = NULL, *names = NULL, *auth = NULL;
    int64_t exp = json_integer_value(json_object_get(v, "expires"));

    ck_assert_int_eq(json_array_size(vecs), 8);
    ck_assert_int_eq(exo_sign_message(json_string_value(json_object_get(v, "method")),
                                      json_string_value(json_object_get(v, "path")), query,
                                      body, body ? strlen(body) : 0, exp, &msg, &names),
                     NSC_OK);
    ck_assert_str_eq(msg, json_string_value(json_object_get(v, "message")));
    ck_assert_int_eq(exo_sign(json_string_value(json_object_get(v, "key")),
                              json_string_value(json_object_get(v, "secret")),
                              json_string_value(json_object_get(v, "method")),
                              json_string_value(json_object_get(v, "path")), query, body,
                              body ? strlen(body) : 0, exp, &auth),
                     NSC_OK);
    ck_assert_msg(strcmp(auth, json_string_value(json_object_get(v, "authorization"))) == 0,
                  "vector %s: got %s", json_string_value(json_object_get(v, "name")), auth);
    free(msg);
    free(names);
    free(auth);
    json_decref(root);
}
END_TEST

START_TEST(test_sign_query_edges)
{
    char *msg = NULL, *names = NULL;

    /* Repeated names are left out (egoscale), an empty value counts as "". */
    ck_assert_int_eq(
        exo_sign_message("GET", "/v2/x", "c=1&b=&c=2&a=%41%2B+z", NULL, 0, 5, &msg, &names),
        NSC_OK);
    ck_assert_str_eq(msg, "GET /v2/x\n\nA+ z\n\n5");
    ck_assert_str_eq(names, "a;b");
    free(msg);
    free(names);
    ck_assert_int_eq(exo_sign_message("GET", "/v2/x", "a=%4", NULL, 0, 5, &msg, &names),
                     NSC_ERR_INVALID);
    ck_assert_int_eq(exo_sign_message("GET", "/v2/x", "a=%zz", NULL, 0, 5, &msg, &names),
                     NSC_ERR_INVALID);
    ck_assert_ptr_null(msg);
}
END_TEST

/* ---- configuration ---- */

static struct fake_host fh;
static struct exo_config cfg;
static char err[512];

static void
cfg_setup(void)
{
    fake_host_init(&fh, NOW_MS);
    memset(&cfg, 0, sizeof(cfg));
    err[0] = '\0';
}

static void
cfg_teardown(void)
{
    exo_config_clear(&cfg);
}

static void
good_creds(void)
{
    fake_host_opt(&fh, "api-key", "EXO0123456789abcdef01234567");
    fake_host_opt(&fh, "api-secret", "s3cr3t-value-not-for-logs");
    fake_host_opt(&fh, "zone", "ch-gva-2");
}

START_TEST(test_config_default_url)
{
    good_creds();
    ck_assert_int_eq(exo_config_load(&fh.host, &cfg, err, sizeof(err)), NSC_OK);
    ck_assert_str_eq(cfg.base_url, "https://api-ch-gva-2.exoscale.com/v2");
    ck_assert_str_eq(fh.redacted[0], "s3cr3t-value-not-for-logs");
    ck_assert(!cfg.plain_http);
}
END_TEST

START_TEST(test_config_environment)
{
    good_creds();
    fake_host_opt(&fh, "api-environment", "ppapi");
    ck_assert_int_eq(exo_config_load(&fh.host, &cfg, err, sizeof(err)), NSC_OK);
    ck_assert_str_eq(cfg.base_url, "https://ppapi-ch-gva-2.exoscale.com/v2");
}
END_TEST

static const struct {
    const char *key, *value, *base, *err_part;
} endpoint_cases[] = {
    {"api-endpoint", "https://api.example.net/v2/", "https://api.example.net/v2", NULL},
    {"api-endpoint", "https://api.example.net", "https://api.example.net/v2", NULL},
    {"api-endpoint", "http://127.0.0.1:8080/v2", "http://127.0.0.1:8080/v2", NULL},
    {"api-endpoint", "http://[::1]:8080", "http://[::1]:8080/v2", NULL},
    {"api-endpoint", "http://127.1.2.3:1/custom", "http://127.1.2.3:1/custom", NULL},
    {"api-endpoint", "http://[0:0:0:0:0:0:0:1]/v2", "http://[0:0:0:0:0:0:0:1]/v2", NULL},
    {"api-endpoint", "https://localhost:8443/v2", "https://localhost:8443/v2", NULL},
    {"api-endpoint", "http://10.0.0.1/v2", NULL, "plain http is allowed only for a loopback"},
    {"api-endpoint", "http://127.0.0.1.evil.com/v2", NULL, "loopback"},
    /* Looks like 127.0.0.0/8 to the eye, but a resolver would be asked. */
    {"api-endpoint", "http://127.999.1.1/v2", NULL, "loopback IP literal"},
    {"api-endpoint", "http://127.0.0.1.10.255.255.1/v2", NULL, "loopback IP literal"},
    {"api-endpoint", "http://127.1/v2", NULL, "loopback IP literal"},
    {"api-endpoint", "http://127.0.0.01/v2", NULL, "loopback IP literal"},
    {"api-endpoint", "http://0x7f.0.0.1/v2", NULL, "loopback IP literal"},
    {"api-endpoint", "http://localhost:1/custom", NULL, "not a name such as localhost"},
    {"api-endpoint", "http://[::2]/v2", NULL, "loopback IP literal"},
    {"api-endpoint", "http://[::ffff:127.0.0.1]/v2", NULL, "loopback IP literal"},
    {"api-endpoint", "http://[::1/v2", NULL, "unclosed"},
    {"api-endpoint", "http://127.0.0.1:99999/v2", NULL, "malformed port"},
    {"api-endpoint", "http://127.0.0.1:80x/v2", NULL, "malformed port"},
    {"api-endpoint", "http://[::1]x/v2", NULL, "malformed port"},
    {"api-endpoint", "ftp://x/v2", NULL, "not an https:// URL"},
    {"api-endpoint", "https://user@host/v2", NULL, "plain base URL"},
    {"api-endpoint", "https:///v2", NULL, "no host"},
    {"zone", "ch gva", NULL, "EXOSCALE_ZONE"},
    {"api-environment", "a/b", NULL, "EXOSCALE_API_ENVIRONMENT"},
    {"ca-file", "/nonexistent/ca.pem", NULL, "ca-file"},
};

START_TEST(test_config_endpoint)
{
    fake_host_opt(&fh, endpoint_cases[_i].key, endpoint_cases[_i].value);
    good_creds();
    if (endpoint_cases[_i].base != NULL) {
        ck_assert_msg(exo_config_load(&fh.host, &cfg, err, sizeof(err)) == NSC_OK, "%s", err);
        ck_assert_str_eq(cfg.base_url, endpoint_cases[_i].base);
        if (strncmp(endpoint_cases[_i].base, "http:", 5) == 0) {
            ck_assert(cfg.plain_http);
            ck_assert_ptr_nonnull(strstr(fh.log, "plain http"));
        }
    } else {
        ck_assert_int_eq(exo_config_load(&fh.host, &cfg, err, sizeof(err)), NSC_ERR_INVALID);
        ck_assert_msg(strstr(err, endpoint_cases[_i].err_part) != NULL, "error: %s", err);
        ck_assert_ptr_null(strstr(err, "s3cr3t"));
    }
}
END_TEST

START_TEST(test_config_missing)
{
    ck_assert_int_eq(exo_config_load(&fh.host, &cfg, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "EXOSCALE_API_KEY is not set"));
    fake_host_opt(&fh, "api-key", "EXOabc");
    ck_assert_int_eq(exo_config_load(&fh.host, &cfg, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "EXOSCALE_API_SECRET is not set"));
    fake_host_opt(&fh, "api-secret", "abcdefgh");
    ck_assert_int_eq(exo_config_load(&fh.host, &cfg, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "EXOSCALE_ZONE is not set"));
}
END_TEST

START_TEST(test_config_bad_values)
{
    fake_host_opt(&fh, "api-key", "EXO abc");
    fake_host_opt(&fh, "api-secret", "abcdefgh");
    fake_host_opt(&fh, "zone", "ch-gva-2");
    ck_assert_int_eq(exo_config_load(&fh.host, &cfg, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "EXOSCALE_API_KEY"));
    cfg_setup();
    fake_host_opt(&fh, "api-key", "EXOabc");
    fake_host_opt(&fh, "api-secret", "very secret\tvalue");
    fake_host_opt(&fh, "zone", "ch-gva-2");
    ck_assert_int_eq(exo_config_load(&fh.host, &cfg, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "EXOSCALE_API_SECRET"));
    ck_assert_ptr_null(strstr(err, "very secret"));
}
END_TEST

START_TEST(test_config_files)
{
    char kpath[] = "/tmp/exo-key-XXXXXX", spath[] = "/tmp/exo-secret-XXXXXX";
    int kfd = mkstemp(kpath), sfd = mkstemp(spath);

    ck_assert(kfd >= 0 && sfd >= 0);
    ck_assert_int_eq(write(kfd, "EXOfromfile\n", 12), 12);
    ck_assert_int_eq(write(sfd, "secret-from-file\r\n", 18), 18);
    close(kfd);
    close(sfd);
    fake_host_opt(&fh, "api-key-file", kpath);
    fake_host_opt(&fh, "api-secret-file", spath);
    fake_host_opt(&fh, "zone", "de-fra-1");
    ck_assert_msg(exo_config_load(&fh.host, &cfg, err, sizeof(err)) == NSC_OK, "%s", err);
    ck_assert_str_eq(cfg.key, "EXOfromfile");
    ck_assert_str_eq(cfg.secret, "secret-from-file");
    exo_config_clear(&cfg);
    /* Both the value and its file: refused, naming both. */
    fake_host_opt(&fh, "api-key", "EXOother");
    ck_assert_int_eq(exo_config_load(&fh.host, &cfg, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "EXOSCALE_API_KEY_FILE"));
    unlink(kpath);
    unlink(spath);
    cfg_setup();
    fake_host_opt(&fh, "api-key", "EXOabc");
    fake_host_opt(&fh, "api-secret-file", "/nonexistent/secret");
    ck_assert_int_eq(exo_config_load(&fh.host, &cfg, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/secret"));
}
END_TEST

/* A directory where a file belongs is named as one, not read as an empty value. */
START_TEST(test_config_directories)
{
    static const char *const opts[] = {"api-key-file", "api-secret-file", "ca-file"};
    size_t i;

    for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        cfg_setup();
        fake_host_opt(&fh, "zone", "ch-gva-2");
        if (i != 0)
            fake_host_opt(&fh, "api-key", "EXOabc");
        if (i != 1)
            fake_host_opt(&fh, "api-secret", "abcdefgh");
        fake_host_opt(&fh, opts[i], "/tmp");
        ck_assert_int_eq(exo_config_load(&fh.host, &cfg, err, sizeof(err)), NSC_ERR_INVALID);
        ck_assert_msg(strstr(err, "'/tmp' is a directory") != NULL && strstr(err, opts[i]),
                      "%s: %s", opts[i], err);
        exo_config_clear(&cfg);
    }
}
END_TEST

/* ---- parsing ---- */

static void
expect_str(const char *case_name, const char *field, const json_t *expect, const char *got)
{
    const char *want = json_string_value(json_object_get(expect, field));

    if (want == NULL)
        return;
    ck_assert_msg(got != NULL && strcmp(got, want) == 0, "%s: %s: want '%s', got '%s'",
                  case_name, field, want, got ? got : "(null)");
}

static void
expect_int(const char *case_name, const char *field, const json_t *expect, long long got)
{
    const json_t *w = json_object_get(expect, field);

    if (w == NULL)
        return;
    ck_assert_msg(json_integer_value(w) == got, "%s: %s: want %lld, got %lld", case_name, field,
                  (long long)json_integer_value(w), got);
}

START_TEST(test_parse_objects)
{
    json_t *root = load_fixture("objects.json");
    json_t *c = json_array_get(json_object_get(root, "cases"), (size_t)_i);
    const char *name = json_string_value(json_object_get(c, "name"));
    const char *kind = json_string_value(json_object_get(c, "kind"));
    const json_t *val = json_object_get(c, "value");
    const json_t *ex = json_object_get(c, "expect");
    int ok = json_is_true(json_object_get(c, "ok"));
    char perr[512] = "";
    int rc;

    if (c == NULL) {
        json_decref(root);
        return;
    }
    if (strcmp(kind, "instance-pool") == 0) {
        struct exo_pool p;

        rc = exo_parse_pool(val, &p, perr, sizeof(perr));
        if (rc == NSC_OK) {
            expect_str(name, "id", ex, p.id);
            expect_str(name, "name", ex, p.name);
            expect_str(name, "state", ex, p.state);
            expect_str(name, "manager_type", ex, p.manager_type);
            expect_str(name, "manager_id", ex, p.manager_id);
            expect_str(name, "type_id", ex, p.type_id);
            expect_int(name, "size", ex, p.size);
            expect_int(name, "n_members", ex, (long long)p.n_members);
            expect_int(name, "disk_size", ex, p.disk_size_gib);
            expect_str(name, "size_problem", ex, p.size_problem);
            exo_pool_clear(&p);
        }
    } else if (strcmp(kind, "instance") == 0) {
        struct exo_instance in;

        rc = exo_parse_instance(val, &in, perr, sizeof(perr));
        if (rc == NSC_OK) {
            expect_str(name, "id", ex, in.id);
            expect_str(name, "state", ex, in.state_text);
            expect_int(name, "istate", ex, in.state);
            expect_str(name, "manager_type", ex, in.manager_type);
            expect_str(name, "manager_id", ex, in.manager_id);
            exo_instance_clear(&in);
        }
    } else if (strcmp(kind, "sks-nodepool") == 0) {
        struct exo_nodepool np;

        rc = exo_parse_nodepool(val, &np, perr, sizeof(perr));
        if (rc == NSC_OK) {
            expect_str(name, "id", ex, np.id);
            expect_str(name, "name", ex, np.name);
            expect_str(name, "state", ex, np.state);
            expect_str(name, "pool_id", ex, np.pool_id);
            expect_str(name, "type_id", ex, np.type_id);
            expect_int(name, "size", ex, np.size);
            expect_int(name, "disk_size", ex, np.disk_size_gib);
            expect_str(name, "size_problem", ex, np.size_problem);
            exo_nodepool_clear(&np);
        }
    } else if (strcmp(kind, "sks-cluster") == 0) {
        struct exo_cluster cl;

        rc = exo_parse_cluster(val, &cl, perr, sizeof(perr));
        if (rc == NSC_OK) {
            expect_str(name, "id", ex, cl.id);
            expect_str(name, "name", ex, cl.name);
            expect_int(name, "n_nodepools", ex, (long long)cl.n_nodepools);
            exo_cluster_clear(&cl);
        }
    } else if (strcmp(kind, "instance-type") == 0) {
        struct exo_itype t;

        rc = exo_parse_itype(val, &t, perr, sizeof(perr));
        if (rc == NSC_OK) {
            expect_str(name, "family", ex, t.family);
            expect_str(name, "size", ex, t.size);
            expect_int(name, "cpus", ex, t.cpus);
            expect_int(name, "gpus", ex, t.gpus);
            expect_int(name, "memory", ex, t.memory_bytes);
            exo_itype_clear(&t);
        }
    } else if (strcmp(kind, "operation") == 0) {
        struct exo_operation op;

        rc = exo_parse_operation(val, &op, perr, sizeof(perr));
        if (rc == NSC_OK) {
            expect_str(name, "state", ex, op.state_text);
            expect_int(name, "op", ex, op.state);
            expect_str(name, "reason", ex, op.reason);
            expect_str(name, "message", ex, op.message);
            exo_operation_clear(&op);
        }
    } else {
        struct exo_quota q;

        ck_assert_str_eq(kind, "quota");
        rc = exo_parse_quota(val, &q, perr, sizeof(perr));
        if (rc == NSC_OK) {
            expect_int(name, "usage", ex, q.usage);
            expect_int(name, "limit", ex, q.limit);
        }
    }
    if (ok) {
        ck_assert_msg(rc == NSC_OK, "%s: expected success, got %d: %s", name, rc, perr);
    } else {
        const char *want = json_string_value(json_object_get(c, "error"));

        ck_assert_msg(rc == NSC_ERR_INTERNAL, "%s: expected a parse error, got %d", name, rc);
        ck_assert_msg(strstr(perr, want) != NULL, "%s: error '%s' lacks '%s'", name, perr,
                      want);
    }
    json_decref(root);
}
END_TEST

START_TEST(test_uuid_shape)
{
    ck_assert(exo_is_uuid("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"));
    ck_assert(exo_is_uuid("0F1E2D3C-4b5a-6978-8796-a5b4c3d2e1f0"));
    ck_assert(!exo_is_uuid("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeee"));
    ck_assert(!exo_is_uuid("aaaaaaaa-bbbb-cccc-dddd_eeeeeeeeeeee"));
    ck_assert(!exo_is_uuid("gaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"));
    ck_assert(!exo_is_uuid(NULL));
}
END_TEST

/* ---- errors ---- */

START_TEST(test_error_bodies)
{
    json_t *root = load_fixture("errors.json");
    json_t *c = json_array_get(json_object_get(root, "cases"), (size_t)_i);
    const char *body = json_string_value(json_object_get(c, "body"));
    char text[512];

    exo_error_text(body, strlen(body), text, sizeof(text));
    ck_assert_msg(strcmp(text, json_string_value(json_object_get(c, "text"))) == 0,
                  "%s: got '%s'", json_string_value(json_object_get(c, "name")), text);
    ck_assert_int_eq(
        exo_status_map((long)json_integer_value(json_object_get(c, "status")), text),
        (int)json_integer_value(json_object_get(c, "map")));
    json_decref(root);
}
END_TEST

/* ---- calls, retries, back-off ---- */

static struct exo_client cl;

static void
call_setup(void)
{
    struct exo_config c;

    cfg_setup();
    good_creds();
    fake_host_opt(&fh, "api-endpoint", "https://api.example.net/v2");
    ck_assert_int_eq(exo_config_load(&fh.host, &c, err, sizeof(err)), NSC_OK);
    exo_client_init(&cl, &fh.host, &c);
    cl.sleep = fake_host_sleep;
    cl.sleep_ctx = &fh;
}

static void
call_teardown(void)
{
    exo_client_clear(&cl);
}

START_TEST(test_call_ok_signed)
{
    json_t *j = NULL;
    char *want = NULL;

    fake_host_reply(&fh, 200, "{\"resource\":\"instance\",\"usage\":1,\"limit\":20}", NULL);
    ck_assert_int_eq(
        exo_call(&cl, "GET", "/quota/instance", NULL, NULL, EXO_RETRY_IDEMPOTENT, &j), NSC_OK);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "limit")), 20);
    json_decref(j);
    ck_assert_str_eq(fh.reqs[0].url, "https://api.example.net/v2/quota/instance");
    ck_assert_int_eq(exo_sign("EXO0123456789abcdef01234567", "s3cr3t-value-not-for-logs", "GET",
                              "/v2/quota/instance", NULL, NULL, 0, 1700000600, &want),
                     NSC_OK);
    ck_assert_str_eq(fh.reqs[0].auth, want);
    ck_assert_str_eq(fh.reqs[0].content_type, "");
    free(want);
}
END_TEST

START_TEST(test_call_body_and_query)
{
    fake_host_reply(&fh, 200, "{\"id\":\"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\"}", NULL);
    fake_host_reply(&fh, 200, "{\"instances\":[]}", NULL);
    ck_assert_int_eq(exo_call(&cl, "PUT", "/instance-pool/p:scale", NULL, "{\"size\":3}",
                              EXO_RETRY_IDEMPOTENT, NULL),
                     NSC_OK);
    ck_assert_str_eq(fh.reqs[0].body, "{\"size\":3}");
    ck_assert_str_eq(fh.reqs[0].content_type, "application/json");
    ck_assert_int_eq(exo_call(&cl, "GET", "/instance", "manager-type=instance-pool", NULL,
                              EXO_RETRY_IDEMPOTENT, NULL),
                     NSC_OK);
    ck_assert_str_eq(fh.reqs[1].url,
                     "https://api.example.net/v2/instance?manager-type=instance-pool");
    ck_assert_ptr_nonnull(strstr(fh.reqs[1].auth, "signed-query-args=manager-type,"));
}
END_TEST

START_TEST(test_call_retry_resigns)
{
    fake_host_reply(&fh, 500, "{\"message\":\"boom\"}", NULL);
    fake_host_reply(&fh, 502, "bad gateway", NULL);
    fake_host_reply(&fh, 200, "{}", NULL);
    ck_assert_int_eq(
        exo_call(&cl, "GET", "/instance-pool", NULL, NULL, EXO_RETRY_IDEMPOTENT, NULL), NSC_OK);
    ck_assert_int_eq(fh.n_reqs, 3);
    /* 1 s then 2 s of back-off, and a fresh signature each time (the clock moved). */
    ck_assert_int_eq(fh.reqs[1].at_ms - fh.reqs[0].at_ms, 1000);
    ck_assert_int_eq(fh.reqs[2].at_ms - fh.reqs[1].at_ms, 2000);
    ck_assert_str_ne(fh.reqs[0].auth, fh.reqs[1].auth);
    ck_assert_str_ne(fh.reqs[1].auth, fh.reqs[2].auth);
    ck_assert_ptr_nonnull(strstr(fh.reqs[2].auth, "expires=1700000603,"));
    ck_assert_int_eq((int)cl.stats.n_retries, 2);
}
END_TEST

START_TEST(test_call_retry_after_seconds)
{
    fake_host_reply(&fh, 429, "{\"message\":\"slow down\"}", "3");
    fake_host_reply(&fh, 200, "{}", NULL);
    ck_assert_int_eq(exo_call(&cl, "PUT", "/instance-pool/p:scale", NULL, "{\"size\":2}",
                              EXO_RETRY_IDEMPOTENT, NULL),
                     NSC_OK);
    ck_assert_int_eq(fh.n_reqs, 2);
    ck_assert_int_eq(fh.reqs[1].at_ms - fh.reqs[0].at_ms, 3000);
}
END_TEST

START_TEST(test_call_retry_after_date)
{
    /* NOW_MS is 2023-11-14T22:13:20Z; the server asks for 22:13:27. */
    fake_host_reply(&fh, 503, "unavailable", "Tue, 14 Nov 2023 22:13:27 GMT");
    fake_host_reply(&fh, 200, "{}", NULL);
    ck_assert_int_eq(exo_call(&cl, "GET", "/zone", NULL, NULL, EXO_RETRY_IDEMPOTENT, NULL),
                     NSC_OK);
    ck_assert_int_eq(fh.reqs[1].at_ms - fh.reqs[0].at_ms, 7000);
}
END_TEST

START_TEST(test_call_retry_after_beyond_budget)
{
    fake_host_reply(&fh, 429, "{\"message\":\"rate limited\"}", "120");
    fake_host_reply(&fh, 200, "{}", NULL);
    ck_assert_int_eq(exo_call(&cl, "GET", "/zone", NULL, NULL, EXO_RETRY_IDEMPOTENT, NULL),
                     NSC_ERR_TRANSIENT);
    ck_assert_int_eq(fh.n_reqs, 1);
    ck_assert_ptr_nonnull(strstr(cl.err, "HTTP 429: rate limited"));
    /* Later calls respect the pause without touching the API... */
    ck_assert_int_eq(exo_call(&cl, "GET", "/zone", NULL, NULL, EXO_RETRY_IDEMPOTENT, NULL),
                     NSC_ERR_TRANSIENT);
    ck_assert_int_eq(fh.n_reqs, 1);
    ck_assert_ptr_nonnull(strstr(cl.err, "Retry-After"));
    /* ...until it is over. */
    fake_host_sleep(&fh, 120000);
    ck_assert_int_eq(exo_call(&cl, "GET", "/zone", NULL, NULL, EXO_RETRY_IDEMPOTENT, NULL),
                     NSC_OK);
    ck_assert_int_eq(fh.n_reqs, 2);
}
END_TEST

START_TEST(test_call_never_retry_evict)
{
    fake_host_reply(&fh, 500, "{\"message\":\"boom\"}", NULL);
    fake_host_fail(&fh, NSC_ERR_TRANSIENT);
    fake_host_reply(&fh, 200, "{}", NULL);
    ck_assert_int_eq(exo_call(&cl, "PUT", "/instance-pool/p:evict", NULL, "{\"instances\":[]}",
                              EXO_RETRY_NEVER, NULL),
                     NSC_ERR_TRANSIENT);
    ck_assert_int_eq(fh.n_reqs, 1);
    ck_assert_int_eq(exo_call(&cl, "PUT", "/instance-pool/p:evict", NULL, "{\"instances\":[]}",
                              EXO_RETRY_NEVER, NULL),
                     NSC_ERR_TRANSIENT);
    ck_assert_int_eq(fh.n_reqs, 2);
}
END_TEST

START_TEST(test_call_no_retry_on_4xx_501)
{
    fake_host_reply(&fh, 404, "{\"message\":\"no such pool\"}", NULL);
    fake_host_reply(&fh, 501, "{\"message\":\"nope\"}", NULL);
    fake_host_reply(&fh, 403, "{\"message\":\"Forbidden operation get-instance\"}", NULL);
    ck_assert_int_eq(
        exo_call(&cl, "GET", "/instance-pool/x", NULL, NULL, EXO_RETRY_IDEMPOTENT, NULL),
        NSC_ERR_NOT_FOUND);
    ck_assert_str_eq(cl.err, "GET /v2/instance-pool/x: HTTP 404: no such pool");
    ck_assert_int_eq(exo_call(&cl, "GET", "/x", NULL, NULL, EXO_RETRY_IDEMPOTENT, NULL),
                     NSC_ERR_INTERNAL);
    ck_assert_int_eq(
        exo_call(&cl, "GET", "/instance/i", NULL, NULL, EXO_RETRY_IDEMPOTENT, NULL),
        NSC_ERR_AUTH);
    ck_assert_int_eq(fh.n_reqs, 3);
    ck_assert_ptr_null(strstr(cl.err, "s3cr3t"));
}
END_TEST

START_TEST(test_call_transport_exhausts)
{
    int i;

    for (i = 0; i < 6; i++)
        fake_host_fail(&fh, NSC_ERR_TRANSIENT);
    cl.retry_budget_ms = 100000;
    ck_assert_int_eq(exo_call(&cl, "GET", "/zone", NULL, NULL, EXO_RETRY_IDEMPOTENT, NULL),
                     NSC_ERR_TRANSIENT);
    /* 1 + 4 retries, waiting 1, 2, 4 and 8 s. */
    ck_assert_int_eq(fh.n_reqs, 5);
    ck_assert_int_eq(fh.reqs[4].at_ms - fh.reqs[0].at_ms, 15000);
    ck_assert_ptr_nonnull(strstr(cl.err, "no answer"));
}
END_TEST

START_TEST(test_call_tls_failure_final)
{
    /* host->http says NSC_ERR_AUTH when the certificate fails verification. */
    fake_host_fail(&fh, NSC_ERR_AUTH);
    fake_host_reply(&fh, 200, "{}", NULL);
    ck_assert_int_eq(exo_call(&cl, "GET", "/zone", NULL, NULL, EXO_RETRY_IDEMPOTENT, NULL),
                     NSC_ERR_AUTH);
    ck_assert_int_eq(fh.n_reqs, 1);
    ck_assert_msg(strstr(cl.err, "TLS certificate failed verification") != NULL, "%s", cl.err);
}
END_TEST

START_TEST(test_call_bounded_in_time)
{
    int i;

    /* Every attempt uses its whole timeout: a fake host that moves the clock. */
    for (i = 0; i < 8; i++)
        fake_host_fail(&fh, NSC_ERR_TRANSIENT);
    fh.http_takes_ms = -1;
    cl.timeout_ms = 10000;
    cl.retry_budget_ms = 15000;
    ck_assert_int_eq(exo_call(&cl, "GET", "/zone", NULL, NULL, EXO_RETRY_IDEMPOTENT, NULL),
                     NSC_ERR_TRANSIENT);
    /* 10 s, 1 s, 10 s, 2 s, and the last 2 s left: 25 s, not 5 x 10 s + 15 s. */
    ck_assert_int_le(fh.mono_ms - 1000, 25000);
    ck_assert_int_eq(fh.n_reqs, 3);
    ck_assert_ptr_nonnull(strstr(fh.log, "slow call"));
    ck_assert_ptr_nonnull(strstr(fh.log, "retrying in"));
}
END_TEST

START_TEST(test_call_budget_stops_backoff)
{
    int i;

    for (i = 0; i < 6; i++)
        fake_host_reply(&fh, 500, "x", NULL);
    cl.retry_budget_ms = 5000;
    ck_assert_int_eq(exo_call(&cl, "GET", "/zone", NULL, NULL, EXO_RETRY_IDEMPOTENT, NULL),
                     NSC_ERR_TRANSIENT);
    /* 1 s and 2 s fit in 5 s; 4 s more would not. */
    ck_assert_int_eq(fh.n_reqs, 3);
}
END_TEST

START_TEST(test_call_bad_json)
{
    json_t *j = NULL;

    fake_host_reply(&fh, 200, "<html>", NULL);
    ck_assert_int_eq(exo_call(&cl, "GET", "/zone", NULL, NULL, EXO_RETRY_IDEMPOTENT, &j),
                     NSC_ERR_INTERNAL);
    ck_assert_ptr_null(j);
    ck_assert_ptr_nonnull(strstr(cl.err, "not JSON"));
}
END_TEST

START_TEST(test_call_redirect_named)
{
    fake_host_reply(&fh, 302, "", NULL);
    fh.replies[0].location =
        "https://user:pw@login.example.net/next/EXO0123456789abcdef01234567?token=s3cr3t";
    fake_host_reply(&fh, 301, "", NULL);
    fake_host_reply(&fh, 308, "", NULL);
    fh.replies[2].location = "/v2/elsewhere#s3cr3t-value-not-for-logs";
    ck_assert_int_eq(
        exo_call(&cl, "GET", "/instance-pool", NULL, NULL, EXO_RETRY_IDEMPOTENT, NULL),
        NSC_ERR_INTERNAL);
    ck_assert_str_eq(cl.err, "GET /v2/instance-pool: HTTP 302 Found, redirected to "
                             "https://[redacted]@login.example.net/next/[redacted] "
                             "(not followed)");
    ck_assert_int_eq(exo_call(&cl, "PUT", "/instance-pool/p:scale", NULL, "{\"size\":2}",
                              EXO_RETRY_IDEMPOTENT, NULL),
                     NSC_ERR_INTERNAL);
    ck_assert_str_eq(cl.err, "PUT /v2/instance-pool/p:scale: HTTP 301 Moved Permanently, "
                             "redirected to (no Location) (not followed)");
    ck_assert_int_eq(
        exo_call(&cl, "GET", "/instance-pool", NULL, NULL, EXO_RETRY_IDEMPOTENT, NULL),
        NSC_ERR_INTERNAL);
    ck_assert_str_eq(cl.err, "GET /v2/instance-pool: HTTP 308 Permanent Redirect, redirected "
                             "to /v2/elsewhere (not followed)");
    ck_assert_int_eq(fh.n_reqs, 3);
}
END_TEST

/* The API key and secret are cut out of an error text before it is shortened: a cut
 * through one would leave a part the host's redaction does not recognise. */
START_TEST(test_call_error_text_redacted_before_cut)
{
    static char body[2048];
    size_t at;

    for (at = 380; at < 410; at += 7) {
        memset(body, 'e', at);
        snprintf(body + at, sizeof(body) - at, "%s and %s", "EXO0123456789abcdef01234567",
                 "s3cr3t-value-not-for-logs");
        fake_host_reply(&fh, 400, body, NULL);
        ck_assert_int_eq(
            exo_call(&cl, "GET", "/instance-pool", NULL, NULL, EXO_RETRY_IDEMPOTENT, NULL),
            NSC_ERR_INVALID);
        ck_assert_msg(strstr(cl.err, "EXO0") == NULL && strstr(cl.err, "s3cr") == NULL,
                      "at %zu: %s", at, cl.err);
        ck_assert_ptr_nonnull(strstr(cl.err, "HTTP 400: eeee"));
    }
    /* a parser's complaint quotes the answer */
    fake_host_reply(&fh, 200, "s3cr3t-value-not-for-logs", NULL);
    {
        json_t *j = NULL;

        ck_assert_int_eq(exo_call(&cl, "GET", "/zone", NULL, NULL, EXO_RETRY_IDEMPOTENT, &j),
                         NSC_ERR_INTERNAL);
        ck_assert_msg(strstr(cl.err, "s3cr3t") == NULL, "%s", cl.err);
    }
    /* the key is registered with the host like the secret */
    ck_assert_int_ge(fh.n_redacted, 2);
    ck_assert_str_eq(fh.redacted[0], "s3cr3t-value-not-for-logs");
    ck_assert_str_eq(fh.redacted[1], "EXO0123456789abcdef01234567");
}
END_TEST

START_TEST(test_backoff_schedule)
{
    ck_assert_int_eq(exo_backoff_ms(&cl, 0, NULL, 0), 1000);
    ck_assert_int_eq(exo_backoff_ms(&cl, 3, NULL, 0), 8000);
    ck_assert_int_eq(exo_backoff_ms(&cl, 10, NULL, 0), 30000);
    ck_assert_int_eq(exo_backoff_ms(&cl, 0, "7", 0), 7000);
    ck_assert_int_eq(exo_backoff_ms(&cl, 2, "garbage", 0), 4000);
    ck_assert_int_eq(exo_backoff_ms(&cl, 0, "Thu, 01 Jan 1970 00:00:10 GMT", 4), 6000);
    ck_assert_int_eq(exo_backoff_ms(&cl, 0, "Thu, 01 Jan 1970 00:00:10 GMT", 40), 0);
    /* a hostile Retry-After is bounded to a day, never an overflow */
    ck_assert_int_eq(exo_backoff_ms(&cl, 0, "9223372036854775807", 0), 86400000);
    ck_assert_int_eq(exo_backoff_ms(&cl, 0, "Fri, 31 Dec 2147483 23:59:59 GMT", 0), 86400000);
}
END_TEST

/* ---- the shared backend on a fake clock: operation polling, eviction re-reads, limits ---- */

#define G_INST1 "10000000-0000-4000-8000-000000000001"
#define G_INST2 "10000000-0000-4000-8000-000000000002"
#define G_INST3 "10000000-0000-4000-8000-000000000003"
#define G_OP "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"

static int64_t route_size;
static const char *route_members;  /* list-instances body */
static const char *route_pool;     /* get-instance-pool body */
static const char *route_op_state; /* get-operation state */
static const char *route_quota;
static int route_evict_status[4];
static int n_route_evict;
static int route_scale_status[4];
static int n_route_scale;
static int64_t op_polls_at[64];
static size_t n_op_polls;

static int
test_discover(struct nsc_backend *b, struct exo_group **out, size_t *n_out)
{
    struct exo_group *g = calloc(1, sizeof(*g));

    (void)b;
    g->id = strdup("g1");
    g->name = strdup("g1");
    g->pool_id = strdup("p1");
    g->cloud_state = strdup("running");
    g->size = route_size;
    if (route_size < 0)
        g->size_problem = strdup("instance-pool p1: field \"size\" is missing");
    *out = g;
    *n_out = 1;
    return NSC_OK;
}

static char *
test_path(struct nsc_backend *b, const struct exo_group *g, const char *verb)
{
    char *p = malloc(64);

    (void)b;
    snprintf(p, 64, "/instance-pool/%s:%s", g->pool_id, verb);
    return p;
}

static const struct exo_kind test_kind = {"test",
                                          "scale-instance-pool",
                                          "evict-instance-pool-members",
                                          test_discover,
                                          test_path,
                                          NULL,
                                          NULL,
                                          NULL};

static struct fake_reply
test_route(struct fake_host *h, const char *method, const char *url)
{
    struct fake_reply r = {200, "{}", NULL, 0, NULL};
    static const char op_pending[] = "{\"id\":\"" G_OP "\",\"state\":\"pending\"}";
    static char op_body[256];

    if (strstr(url, "/instance?") != NULL) {
        r.body = route_members;
    } else if (strstr(url, "/quota/instance") != NULL) {
        r.body = route_quota;
    } else if (strstr(url, "/operation/") != NULL) {
        if (n_op_polls < 64)
            op_polls_at[n_op_polls++] = h->mono_ms;
        snprintf(op_body, sizeof(op_body),
                 "{\"id\":\"%s\",\"state\":\"%s\",\"reason\":\"busy\"}", G_OP, route_op_state);
        r.body = op_body;
    } else if (strstr(url, ":evict") != NULL) {
        r.status = route_evict_status[n_route_evict < 4 ? n_route_evict : 3];
        n_route_evict++;
        r.body = r.status == 200 ? op_pending : "{\"message\":\"upstream timeout\"}";
    } else if (strstr(url, ":scale") != NULL) {
        r.status = route_scale_status[n_route_scale < 4 ? n_route_scale : 3];
        n_route_scale++;
        r.body = r.status == 200 ? op_pending : "{\"message\":\"upstream trouble\"}";
        r.retry_after = r.status == 429 ? "1" : NULL;
        r.transport_error = r.status == 0 ? NSC_ERR_TRANSIENT : 0;
    } else if (strstr(url, "/instance-pool/p1") != NULL && strcmp(method, "GET") == 0) {
        r.body = route_pool;
    } else {
        r.status = 404;
        r.body = "{\"message\":\"no route\"}";
    }
    return r;
}

static struct nsc_backend *tb;

static void
ops_setup(void)
{
    cfg_setup();
    good_creds();
    fake_host_opt(&fh, "api-endpoint", "https://api.example.net/v2");
    fh.route = test_route;
    route_size = 2;
    route_members =
        "{\"instances\":[{\"id\":\"" G_INST1 "\",\"state\":\"running\",\"manager\":"
        "{\"id\":\"p1\",\"type\":\"instance-pool\"}},{\"id\":\"" G_INST2 "\",\"state\":"
        "\"starting\",\"manager\":{\"id\":\"p1\",\"type\":\"instance-pool\"}}]}";
    route_pool = "{\"id\":\"p1\",\"size\":2,\"instances\":[{\"id\":\"" G_INST1
                 "\"},{\"id\":\"" G_INST2 "\"}]}";
    route_op_state = "pending";
    route_quota = "{\"resource\":\"instance\",\"usage\":2,\"limit\":20}";
    route_evict_status[0] = route_evict_status[1] = route_evict_status[2] = 200;
    route_evict_status[3] = 200;
    n_route_evict = 0;
    route_scale_status[0] = route_scale_status[1] = route_scale_status[2] = 200;
    route_scale_status[3] = 200;
    n_route_scale = 0;
    n_op_polls = 0;
    ck_assert_msg(exo_backend_create(&test_kind, &fh.host, NULL, 0, &tb, err, sizeof(err)) ==
                      NSC_OK,
                  "%s", err);
    tb->client.sleep = fake_host_sleep;
    tb->client.sleep_ctx = &fh;
    tb->default_min = 0;
    ck_assert_msg(exo_backend_refresh(tb) == NSC_OK, "%s", tb->last_error);
}

static void
ops_teardown(void)
{
    exo_backend_destroy(tb);
}

static size_t
count_reqs(const char *part)
{
    size_t i, n = 0;

    for (i = 0; i < fh.n_reqs; i++)
        n += strstr(fh.reqs[i].url, part) != NULL;
    return n;
}

START_TEST(test_ops_poll_schedule)
{
    int64_t t;
    size_t i;

    ck_assert_int_eq(exo_backend_resize(tb, "g1", 5), NSC_OK);
    ck_assert_str_eq(fh.reqs[fh.n_reqs - 1].body, "{\"size\":5}");
    /* A control loop every second for 3 minutes: polls at 3 s steps, then wider. */
    for (t = 0; t < 180; t++) {
        fake_host_sleep(&fh, 1000);
        ck_assert_int_eq(exo_backend_refresh(tb), NSC_OK);
        ck_assert_int_eq(tb->groups[0].op_target, 5);
    }
    ck_assert_int_ge(n_op_polls, 12);
    ck_assert_int_eq(op_polls_at[0] - op_polls_at[0], 0);
    for (i = 1; i < n_op_polls; i++) {
        int64_t gap = op_polls_at[i] - op_polls_at[i - 1];

        if (op_polls_at[i] - op_polls_at[0] <= 27000)
            ck_assert_int_eq(gap, 3000);
        else
            ck_assert_int_ge(gap, 3000);
    }
    ck_assert_int_gt(op_polls_at[n_op_polls - 1] - op_polls_at[n_op_polls - 2], 3000);
    ck_assert_int_le(op_polls_at[n_op_polls - 1] - op_polls_at[n_op_polls - 2], 60000);
    /* Meanwhile another resize is refused as busy, without a call. */
    ck_assert_int_eq(exo_backend_resize(tb, "g1", 6), NSC_ERR_TRANSIENT);
    ck_assert_ptr_nonnull(strstr(tb->last_error, "still running"));
    route_op_state = "success";
    route_size = 5;
    fake_host_sleep(&fh, 60000);
    ck_assert_int_eq(exo_backend_refresh(tb), NSC_OK);
    ck_assert_ptr_null(tb->groups[0].op_id);
    ck_assert_int_eq(tb->groups[0].size, 5);
}
END_TEST

START_TEST(test_ops_deadline)
{
    int t;

    ck_assert_int_eq(exo_backend_resize(tb, "g1", 4), NSC_OK);
    for (t = 0; t < 17 && tb->groups[0].op_id != NULL; t++) {
        fake_host_sleep(&fh, 60000);
        ck_assert_int_eq(exo_backend_refresh(tb), NSC_OK);
    }
    ck_assert_ptr_null(tb->groups[0].op_id);
    ck_assert_str_eq(tb->groups[0].fail_code, "OPERATION_TIMEOUT");
    ck_assert_int_eq(tb->groups[0].fail_missing, 2);
}
END_TEST

START_TEST(test_ops_evict_lost_answer_but_done)
{
    const char *ids[] = {"exoscale://" G_INST2};

    route_evict_status[0] = 504;
    route_pool = "{\"id\":\"p1\",\"size\":1,\"instances\":[{\"id\":\"" G_INST1 "\"}]}";
    ck_assert_int_eq(exo_backend_evict(tb, "g1", ids, 1), NSC_OK);
    ck_assert_int_eq(count_reqs(":evict"), 1);
    ck_assert_int_eq(count_reqs("/instance-pool/p1"), 2);
}
END_TEST

START_TEST(test_ops_evict_resends_only_remaining)
{
    const char *ids[] = {"exoscale://" G_INST1, "exoscale://" G_INST2};

    route_evict_status[0] = 500;
    /* INST1 went, INST2 is still there: only INST2 is sent again. */
    route_pool = "{\"id\":\"p1\",\"size\":1,\"instances\":[{\"id\":\"" G_INST2 "\"}]}";
    ck_assert_int_eq(exo_backend_evict(tb, "g1", ids, 2), NSC_OK);
    ck_assert_int_eq(count_reqs(":evict"), 2);
    ck_assert_str_eq(fh.reqs[fh.n_reqs - 1].body, "{\"instances\":[\"" G_INST2 "\"]}");
    ck_assert_int_eq(tb->groups[0].op_target, 0);
    ck_assert_int_eq((int)tb->groups[0].n_evicting, 2);
}
END_TEST

START_TEST(test_ops_evict_gives_up)
{
    const char *ids[] = {"exoscale://" G_INST1};

    route_evict_status[0] = route_evict_status[1] = route_evict_status[2] = 503;
    route_evict_status[3] = 503;
    ck_assert_int_eq(exo_backend_evict(tb, "g1", ids, 1), NSC_ERR_TRANSIENT);
    ck_assert_int_eq(count_reqs(":evict"), 2);
    ck_assert_msg(strstr(tb->last_error, "HTTP 503") != NULL, "%s", tb->last_error);
    /* Refusals before any call: a stranger, a duplicate, a foreign provider ID. */
    fh.n_reqs = 0;
    ids[0] = "exoscale://10000000-0000-4000-8000-00000000ffff";
    ck_assert_int_eq(exo_backend_evict(tb, "g1", ids, 1), NSC_ERR_INVALID);
    ids[0] = "aws:///eu-west-1a/i-0abc";
    ck_assert_int_eq(exo_backend_evict(tb, "g1", ids, 1), NSC_ERR_INVALID);
    ck_assert_int_eq(exo_backend_evict(tb, "nope", ids, 1), NSC_ERR_NOT_FOUND);
    ck_assert_int_eq(fh.n_reqs, 0);
}
END_TEST

START_TEST(test_ops_limits_from_quota)
{
    ck_assert_int_eq(tb->groups[0].max_size, 20);
    ck_assert_int_eq(tb->groups[0].min_size, 0);
    /* Unlimited (-1) is not a max of -1: the documented default applies. */
    route_quota = "{\"resource\":\"instance\",\"usage\":2,\"limit\":-1}";
    fake_host_sleep(&fh, 3600 * 1000);
    ck_assert_int_eq(exo_backend_refresh(tb), NSC_OK);
    ck_assert_int_eq(tb->groups[0].max_size, 100);
    /* A group bigger than its max is reported with max = its size. */
    route_size = 150;
    tb->dirty = true;
    ck_assert_int_eq(exo_backend_refresh(tb), NSC_OK);
    ck_assert_int_eq(tb->groups[0].max_size, 150);
}
END_TEST

START_TEST(test_ops_size_unknown_not_resized)
{
    /* The pool answer had no usable size: the group stays visible at the members it has,
     * but no :scale is sent for it. */
    route_size = -1;
    tb->dirty = true;
    ck_assert_int_eq(exo_backend_refresh(tb), NSC_OK);
    ck_assert_int_eq(tb->n_groups, 1);
    ck_assert_ptr_nonnull(strstr(fh.log, "will not be resized"));
    fh.n_reqs = 0;
    ck_assert_int_eq(exo_backend_resize(tb, "g1", 3), NSC_ERR_INVALID);
    ck_assert_msg(strstr(tb->last_error, "group g1: not resized: instance-pool p1: field "
                                         "\"size\" is missing") != NULL,
                  "%s", tb->last_error);
    ck_assert_int_eq(count_reqs(":scale"), 0);
}
END_TEST

START_TEST(test_ops_resize_never_below_members)
{
    /* A stale size of 1 for a pool listing three members: size=2 would delete one. */
    route_size = 1;
    route_members =
        "{\"instances\":[{\"id\":\"" G_INST1 "\",\"state\":\"running\",\"manager\":"
        "{\"id\":\"p1\",\"type\":\"instance-pool\"}},{\"id\":\"" G_INST2 "\",\"state\":"
        "\"running\",\"manager\":{\"id\":\"p1\",\"type\":\"instance-pool\"}},{\"id\":\"" G_INST3
        "\",\"state\":\"running\",\"manager\":{\"id\":\"p1\",\"type\":\"instance-pool\"}}]}";
    tb->dirty = true;
    ck_assert_int_eq(exo_backend_refresh(tb), NSC_OK);
    fh.n_reqs = 0;
    ck_assert_int_eq(exo_backend_resize(tb, "g1", 2), NSC_ERR_INVALID);
    ck_assert_msg(strstr(tb->last_error, "the last listing shows 3 members") != NULL, "%s",
                  tb->last_error);
    /* Below the current target is refused too. */
    route_size = 3;
    tb->dirty = true;
    ck_assert_int_eq(exo_backend_refresh(tb), NSC_OK);
    fh.n_reqs = 0;
    ck_assert_int_eq(exo_backend_resize(tb, "g1", 2), NSC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(tb->last_error, "will not shrink from 3 to 2"));
    ck_assert_int_eq(count_reqs(":scale"), 0);
    ck_assert_int_eq(exo_backend_resize(tb, "g1", 4), NSC_OK);
    ck_assert_int_eq(count_reqs(":scale"), 1);
}
END_TEST

START_TEST(test_ops_scale_500_after_applied)
{
    /* The cloud applied the scale, then the answer was a 500: one :scale, success. */
    route_scale_status[0] = route_scale_status[1] = route_scale_status[2] = 500;
    route_scale_status[3] = 500;
    route_pool = "{\"id\":\"p1\",\"size\":5,\"state\":\"scaling-up\",\"instances\":[]}";
    fh.n_reqs = 0;
    ck_assert_msg(exo_backend_resize(tb, "g1", 5) == NSC_OK, "%s", tb->last_error);
    ck_assert_int_eq(count_reqs(":scale"), 1);
    ck_assert_int_eq(count_reqs("/instance-pool/p1"), 2);
    ck_assert_int_eq(tb->groups[0].size, 5);
    ck_assert_ptr_nonnull(strstr(fh.log, "taken as applied"));
    /* A connection reset after application reads the same. */
    tb->groups[0].size = 2;
    fake_host_sleep(&fh, 1000);
    route_scale_status[0] = 0;
    fh.n_reqs = 0;
    n_route_scale = 0;
    ck_assert_msg(exo_backend_resize(tb, "g1", 5) == NSC_OK, "%s", tb->last_error);
    ck_assert_int_eq(count_reqs(":scale"), 1);
}
END_TEST

START_TEST(test_ops_scale_not_applied_resent)
{
    /* 500 and the pool still at 2: sent once more after the read. */
    route_scale_status[0] = 500;
    fh.n_reqs = 0;
    ck_assert_msg(exo_backend_resize(tb, "g1", 4) == NSC_OK, "%s", tb->last_error);
    ck_assert_int_eq(count_reqs(":scale"), 2);
    ck_assert_str_eq(tb->groups[0].op_id, G_OP);
}
END_TEST

START_TEST(test_ops_scale_429_retried)
{
    /* A 429 says nothing was applied: sent again after the pause, no read needed. */
    route_scale_status[0] = 429;
    fh.n_reqs = 0;
    ck_assert_msg(exo_backend_resize(tb, "g1", 3) == NSC_OK, "%s", tb->last_error);
    ck_assert_int_eq(count_reqs(":scale"), 2);
    ck_assert_int_eq(fh.n_reqs, 2);
    ck_assert_int_eq(fh.reqs[1].at_ms - fh.reqs[0].at_ms, 1000);
}
END_TEST

START_TEST(test_ops_scale_refusal_final)
{
    route_scale_status[0] = 400;
    fh.n_reqs = 0;
    ck_assert_int_eq(exo_backend_resize(tb, "g1", 3), NSC_ERR_INVALID);
    ck_assert_int_eq(count_reqs(":scale"), 1);
    ck_assert_ptr_nonnull(strstr(tb->last_error, "HTTP 400"));
    /* A pool grown past the target by someone else is not shrunk by a resend. */
    route_scale_status[1] = 503;
    route_pool = "{\"id\":\"p1\",\"size\":7,\"instances\":[]}";
    fh.n_reqs = 0;
    ck_assert_int_eq(exo_backend_resize(tb, "g1", 3), NSC_ERR_INVALID);
    ck_assert_int_eq(count_reqs(":scale"), 1);
    ck_assert_msg(strstr(tb->last_error, "above the target") != NULL, "%s", tb->last_error);
}
END_TEST

START_TEST(test_ops_instance_states)
{
    ck_assert_int_eq(tb->groups[0].n_members, 2);
    ck_assert_int_eq(tb->groups[0].members[0].state, EXO_ISTATE_RUNNING);
    ck_assert_int_eq(tb->groups[0].members[1].state, EXO_ISTATE_STARTING);
    /* The cached group list is kept while membership matches: one call per loop. */
    fh.n_reqs = 0;
    fake_host_sleep(&fh, 10000);
    ck_assert_int_eq(exo_backend_refresh(tb), NSC_OK);
    ck_assert_int_eq(fh.n_reqs, 1);
    ck_assert_int_eq(tb->last_refresh_calls, 1);
}
END_TEST

static Suite *
exoscale_suite(void)
{
    Suite *s = suite_create("exoscale");
    TCase *tc;
    json_t *objs = load_fixture_raw("objects.json");
    json_t *errs = load_fixture_raw("errors.json");
    int n_objs = (int)json_array_size(json_object_get(objs, "cases"));
    int n_errs = (int)json_array_size(json_object_get(errs, "cases"));

    json_decref(objs);
    json_decref(errs);
    tc = tcase_create("sign");
    tcase_add_loop_test(tc, test_sign_vectors, 0, 8);
    tcase_add_test(tc, test_sign_query_edges);
    suite_add_tcase(s, tc);

    tc = tcase_create("config");
    tcase_add_checked_fixture(tc, cfg_setup, cfg_teardown);
    tcase_add_test(tc, test_config_default_url);
    tcase_add_test(tc, test_config_environment);
    tcase_add_loop_test(tc, test_config_endpoint, 0,
                        (int)(sizeof(endpoint_cases) / sizeof(endpoint_cases[0])));
    tcase_add_test(tc, test_config_missing);
    tcase_add_test(tc, test_config_bad_values);
    tcase_add_test(tc, test_config_files);
    tcase_add_test(tc, test_config_directories);
    suite_add_tcase(s, tc);

    tc = tcase_create("parse");
    tcase_add_loop_test(tc, test_parse_objects, 0, n_objs);
    tcase_add_test(tc, test_uuid_shape);
    tcase_add_loop_test(tc, test_error_bodies, 0, n_errs);
    suite_add_tcase(s, tc);

    tc = tcase_create("call");
    tcase_add_checked_fixture(tc, call_setup, call_teardown);
    tcase_add_test(tc, test_call_ok_signed);
    tcase_add_test(tc, test_call_body_and_query);
    tcase_add_test(tc, test_call_retry_resigns);
    tcase_add_test(tc, test_call_retry_after_seconds);
    tcase_add_test(tc, test_call_retry_after_date);
    tcase_add_test(tc, test_call_retry_after_beyond_budget);
    tcase_add_test(tc, test_call_never_retry_evict);
    tcase_add_test(tc, test_call_no_retry_on_4xx_501);
    tcase_add_test(tc, test_call_transport_exhausts);
    tcase_add_test(tc, test_call_budget_stops_backoff);
    tcase_add_test(tc, test_call_bad_json);
    tcase_add_test(tc, test_call_redirect_named);
    tcase_add_test(tc, test_call_error_text_redacted_before_cut);
    tcase_add_test(tc, test_call_tls_failure_final);
    tcase_add_test(tc, test_call_bounded_in_time);
    tcase_add_test(tc, test_backoff_schedule);
    suite_add_tcase(s, tc);

    tc = tcase_create("backend");
    tcase_add_checked_fixture(tc, ops_setup, ops_teardown);
    tcase_add_test(tc, test_ops_poll_schedule);
    tcase_add_test(tc, test_ops_deadline);
    tcase_add_test(tc, test_ops_evict_lost_answer_but_done);
    tcase_add_test(tc, test_ops_evict_resends_only_remaining);
    tcase_add_test(tc, test_ops_evict_gives_up);
    tcase_add_test(tc, test_ops_limits_from_quota);
    tcase_add_test(tc, test_ops_instance_states);
    tcase_add_test(tc, test_ops_size_unknown_not_resized);
    tcase_add_test(tc, test_ops_resize_never_below_members);
    tcase_add_test(tc, test_ops_scale_500_after_applied);
    tcase_add_test(tc, test_ops_scale_not_applied_resent);
    tcase_add_test(tc, test_ops_scale_429_retried);
    tcase_add_test(tc, test_ops_scale_refusal_final);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(exoscale_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
