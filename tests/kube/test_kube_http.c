/* The Kubernetes client against a small libmicrohttpd server that answers what a real API
 * server never does: redirects, proxy error pages and Status messages holding a secret
 * where a cut would split it, an endless watch line. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kube/client.h"
#include "kube/informer.h"
#include "log.h"
#include "test_kube.h"

#define TOKEN "bearer-tok-7Hq2xKp9ZZ"
#define SECRET "sEcReT-9c1b7e0d42"

static struct MHD_Daemon *srv;
static unsigned srv_port;
static int n_watch_calls, n_list_calls;

static enum MHD_Result
answer(struct MHD_Connection *conn, unsigned status, const char *body, const char *ctype,
       const char *location)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    MHD_add_response_header(r, "Content-Type", ctype);
    if (location)
        MHD_add_response_header(r, "Location", location);
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* An endless watch: one line that never ends, a chunk at a time. */
static ssize_t
endless_line(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    if (pos == 0 && max > 40) {
        memcpy(buf, "{\"type\":\"ADDED\",\"object\":{\"x\":\"", 31);
        memset(buf + 31, 'a', max - 31);
        return (ssize_t)max;
    }
    memset(buf, 'a', max);
    return (ssize_t)max;
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
        const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    static char body[4096];
    const char *watch = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "watch");

    (void)cls;
    (void)method;
    (void)version;
    (void)upload_data;
    (void)upload_size;
    if (*con_cls == NULL) {
        *con_cls = (void *)1;
        return MHD_YES;
    }
    if (strcmp(url, "/redirect") == 0)
        return answer(conn, 302, "<html>moved</html>", "text/html",
                      "https://admin:pa55w0rd@login.example.net/next?token=" TOKEN "#frag");
    if (strcmp(url, "/redirect-bare") == 0)
        return answer(conn, 307, "", "text/plain", NULL);
    if (strcmp(url, "/redirect-secret") == 0)
        return answer(conn, 308, "", "text/plain", "/v1/" SECRET "/elsewhere");
    if (strcmp(url, "/html") == 0) {
        /* the secret straddles the 200-byte excerpt */
        memset(body, 'x', 195);
        snprintf(body + 195, sizeof(body) - 195, "%s trailing text", SECRET);
        return answer(conn, 502, body, "text/html", NULL);
    }
    if (strcmp(url, "/status") == 0) {
        /* the secret straddles the 511 bytes a message keeps */
        int n =
            snprintf(body, sizeof(body),
                     "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"InternalError\","
                     "\"message\":\"");

        memset(body + n, 'm', 505);
        snprintf(body + n + 505, sizeof(body) - (size_t)n - 505, "%s tail\"}", SECRET);
        return answer(conn, 500, body, "application/json", NULL);
    }
    if (strcmp(url, "/api/v1/things") == 0 && watch == NULL) {
        __atomic_add_fetch(&n_list_calls, 1, __ATOMIC_SEQ_CST);
        return answer(conn, 200,
                      "{\"kind\":\"ThingList\",\"metadata\":{\"resourceVersion\":\"5\"},"
                      "\"items\":[]}",
                      "application/json", NULL);
    }
    if (strcmp(url, "/api/v1/things") == 0) {
        __atomic_add_fetch(&n_watch_calls, 1, __ATOMIC_SEQ_CST);
        return answer(conn, 302, "", "text/plain", "http://proxy.example.net/login?sid=abc");
    }
    if (strcmp(url, "/api/v1/longs") == 0 && watch == NULL) {
        __atomic_add_fetch(&n_list_calls, 1, __ATOMIC_SEQ_CST);
        return answer(conn, 200,
                      "{\"kind\":\"LongList\",\"metadata\":{\"resourceVersion\":\"5\"},"
                      "\"items\":[]}",
                      "application/json", NULL);
    }
    if (strcmp(url, "/api/v1/longs") == 0) {
        struct MHD_Response *r;
        enum MHD_Result ret;

        __atomic_add_fetch(&n_watch_calls, 1, __ATOMIC_SEQ_CST);
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 65536, endless_line, NULL,
                                              NULL);
        MHD_add_response_header(r, "Content-Type", "application/json");
        ret = MHD_queue_response(conn, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    return answer(conn, 404, "{}", "application/json", NULL);
}

static void
srv_start(void)
{
    struct sockaddr_in sa;
    const union MHD_DaemonInfo *info;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                         NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
    ck_assert_ptr_nonnull(srv);
    info = MHD_get_daemon_info(srv, MHD_DAEMON_INFO_BIND_PORT);
    ck_assert_ptr_nonnull(info);
    srv_port = info->port;
    n_watch_calls = n_list_calls = 0;
}

static void
srv_stop(void)
{
    MHD_stop_daemon(srv);
    srv = NULL;
}

