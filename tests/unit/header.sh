#!/bin/sh
# include/nodescaler/backend.h must compile on its own as C99 and as C++98/C++11, both
# alone and in a minimal backend, with pedantic warnings as errors.
set -u
top_srcdir=${top_srcdir:-.}
CC=${CC:-cc}
CXX=${CXX:-c++}
tmp=$(mktemp -d /tmp/nsc-header-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
inc="-I$top_srcdir/include"
warn="-Wall -Wextra -Werror -pedantic"

# Alone: the header must bring every type it uses.
printf '#include <nodescaler/backend.h>\n' >"$tmp/alone.c"
cp "$tmp/alone.c" "$tmp/alone.cc"

# A backend in miniature, using the table macro and the entry declaration.
cat >"$tmp/mini.c" <<'SRC'
#include <nodescaler/backend.h>
static int c(const struct nsc_host *h, const struct nsc_option *o, size_t n,
             struct nsc_backend **out, char *e, size_t el)
{ (void)h; (void)o; (void)n; (void)e; (void)el; *out = NULL; return NSC_ERR_INVALID; }
static void d(struct nsc_backend *b) { (void)b; }
static int r(struct nsc_backend *b) { (void)b; return NSC_OK; }
static int ng(struct nsc_backend *b, const struct nsc_sink *s) { (void)b; (void)s; return 0; }
static int gi(struct nsc_backend *b, const char *g, const struct nsc_sink *s)
{ (void)b; (void)g; (void)s; return 0; }
static int rs(struct nsc_backend *b, const char *g, int32_t t) { (void)b; (void)g; (void)t; return 0; }
static int ev(struct nsc_backend *b, const char *g, const char *const *ids, size_t n)
{ (void)b; (void)g; (void)ids; (void)n; return 0; }
static const char *le(struct nsc_backend *b) { (void)b; return ""; }
static const struct nsc_backend_ops ops = {
    NSC_BACKEND_HEADER("mini", "1.0"), c, d, r, ng, gi, rs, ev, le, NULL
};
NSC_EXPORT const struct nsc_backend_ops *nsc_backend_entry_v1(void) { return &ops; }
SRC
cp "$tmp/mini.c" "$tmp/mini.cc"

failed=0
run() {
    if "$@" 2>"$tmp/err"; then
        echo "ok: $*"
    else
        echo "FAIL: $*"
        cat "$tmp/err"
        failed=1
    fi
}
for f in alone mini; do
    run $CC -std=c99 $warn $inc -c "$tmp/$f.c" -o "$tmp/$f-c99.o"
    run $CC -std=c11 $warn $inc -c "$tmp/$f.c" -o "$tmp/$f-c11.o"
    run $CXX -std=c++98 $warn $inc -c "$tmp/$f.cc" -o "$tmp/$f-cxx98.o"
    run $CXX -std=c++11 $warn $inc -c "$tmp/$f.cc" -o "$tmp/$f-cxx11.o"
done
exit $failed
