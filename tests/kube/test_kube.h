/* The test cases of the Kubernetes client's check suite, one TCase per area. */
#ifndef NSC_TEST_KUBE_H
#define NSC_TEST_KUBE_H

#include <check.h>

TCase *test_kube_config_tcase(void);
TCase *test_kube_watch_tcase(void);
TCase *test_kube_jscan_tcase(void);
TCase *test_kube_http_tcase(void);

/* Sends stderr to a file until capture_end(), which returns what was written (static);
 * in test_kube_config.c. */
void capture_begin(void);
const char *capture_end(void);

#endif