static struct kube_client *
client_new(void)
{
    char path[128], err[512] = "";
    struct kube_config *cfg = NULL;
    struct kube_client *c = NULL;
    struct kube_client_opts o = {0};
    FILE *f;

    snprintf(path, sizeof(path), "/tmp/nsc-kube-http-%d.yaml", (int)getpid());
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
            "clusters:\n- name: t\n  cluster:\n    server: http://127.0.0.1:%u\n"
            "users:\n- name: t\n  user:\n    token: %s\n"
            "contexts:\n- name: t\n  context:\n    cluster: t\n    user: t\n",
            srv_port, TOKEN);
    fclose(f);
    ck_assert_msg(kube_config_load_kubeconfig(path, NULL, &cfg, err, sizeof(err)) == 0, "%s",
                  err);
    unlink(path);
    o.qps = -1;
    o.timeout_ms = 20000;
    ck_assert_msg(kube_client_new(cfg, &o, &c, err, sizeof(err)) == 0, "%s", err);
    return c;
}

static void
setup(void)
{
    log_redact_clear();
    log_redact_add(SECRET);
    log_set_level(NSC_LOG_INFO);
    srv_start();
}

static void
teardown(void)
{
    srv_stop();
    log_redact_clear();
}

START_TEST(test_reason_phrases)
{
    static const long codes[] = {300, 301, 302, 303, 304, 305, 307, 308, 400, 401, 403,
                                 404, 405, 409, 410, 422, 429, 500, 501, 502, 503, 504};
    size_t i;

    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        ck_assert_msg(kube_http_reason(codes[i])[0] != '\0', "no name for %ld", codes[i]);
    ck_assert_str_eq(kube_http_reason(302), "Found");
    ck_assert_str_eq(kube_http_reason(308), "Permanent Redirect");
    ck_assert_str_eq(kube_http_reason(501), "Not Implemented");
    ck_assert_str_eq(kube_http_reason(502), "Bad Gateway");
    ck_assert_str_eq(kube_http_reason(404), "NotFound");
}
END_TEST

START_TEST(test_redirect_location_cleaned)
{
    char buf[256];
    const char *loc = "https://u:p@h.example/a/b?x=1";

    ck_assert_str_eq(kube_redirect_location(loc, strlen(loc), buf, sizeof(buf)),
                     "https://[redacted]@h.example/a/b");
    loc = "/relative/path#frag\r\n";
    ck_assert_str_eq(kube_redirect_location(loc, strlen(loc), buf, sizeof(buf)),
                     "/relative/path");
    ck_assert_str_eq(kube_redirect_location("", 0, buf, sizeof(buf)), "(no Location)");
    /* an @ after the authority is not user info */
    loc = "https://h.example/users/@me";
    ck_assert_str_eq(kube_redirect_location(loc, strlen(loc), buf, sizeof(buf)), loc);
}
END_TEST

START_TEST(test_redirect_is_reported_not_followed)
{
    struct kube_client *c = client_new();
    struct kube_resp resp;
    char desc[512];
    int rc;

    rc = kube_request(c, "GET", "/redirect", NULL, NULL, 0, &resp);
    ck_assert_int_ne(rc, 0);
    ck_assert_int_eq(resp.status, 302);
    kube_resp_describe(&resp, desc, sizeof(desc));
    ck_assert_str_eq(desc, "GET /redirect: 302 Found, redirected to "
                           "https://[redacted]@login.example.net/next");
    ck_assert_ptr_null(strstr(desc, TOKEN));
    kube_resp_clear(&resp);

    rc = kube_request(c, "DELETE", "/redirect-bare", NULL, NULL, 0, &resp);
    ck_assert_int_ne(rc, 0);
    kube_resp_describe(&resp, desc, sizeof(desc));
    ck_assert_str_eq(
        desc, "DELETE /redirect-bare: 307 Temporary Redirect, redirected to (no Location)");
    kube_resp_clear(&resp);

    rc = kube_request(c, "GET", "/redirect-secret", NULL, NULL, 0, &resp);
    ck_assert_int_ne(rc, 0);
    kube_resp_describe(&resp, desc, sizeof(desc));
    ck_assert_str_eq(desc, "GET /redirect-secret: 308 Permanent Redirect, redirected to "
                           "/v1/[redacted]/elsewhere");
    kube_resp_clear(&resp);
    kube_client_free(c);
}
END_TEST

