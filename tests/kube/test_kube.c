/* The Kubernetes client's check suite: config, watch splitter, reflector, informers,
 * the raw JSON skimmer,
 * the HTTP client's answers to redirects and error pages. */
#include "config.h"

#include <check.h>
#include <curl/curl.h>
#include <stdlib.h>

#include "test_kube.h"

int
main(void)
{
    Suite *s = suite_create("kube");
    SRunner *sr;
    int failed;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    suite_add_tcase(s, test_kube_config_tcase());
    suite_add_tcase(s, test_kube_watch_tcase());
    suite_add_tcase(s, test_kube_jscan_tcase());
    suite_add_tcase(s, test_kube_http_tcase());
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
