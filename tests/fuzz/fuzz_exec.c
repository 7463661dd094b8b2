/* libFuzzer target: an exec credential plugin's output (kube/exec.h). The plugin is
 * /bin/cat printing the input, so the whole path runs: pipe, deadline, ExecCredential
 * checks. Also the RFC 3339 time parser it uses for expirationTimestamp. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "kube/exec.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char api[] = "client.authentication.k8s.io/v1";
    static char cat[] = "/bin/cat";
    struct kube_exec_cred cred;
    struct kube_exec ex;
    struct kube_config cfg;
    char *args[1], *text, err[1024] = "";
    int64_t ms;
    int rc;

    fuzz_quiet();
    text = fuzz_cstr(data, size);
    (void)kube_parse_time(text, &ms);
    free(text);
    args[0] = (char *)fuzz_file(data, size, ".cred");
    memset(&ex, 0, sizeof(ex));
    memset(&cfg, 0, sizeof(cfg));
    memset(&cred, 0, sizeof(cred));
    ex.api_version = api;
    ex.command = cat;
    ex.args = args;
    ex.n_args = 1;
    cfg.exec = &ex;
    cfg.server = (char *)"https://fuzz.invalid:6443";
    rc = kube_exec_run(&cfg, 10000, &cred, err, sizeof(err));
    fuzz_need_reason(rc, err, "kube_exec_run");
    if (rc == 0 && cred.token == NULL && (cred.cert_pem == NULL || cred.key_pem == NULL))
        fuzz_fail("a credential was accepted with neither a token nor a certificate pair");
    kube_exec_cred_clear(&cred);
    fuzz_quiet();
    return 0;
}