/* Redaction runs before the cut: a cut secret would leave its first half behind. */
START_TEST(test_error_texts_redacted_before_cut)
{
    struct kube_client *c = client_new();
    struct kube_resp resp;
    char desc[1024];

    ck_assert_int_ne(kube_request(c, "GET", "/html", NULL, NULL, 0, &resp), 0);
    ck_assert_int_eq(resp.status, 502);
    kube_resp_describe(&resp, desc, sizeof(desc));
    ck_assert_msg(strstr(desc, "sEcReT") == NULL, "%s", desc);
    ck_assert_msg(strstr(desc, ": 502 Bad Gateway: xxxxx") != NULL, "%s", desc);
    kube_resp_clear(&resp);

    ck_assert_int_ne(kube_request(c, "GET", "/status", NULL, NULL, 0, &resp), 0);
    ck_assert_int_eq(resp.status, 500);
    ck_assert_msg(strstr(resp.message, "sEcReT") == NULL, "%s", resp.message);
    ck_assert_msg(strstr(resp.message, "mmmm[redac") != NULL, "%s", resp.message);
    kube_resp_clear(&resp);
    kube_client_free(c);
}
END_TEST

static void
ignore_event(void *ud, enum kube_event_type type, json_t *obj)
{
    (void)ud;
    (void)type;
    (void)obj;
}

/* Run the informers until cond holds or a generous deadline passes. */
static int
run_until(struct kube_informers *set, const int *counter, int at_least)
{
    int64_t end = kube_wall_ms() + 30000;

    while (__atomic_load_n(counter, __ATOMIC_SEQ_CST) < at_least && kube_wall_ms() < end)
        kube_informers_run(set, 200);
    return __atomic_load_n(counter, __ATOMIC_SEQ_CST) >= at_least;
}

START_TEST(test_watch_redirect_logged)
{
    struct kube_client *c = client_new();
    struct kube_informers *set = NULL;
    struct kube_informer_opts o = {0};
    const char *text;

    o.name = "things";
    o.path = "/api/v1/things";
    o.kind = "Thing";
    o.on_event = ignore_event;
    o.reflector.backoff_initial_ms = 10;
    ck_assert_int_eq(kube_informers_new(c, &set), 0);
    ck_assert_int_eq(kube_informers_add(set, &o, NULL), 0);
    capture_begin();
    /* the second list follows the redirected watch: a redirect relists */
    run_until(set, &n_list_calls, 2);
    text = capture_end();
    ck_assert_int_ge(n_watch_calls, 1);
    ck_assert_int_ge(n_list_calls, 2);
    ck_assert_msg(strstr(text, "things: watch answered 302 Found, redirected to "
                               "http://proxy.example.net/login") != NULL,
                  "%s", text);
    ck_assert_msg(strstr(text, "sid=abc") == NULL, "%s", text);
    kube_informers_free(set);
    kube_client_free(c);
}
END_TEST

/* A watch line that never ends: the watch stops at the limit, and the informer lists
 * again (with a backoff) instead of buffering or re-watching in a loop. */
START_TEST(test_watch_overlong_line_relists)
{
    struct kube_client *c = client_new();
    struct kube_informers *set = NULL;
    struct kube_informer_opts o = {0};
    const char *text;

    o.name = "longs";
    o.path = "/api/v1/longs";
    o.kind = "Long";
    o.on_event = ignore_event;
    o.reflector.backoff_initial_ms = 10;
    ck_assert_int_eq(kube_informers_new(c, &set), 0);
    ck_assert_int_eq(kube_informers_add(set, &o, NULL), 0);
    capture_begin();
    run_until(set, &n_list_calls, 2);
    text = capture_end();
    ck_assert_int_ge(n_list_calls, 2);
    /* every watch was followed by a list, none watched again from the same place */
    ck_assert_int_le(n_watch_calls, n_list_calls);
    ck_assert_msg(strstr(text, "longs: watch event longer than the line limit") != NULL, "%s",
                  text);
    kube_informers_free(set);
    kube_client_free(c);
}
END_TEST

/* The log line limit cuts after redaction: a secret across the 8 KiB cut leaves nothing. */
START_TEST(test_log_redacts_before_cut)
{
    static char pad[8192];
    const char *text;
    size_t at;

    for (at = 8170; at < 8192; at += 3) {
        memset(pad, 'p', at);
        pad[at] = '\0';
        capture_begin();
        log_msg(NSC_LOG_WARNING, "t", "%s%s", pad, SECRET);
        text = capture_end();
        ck_assert_msg(strstr(text, "ppppp") != NULL, "nothing logged");
        ck_assert_msg(strstr(text, "sEcR") == NULL, "at %zu: %s", at, text + strlen(text) - 40);
    }
}
END_TEST

TCase *
test_kube_http_tcase(void)
{
    TCase *tc = tcase_create("http");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_reason_phrases);
    tcase_add_test(tc, test_redirect_location_cleaned);
    tcase_add_test(tc, test_redirect_is_reported_not_followed);
    tcase_add_test(tc, test_error_texts_redacted_before_cut);
    tcase_add_test(tc, test_watch_redirect_logged);
    tcase_add_test(tc, test_watch_overlong_line_relists);
    tcase_add_test(tc, test_log_redacts_before_cut);
    return tc;
}
