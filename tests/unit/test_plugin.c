/* Check suite of engine/plugin: every refusal of the loader with its message, the sinks'
 * record validation, the host table (options, clocks, logging, HTTP on loopback). */
#include "config.h"

#include "log.h"
#include "plugin/plugin.h"

#include <check.h>
#include <elf.h>
#include <jansson.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define ERR_LEN 1024

#define assert_contains(hay, needle)                                                           \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "expected \"%s\" in \"%s\"", (needle), (hay))

static char tmpdir[256];

static void
tmp_setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/nsc-test-plugin-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
tmp_teardown(void)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static void
write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    FILE *f = fopen(path, "wb");

    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(path, mode), 0);
}

static void
copy_file(const char *from, const char *to, mode_t mode)
{
    char buf[1 << 16];
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    size_t n;

    ck_assert_msg(in != NULL, "cannot open %s", from);
    ck_assert_ptr_nonnull(out);
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
    ck_assert_int_eq(chmod(to, mode), 0);
}

static void
make_dir(const char *path, mode_t mode)
{
    ck_assert_msg(mkdir(path, 0700) == 0, "mkdir %s", path);
    ck_assert_int_eq(chmod(path, mode), 0);
}

/* Path of a copy of a test plugin of this build tree, in tmpdir (mode 0700 under /tmp):
 * the loader checks every directory above a backend, and those above the build tree
 * belong to whoever set up the machine, so the tests load from a tree they made. */
static void
tp_path(const char *name, char *buf, size_t len)
{
    const char *top = getenv("top_builddir");
    char from[512], dir[300];
    struct stat st;

    snprintf(from, sizeof(from), "%s/tests/plugins/.libs/%s.so", top ? top : ".", name);
    snprintf(dir, sizeof(dir), "%s/plugins", tmpdir);
    if (stat(dir, &st) != 0)
        make_dir(dir, 0755);
    snprintf(buf, len, "%s/%s.so", dir, name);
    if (stat(buf, &st) != 0)
        copy_file(from, buf, 0644);
}

/* Sends stderr to a file until capture_end(), which returns what was written (static). */
static int saved_stderr = -1;
static char capture_path[300];

static void
capture_begin(void)
{
    int fd;

    snprintf(capture_path, sizeof(capture_path), "%s/stderr.txt", tmpdir);
    fflush(stderr);
    saved_stderr = dup(2);
    fd = open(capture_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    dup2(fd, 2);
    close(fd);
}

static const char *
capture_end(void)
{
    static char text[16384];
    FILE *f;
    size_t n;

    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    f = fopen(capture_path, "r");
    ck_assert_ptr_nonnull(f);
    n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* ---- loader ---- */

static const struct {
    const char *plugin;
    const char *message;
} refusals[] = {
    {"tp_noentry", "no nsc_backend_entry_v1 symbol: not a nodescaler backend"},
    {"tp_abi2",
     "no nsc_backend_entry_v1 symbol: built for ABI 2 (exports nsc_backend_entry_v2), "
     "this core implements ABI 1.0"},
    {"tp_major", "built for ABI 2.0, this core implements ABI 1.0 (major version differs"},
    {"tp_minor", "built for ABI 1.1, newer than this core's ABI 1.0 (minor version newer"},
    {"tp_small", "operations table too small: struct_size "},
    {"tp_nullop", "backend 'testplugin' (ABI 1.0, core ABI 1.0): mandatory operation 'refresh' "
                  "is NULL"},
};

START_TEST(loader_refuses_bad_table)
{
    char path[512], err[ERR_LEN], real[4096];
    struct plugin *p = (struct plugin *)1;
    int rc;

    tp_path(refusals[_i].plugin, path, sizeof(path));
    rc = plugin_load(path, &p, err, sizeof(err));
    ck_assert_int_eq(rc, NSC_ERR_INVALID);
    ck_assert_ptr_null(p);
    assert_contains(err, refusals[_i].message);
    /* The message names the file, by its absolute path. */
    ck_assert_ptr_nonnull(realpath(path, real));
    assert_contains(err, real);
}
END_TEST

START_TEST(loader_table_too_small_names_sizes)
{
    char path[512], err[ERR_LEN], want[128];
    struct plugin *p;

    tp_path("tp_small", path, sizeof(path));
    ck_assert_int_lt(plugin_load(path, &p, err, sizeof(err)), 0);
    snprintf(want, sizeof(want), "struct_size %zu, ABI 1.0 needs at least %zu bytes",
             offsetof(struct nsc_backend_ops, last_error), sizeof(struct nsc_backend_ops));
    assert_contains(err, want);
}
END_TEST

START_TEST(loader_accepts_good)
{
    char path[512], err[ERR_LEN] = "";
    struct plugin *p = NULL;
    const struct nsc_backend_ops *ops;

    tp_path("tp_good", path, sizeof(path));
    ck_assert_int_eq(plugin_load(path, &p, err, sizeof(err)), 0);
    ck_assert_str_eq(err, "");
    ops = plugin_ops(p);
    ck_assert_str_eq(ops->name, "testplugin");
    ck_assert_str_eq(ops->version, "0.0.1");
    ck_assert_ptr_nonnull(ops->group_for_node);
    ck_assert_int_eq(plugin_path(p)[0], '/');
    plugin_unload(p);
}
END_TEST

START_TEST(loader_resolves_name_along_path)
{
    char dir[600], err[ERR_LEN];
    struct plugin *p = NULL;

    char from[512], to[512];

    /* the layout of a libtool build tree: DIR/.libs/NAME.so */
    tp_path("tp_good", from, sizeof(from));
    snprintf(to, sizeof(to), "%s/tests", tmpdir);
    make_dir(to, 0755);
    snprintf(to, sizeof(to), "%s/tests/plugins", tmpdir);
    make_dir(to, 0755);
    snprintf(to, sizeof(to), "%s/tests/plugins/.libs", tmpdir);
    make_dir(to, 0755);
    snprintf(to, sizeof(to), "%s/tests/plugins/.libs/tp_good.so", tmpdir);
    copy_file(from, to, 0644);
    snprintf(dir, sizeof(dir), "%s:%s/tests/plugins", tmpdir, tmpdir);
    setenv("NSC_BACKEND_PATH", dir, 1);
    ck_assert_int_eq(plugin_load("tp_good", &p, err, sizeof(err)), 0);
    assert_contains(plugin_path(p), "/tests/plugins/.libs/tp_good.so");
    plugin_unload(p);
}
END_TEST

START_TEST(loader_no_such_name)
{
    char err[ERR_LEN], want[512];
    struct plugin *p;

    setenv("NSC_BACKEND_PATH", tmpdir, 1);
    ck_assert_int_eq(plugin_load("nosuch", &p, err, sizeof(err)), NSC_ERR_NOT_FOUND);
    snprintf(want, sizeof(want),
             "cannot load backend 'nosuch': no such file (looked for %s/nosuch.so", tmpdir);
    assert_contains(err, want);
    assert_contains(err, NSC_BACKEND_DIR "/nosuch.so");
}
END_TEST

START_TEST(loader_no_such_path)
{
    char err[ERR_LEN];
    struct plugin *p;

    ck_assert_int_eq(plugin_load("/nonexistent/dir/x.so", &p, err, sizeof(err)),
                     NSC_ERR_NOT_FOUND);
    ck_assert_str_eq(err, "cannot load backend /nonexistent/dir/x.so: no such file");
}
END_TEST

START_TEST(loader_bad_name)
{
    char err[ERR_LEN];
    struct plugin *p;

    ck_assert_int_eq(plugin_load("a.b", &p, err, sizeof(err)), NSC_ERR_INVALID);
    assert_contains(err, "cannot load backend 'a.b': a backend name has only letters");
    ck_assert_int_eq(plugin_load("", &p, err, sizeof(err)), NSC_ERR_INVALID);
    assert_contains(err, "no backend named");
}
END_TEST

START_TEST(loader_not_elf)
{
    char path[512], err[ERR_LEN], want[600];
    struct plugin *p;

    snprintf(path, sizeof(path), "%s/text.so", tmpdir);
    write_file(path, "#!/bin/sh\necho not a library\n", 29, 0644);
    ck_assert_int_eq(plugin_load(path, &p, err, sizeof(err)), NSC_ERR_INVALID);
    snprintf(want, sizeof(want), "cannot load backend %s: not a shared object (no ELF header)",
             path);
    ck_assert_str_eq(err, want);
}
END_TEST

/* A 64-byte file that starts like an ELF file of this type and has nothing more. */
static void
write_elf_stub(const char *path, int type)
{
    unsigned char hdr[64];

    memset(hdr, 0, sizeof(hdr));
    memcpy(hdr, ELFMAG, SELFMAG);
    hdr[EI_CLASS] = ELFCLASS64;
    hdr[EI_DATA] = ELFDATA2LSB;
    hdr[EI_VERSION] = EV_CURRENT;
    hdr[EI_NIDENT] = (unsigned char)type;
    write_file(path, hdr, sizeof(hdr), 0644);
}

START_TEST(loader_elf_object_file)
{
    char path[512], err[ERR_LEN];
    struct plugin *p;

    snprintf(path, sizeof(path), "%s/object.so", tmpdir);
    write_elf_stub(path, ET_REL);
    ck_assert_int_eq(plugin_load(path, &p, err, sizeof(err)), NSC_ERR_INVALID);
    assert_contains(err, "object.so: not a shared object (ELF type 1, an object file)");
}
END_TEST

START_TEST(loader_truncated_elf)
{
    char path[512], err[ERR_LEN];
    struct plugin *p;

    snprintf(path, sizeof(path), "%s/truncated.so", tmpdir);
    write_elf_stub(path, ET_DYN);
    ck_assert_int_eq(plugin_load(path, &p, err, sizeof(err)), NSC_ERR_INVALID);
    assert_contains(err, "truncated.so: dlopen failed: ");
}
END_TEST

START_TEST(loader_directory)
{
    char err[ERR_LEN];
    struct plugin *p;

    ck_assert_int_eq(plugin_load(tmpdir, &p, err, sizeof(err)), NSC_ERR_INVALID);
    assert_contains(err, ": not a regular file");
}
END_TEST

static const struct {
    mode_t mode;
    const char *message;
} writable[] = {
    {0666, "refused: file is group- or world-writable (mode 0666); run chmod go-w on it"},
    {0620, "refused: file is group- or world-writable (mode 0620)"},
    {0602, "refused: file is group- or world-writable (mode 0602)"},
};

START_TEST(loader_refuses_writable)
{
    char from[512], to[512], err[ERR_LEN];
    struct plugin *p = NULL;

    tp_path("tp_good", from, sizeof(from));
    snprintf(to, sizeof(to), "%s/copy.so", tmpdir);
    /* The same bytes with a safe mode load: only the mode is refused. */
    copy_file(from, to, 0755);
    ck_assert_int_eq(plugin_load(to, &p, err, sizeof(err)), 0);
    plugin_unload(p);
    ck_assert_int_eq(chmod(to, writable[_i].mode), 0);
    ck_assert_int_eq(plugin_load(to, &p, err, sizeof(err)), NSC_ERR_INVALID);
    assert_contains(err, to);
    assert_contains(err, writable[_i].message);
}
END_TEST

/* A copy of tp_good at DIR/NAME under tmpdir, DIR made with dir_mode (NULL: tmpdir). */
static void
tp_copy_in(const char *dir, mode_t dir_mode, const char *name, char *out, size_t len)
{
    char from[512], d[400];

    tp_path("tp_good", from, sizeof(from));
    if (dir != NULL) {
        snprintf(d, sizeof(d), "%s/%s", tmpdir, dir);
        make_dir(d, dir_mode);
    } else {
        snprintf(d, sizeof(d), "%s", tmpdir);
    }
    snprintf(out, len, "%s/%s", d, name);
    copy_file(from, out, 0644);
}

START_TEST(loader_refuses_foreign_owner)
{
    char to[512], err[ERR_LEN];
    struct plugin *p = NULL;

    ck_assert_msg(geteuid() == 0, "this test changes owners: run it as root");
    tp_copy_in(NULL, 0, "foreign.so", to, sizeof(to));
    ck_assert_int_eq(chown(to, 65534, 65534), 0);
    ck_assert_int_eq(plugin_load(to, &p, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_ptr_null(p);
    assert_contains(err, to);
    assert_contains(err, "refused: file is owned by uid 65534, not by root or uid 0");
}
END_TEST

START_TEST(loader_refuses_foreign_directory)
{
    char to[512], dir[512], err[ERR_LEN], want[1100];
    struct plugin *p = NULL;

    ck_assert_msg(geteuid() == 0, "this test changes owners: run it as root");
    tp_copy_in("theirs", 0755, "x.so", to, sizeof(to));
    snprintf(dir, sizeof(dir), "%s/theirs", tmpdir);
    ck_assert_int_eq(chown(dir, 65534, 65534), 0);
    ck_assert_int_eq(plugin_load(to, &p, err, sizeof(err)), NSC_ERR_INVALID);
    snprintf(want, sizeof(want), "refused: directory %s is owned by uid 65534", dir);
    assert_contains(err, want);
}
END_TEST

static const struct {
    mode_t mode;
    const char *suffix;
} open_dirs[] = {
    {0777, " is group- or world-writable and not sticky (mode 0777); run chmod go-w on it"},
    {0775, " is group- or world-writable and not sticky (mode 0775)"},
    {0757, " is group- or world-writable and not sticky (mode 0757)"},
};

/* A writable parent lets its writers rename their own file into the backend's place. */
START_TEST(loader_refuses_writable_directory)
{
    char to[512], err[ERR_LEN], want[1100];
    struct plugin *p = NULL;

    tp_copy_in("open", 0755, "x.so", to, sizeof(to));
    ck_assert_int_eq(plugin_load(to, &p, err, sizeof(err)), 0);
    plugin_unload(p);
    snprintf(want, sizeof(want), "%s/open", tmpdir);
    ck_assert_int_eq(chmod(want, open_dirs[_i].mode), 0);
    p = NULL;
    ck_assert_int_eq(plugin_load(to, &p, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_ptr_null(p);
    snprintf(want, sizeof(want), "cannot load backend %s: refused: directory %s/open%s", to,
             tmpdir, open_dirs[_i].suffix);
    assert_contains(err, want);
}
END_TEST

START_TEST(loader_refuses_writable_grandparent)
{
    char to[512], dir[512], err[ERR_LEN], want[1100];
    struct plugin *p = NULL;

    snprintf(dir, sizeof(dir), "%s/group", tmpdir);
    make_dir(dir, 0770);
    tp_copy_in("group/sub", 0755, "x.so", to, sizeof(to));
    ck_assert_int_eq(plugin_load(to, &p, err, sizeof(err)), NSC_ERR_INVALID);
    snprintf(want, sizeof(want), "refused: directory %s is group- or world-writable", dir);
    assert_contains(err, want);
}
END_TEST

/* A sticky directory (/tmp) lets only an entry's owner rename or remove it. */
START_TEST(loader_accepts_sticky_directory)
{
    char to[512], err[ERR_LEN] = "";
    struct plugin *p = NULL;

    tp_copy_in("sticky", 01777, "x.so", to, sizeof(to));
    ck_assert_msg(plugin_load(to, &p, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(plugin_ops(p)->name, "testplugin");
    plugin_unload(p);
}
END_TEST

/* The directories checked are those of the real file, not of a link to it. */
START_TEST(loader_checks_real_path_of_link)
{
    char to[512], link[512], err[ERR_LEN], want[1100];
    struct plugin *p = NULL;

    tp_copy_in("open", 0777, "x.so", to, sizeof(to));
    snprintf(link, sizeof(link), "%s/link.so", tmpdir);
    ck_assert_int_eq(symlink(to, link), 0);
    ck_assert_int_eq(plugin_load(link, &p, err, sizeof(err)), NSC_ERR_INVALID);
    snprintf(want, sizeof(want), "cannot load backend %s: refused: directory %s/open is", to,
             tmpdir);
    assert_contains(err, want);
}
END_TEST

/* Loads go through /proc/self/fd/N; a name the dynamic linker saw before must not hand
 * back the object loaded under it. */
START_TEST(loader_loads_what_it_checked)
{
    char good[512], bad[512], err[ERR_LEN];
    struct plugin *p = NULL, *q = NULL;

    tp_path("tp_good", good, sizeof(good));
    tp_path("tp_major", bad, sizeof(bad));
    ck_assert_int_eq(plugin_load(good, &p, err, sizeof(err)), 0);
    plugin_unload(p);
    ck_assert_int_eq(plugin_load(bad, &q, err, sizeof(err)), NSC_ERR_INVALID);
    assert_contains(err, "built for ABI 2.0");
    ck_assert_int_eq(plugin_load(good, &p, err, sizeof(err)), 0);
    plugin_unload(p);
}
END_TEST

START_TEST(loader_refuses_fifo)
{
    char path[512], err[ERR_LEN];
    struct plugin *p = NULL;

    snprintf(path, sizeof(path), "%s/fifo.so", tmpdir);
    ck_assert_int_eq(mkfifo(path, 0644), 0);
    ck_assert_int_eq(plugin_load(path, &p, err, sizeof(err)), NSC_ERR_INVALID);
    assert_contains(err, "fifo.so: not a regular file");
}
END_TEST

/* ---- backend instances and sinks ---- */

static struct plugin *good_plugin;

static struct backend *
make_backend(const char *mode, char *err)
{
    char path[512];
    struct nsc_option opt = {"mode", mode};
    struct backend *b = NULL;
    int rc;

    tp_path("tp_good", path, sizeof(path));
    rc = plugin_load(path, &good_plugin, err, ERR_LEN);
    ck_assert_msg(rc == 0, "%s", err);
    rc = backend_create(good_plugin, &opt, 1, &b, err, ERR_LEN);
    ck_assert_msg(rc == 0, "%s", err);
    return b;
}

static void
drop_backend(struct backend *b)
{
    backend_destroy(b);
    plugin_unload(good_plugin);
    good_plugin = NULL;
}

START_TEST(backend_reads_groups)
{
    char err[ERR_LEN];
    struct backend *b = make_backend("ok", err);
    struct group_set set;
    const struct group_rec *g;

    ck_assert_str_eq(backend_name(b), "testplugin");
    ck_assert_int_eq(backend_refresh(b, err, sizeof(err)), 0);
    ck_assert_int_eq(backend_read_groups(b, &set, err, sizeof(err)), 0);
    ck_assert_uint_eq(set.n_groups, 2);
    g = &set.groups[0];
    ck_assert_str_eq(g->id, "alpha");
    ck_assert_ptr_null(g->name);
    ck_assert_int_eq(g->min_size, 0);
    ck_assert_int_eq(g->max_size, 5);
    ck_assert_int_eq(g->target_size, 1);
    ck_assert_str_eq(g->template_node_json, "{\"kind\":\"Node\"}");
    ck_assert_uint_eq(g->n_instances, 2);
    ck_assert_str_eq(g->instances[0].provider_id, "tp://alpha-1");
    ck_assert_int_eq(g->instances[0].state, NSC_INSTANCE_RUNNING);
    ck_assert_ptr_null(g->instances[0].error_code);
    ck_assert_str_eq(g->instances[1].provider_id, "tp://alpha-2");
    ck_assert_int_eq(g->instances[1].state, NSC_INSTANCE_CREATING);
    ck_assert_int_eq(g->instances[1].error_class, NSC_ERROR_CLASS_OUT_OF_RESOURCES);
    ck_assert_str_eq(g->instances[1].error_code, "QUOTA");
    ck_assert_str_eq(g->instances[1].error_message, "quota exceeded");
    g = &set.groups[1];
    ck_assert_str_eq(g->id, "beta");
    ck_assert_str_eq(g->name, "Beta pool");
    ck_assert_ptr_null(g->template_node_json);
    ck_assert_uint_eq(g->n_instances, 0);
    group_set_free(&set);
    ck_assert_ptr_null(set.groups);
    ck_assert_uint_eq(set.n_groups, 0);
    drop_backend(b);
}
END_TEST

static const struct {
    const char *mode;
    int status;
    const char *message;
} bad_records[] = {
    {"no-id", NSC_ERR_INVALID,
     "backend testplugin: node_groups: group record 0: field id is missing or empty"},
    {"min-max", NSC_ERR_INVALID, "group alpha: field min_size 6 is greater than max_size 5"},
    {"negative-min", NSC_ERR_INVALID, "group alpha: field min_size is negative (-1)"},
    {"target", NSC_ERR_INVALID, "group alpha: field target_size 9 is outside [0, 5]"},
    {"small-record", NSC_ERR_INVALID, "group record 0: NULL or struct_size 8 smaller than"},
    {"dup-id", NSC_ERR_INVALID, "group alpha: field id is a duplicate"},
    {"instance-in-groups", NSC_ERR_INVALID, "instance record emitted during node_groups"},
    {"group-in-instances", NSC_ERR_INVALID,
     "group_instances alpha: group record emitted during group_instances of group alpha"},
    {"no-provider-id", NSC_ERR_INVALID,
     "group alpha: instance record 0: field provider_id is missing or empty"},
    {"bad-state", NSC_ERR_INVALID, "instance tp://alpha-1: field state has unknown value 42"},
    {"bad-error-class", NSC_ERR_INVALID,
     "instance tp://alpha-1: field error_class has unknown value 9"},
    {"dup-instance", NSC_ERR_INVALID,
     "group alpha: instance tp://alpha-1: field provider_id is a duplicate"},
    {"cross-dup", NSC_ERR_INVALID, "instance tp://alpha-1 is listed by groups alpha and beta"},
    {"instances-fail", NSC_ERR_AUTH,
     "backend testplugin: group_instances alpha failed (auth): listing alpha failed"},
};

START_TEST(backend_refuses_bad_records)
{
    char err[ERR_LEN] = "";
    struct backend *b = make_backend(bad_records[_i].mode, err);
    struct group_set set;

    ck_assert_int_eq(backend_read_groups(b, &set, err, sizeof(err)), bad_records[_i].status);
    assert_contains(err, bad_records[_i].message);
    ck_assert_ptr_null(set.groups);
    ck_assert_uint_eq(set.n_groups, 0);
    drop_backend(b);
}
END_TEST

START_TEST(backend_refresh_failures)
{
    char err[ERR_LEN];
    struct backend *b = make_backend("refresh-fail", err);

    ck_assert_int_eq(backend_refresh(b, err, sizeof(err)), NSC_ERR_TRANSIENT);
    ck_assert_str_eq(err, "backend testplugin: refresh failed (transient): cloud said 503");
    drop_backend(b);
    b = make_backend("bad-status", err);
    /* A status outside the enum becomes internal, so callers can switch on the enum. */
    ck_assert_int_eq(backend_refresh(b, err, sizeof(err)), NSC_ERR_INTERNAL);
    ck_assert_str_eq(err, "backend testplugin: refresh failed (unknown status)");
    drop_backend(b);
}
END_TEST

START_TEST(backend_create_failures)
{
    char path[512], err[ERR_LEN];
    struct nsc_option opts[] = {{"mode", "create-fail"}, {"secret", "hunter2-secret"}};
    struct backend *b = (struct backend *)1;
    struct plugin *p;

    tp_path("tp_good", path, sizeof(path));
    ck_assert_int_eq(plugin_load(path, &p, err, sizeof(err)), 0);
    ck_assert_int_eq(backend_create(p, opts, 2, &b, err, sizeof(err)), NSC_ERR_AUTH);
    ck_assert_ptr_null(b);
    ck_assert_str_eq(err, "backend testplugin: create failed (auth): option secret: key "
                          "[redacted] was refused");
    /* a buffer that ends inside the secret: redacted before the cut, nothing of it left */
    {
        char small[sizeof("backend testplugin: create failed (auth): option secret: key ") + 4];

        ck_assert_int_eq(backend_create(p, opts, 2, &b, small, sizeof(small)), NSC_ERR_AUTH);
        ck_assert_str_eq(small, "backend testplugin: create failed (auth): option secret: key "
                                "[red");
    }
    opts[0].value = "create-null";
    ck_assert_int_eq(backend_create(p, opts, 1, &b, err, sizeof(err)), NSC_ERR_INTERNAL);
    ck_assert_str_eq(err, "backend testplugin: create returned success without an instance");
    plugin_unload(p);
    log_redact_clear();
}
END_TEST

START_TEST(backend_logs_with_name_and_redacts)
{
    char path[512], err[ERR_LEN];
    struct nsc_option opts[] = {{"secret", "hunter2-secret"}};
    struct backend *b;
    struct plugin *p;
    const char *out;

    tp_path("tp_good", path, sizeof(path));
    ck_assert_int_eq(plugin_load(path, &p, err, sizeof(err)), 0);
    capture_begin();
    ck_assert_int_eq(backend_create(p, opts, 1, &b, err, sizeof(err)), 0);
    out = capture_end();
    assert_contains(out, " testplugin] created in mode ok with secret [redacted]");
    ck_assert_ptr_null(strstr(out, "hunter2"));
    backend_destroy(b);
    plugin_unload(p);
    log_redact_clear();
}
END_TEST

START_TEST(backend_resize_and_evict)
{
    char err[ERR_LEN];
    struct backend *b = make_backend("ok", err);
    const char *ids[] = {"tp://alpha-1"};
    struct group_set set;

    ck_assert_int_eq(backend_resize(b, "alpha", 3, err, sizeof(err)), 0);
    ck_assert_int_eq(backend_read_groups(b, &set, err, sizeof(err)), 0);
    ck_assert_int_eq(set.groups[0].target_size, 3);
    group_set_free(&set);
    ck_assert_int_eq(backend_resize(b, "alpha", 9, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_str_eq(err, "backend testplugin: resize alpha failed (invalid): target 9 above "
                          "max 5");
    ck_assert_int_eq(backend_resize(b, "nope", 1, err, sizeof(err)), NSC_ERR_NOT_FOUND);
    assert_contains(err, "resize nope failed (not found): no group nope");
    ck_assert_int_eq(backend_resize(b, "alpha", -1, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_int_eq(backend_evict(b, "alpha", ids, 1, err, sizeof(err)), 0);
    ck_assert_int_eq(backend_read_groups(b, &set, err, sizeof(err)), 0);
    ck_assert_int_eq(set.groups[0].target_size, 2);
    group_set_free(&set);
    ck_assert_int_eq(backend_evict(b, "alpha", ids, 0, err, sizeof(err)), NSC_ERR_INVALID);
    assert_contains(err, "evict: no group or no instances given");
    ck_assert_int_eq(backend_evict(b, "beta", ids, 1, err, sizeof(err)), NSC_ERR_INVALID);
    assert_contains(err, "evict beta failed (invalid): cannot evict 1 from beta");
    drop_backend(b);
}
END_TEST

START_TEST(backend_group_for_node_works)
{
    char err[ERR_LEN];
    struct backend *b = make_backend("ok", err);
    struct group_set set;

    ck_assert_int_eq(backend_group_for_node(b, "tp://alpha-7", &set, err, sizeof(err)), 0);
    ck_assert_uint_eq(set.n_groups, 1);
    ck_assert_str_eq(set.groups[0].id, "alpha");
    group_set_free(&set);
    ck_assert_int_eq(backend_group_for_node(b, "tp://x", &set, err, sizeof(err)),
                     NSC_ERR_NOT_FOUND);
    assert_contains(err,
                    "group_for_node tp://x failed (not found): tp://x belongs to no group");
    drop_backend(b);
}
END_TEST

/* ---- host table ---- */

START_TEST(host_options_then_environment)
{
    struct nsc_option opts[] = {{"zone", "ch-gva-2"}, {"zone", "de-fra-1"}, {"empty", ""}};
    struct nsc_host *h = host_new("t", opts, 3, NULL);
    const char *v1;

    ck_assert_ptr_nonnull(h);
    ck_assert_uint_eq(h->struct_size, sizeof(struct nsc_host));
    ck_assert_uint_eq(h->abi_major, NSC_ABI_MAJOR);
    /* The first --backend-opt wins, and wins over the environment. */
    setenv("NSC_TEST_ZONE", "at-vie-1", 1);
    ck_assert_str_eq(h->option(h, "zone", "NSC_TEST_ZONE"), "ch-gva-2");
    ck_assert_str_eq(h->option(h, "empty", NULL), "");
    unsetenv("NSC_TEST_KEY");
    ck_assert_ptr_null(h->option(h, "key", "NSC_TEST_KEY"));
    ck_assert_ptr_null(h->option(h, "key", NULL));
    setenv("NSC_TEST_KEY", "first", 1);
    v1 = h->option(h, "key", "NSC_TEST_KEY");
    ck_assert_str_eq(v1, "first");
    setenv("NSC_TEST_KEY", "second", 1);
    ck_assert_str_eq(h->option(h, "key", "NSC_TEST_KEY"), "second");
    /* Earlier answers stay valid for the host's lifetime. */
    ck_assert_str_eq(v1, "first");
    host_free(h);
}
END_TEST

START_TEST(host_fake_and_real_clock)
{
    int64_t fake = 1000;
    struct nsc_host *h = host_new("t", NULL, 0, &fake);
    struct nsc_host *real = host_new("t", NULL, 0, NULL);
    int64_t m1, m2;

    ck_assert_int_eq(h->now_ms(h), 1000);
    ck_assert_int_eq(h->monotonic_ms(h), 1000);
    fake = 61000;
    ck_assert_int_eq(h->now_ms(h), 61000);
    ck_assert_int_eq(h->monotonic_ms(h), 61000);
    /* After 2026-01-01 in ms. */
    ck_assert_int_gt(real->now_ms(real), (int64_t)1767225600000);
    m1 = real->monotonic_ms(real);
    m2 = real->monotonic_ms(real);
    ck_assert_int_ge(m2, m1);
    host_free(h);
    host_free(real);
}
END_TEST

/* A loopback HTTP server for the host's HTTP calls. */
struct upload {
    char data[4096];
    size_t len;
};

static enum MHD_Result
srv_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
            const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    struct upload *up = *con_cls;
    struct MHD_Response *resp;
    char body[8192];
    const char *hdr;
    enum MHD_Result ret;
    unsigned int status = MHD_HTTP_OK;

    (void)cls;
    (void)version;
    if (up == NULL) {
        up = calloc(1, sizeof(*up));
        *con_cls = up;
        return up ? MHD_YES : MHD_NO;
    }
    if (*upload_size > 0) {
        size_t n = *upload_size;

        if (n > sizeof(up->data) - 1 - up->len)
            n = sizeof(up->data) - 1 - up->len;
        memcpy(up->data + up->len, upload_data, n);
        up->len += n;
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/slow") == 0)
        usleep(1500 * 1000);
    hdr = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Req");
    snprintf(body, sizeof(body), "%s %s x-req=%s ua=%s body=%.*s", method, url, hdr ? hdr : "-",
             MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "User-Agent"), (int)up->len,
             up->data);
    if (strcmp(url, "/redirect") == 0)
        status = MHD_HTTP_FOUND;
    else if (strcmp(url, "/missing") == 0)
        status = MHD_HTTP_NOT_FOUND;
    resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "X-Test", "yes");
    MHD_add_response_header(resp, "Retry-After", "7");
    if (status == MHD_HTTP_FOUND)
        MHD_add_response_header(resp, "Location", "/elsewhere");
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void
srv_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
              enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

static struct MHD_Daemon *
srv_start(unsigned *port)
{
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;
    struct sockaddr_in sa;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                         NULL, NULL, srv_handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                         MHD_OPTION_NOTIFY_COMPLETED, srv_completed, NULL, MHD_OPTION_END);
    ck_assert_ptr_nonnull(d);
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    ck_assert_ptr_nonnull(info);
    *port = info->port;
    return d;
}

static void
req_init(struct nsc_http_request *req, const char *method, const char *url)
{
    memset(req, 0, sizeof(*req));
    req->struct_size = sizeof(*req);
    req->method = method;
    req->url = url;
}

START_TEST(host_http_round_trip)
{
    struct nsc_host *h = host_new("t", NULL, 0, NULL);
    struct nsc_http_header hdrs[] = {{"X-Req", "abc"}, {"Content-Type", "application/json"}};
    struct nsc_http_request req;
    struct nsc_http_response resp;
    char url[128];
    unsigned port;
    struct MHD_Daemon *d = srv_start(&port);

    snprintf(url, sizeof(url), "http://127.0.0.1:%u/things?x=1", port);
    req_init(&req, "POST", url);
    req.headers = hdrs;
    req.n_headers = 2;
    req.body = "{\"a\":1}";
    req.body_len = 7;
    ck_assert_int_eq(h->http(h, &req, &resp), NSC_OK);
    ck_assert_int_eq(resp.status, 200);
    assert_contains(resp.body, "POST /things x-req=abc ua=nodescaler/");
    assert_contains(resp.body, "body={\"a\":1}");
    ck_assert_uint_eq(resp.body_len, strlen(resp.body));
    ck_assert_str_eq(h->http_header(h, &resp, "x-test"), "yes");
    ck_assert_str_eq(h->http_header(h, &resp, "Retry-After"), "7");
    ck_assert_ptr_null(h->http_header(h, &resp, "X-Absent"));
    h->http_release(h, &resp);
    ck_assert_ptr_null(resp.body);

    /* The same handle again: GET, and a 404 is still a response. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/missing", port);
    req_init(&req, "GET", url);
    ck_assert_int_eq(h->http(h, &req, &resp), NSC_OK);
    ck_assert_int_eq(resp.status, 404);
    assert_contains(resp.body, "GET /missing x-req=- ");
    h->http_release(h, &resp);

    /* Redirects are reported, never followed. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/redirect", port);
    req_init(&req, "DELETE", url);
    ck_assert_int_eq(h->http(h, &req, &resp), NSC_OK);
    ck_assert_int_eq(resp.status, 302);
    ck_assert_str_eq(h->http_header(h, &resp, "Location"), "/elsewhere");
    h->http_release(h, &resp);
    MHD_stop_daemon(d);
    host_free(h);
}
END_TEST

START_TEST(host_http_timeout)
{
    struct nsc_host *h = host_new("t", NULL, 0, NULL);
    struct nsc_http_request req;
    struct nsc_http_response resp;
    struct timeval t0, t1;
    char url[128];
    unsigned port;
    struct MHD_Daemon *d = srv_start(&port);
    long elapsed_ms;

    snprintf(url, sizeof(url), "http://127.0.0.1:%u/slow", port);
    req_init(&req, "GET", url);
    req.timeout_ms = 200;
    memset(&resp, 0x5a, sizeof(resp));
    gettimeofday(&t0, NULL);
    ck_assert_int_eq(h->http(h, &req, &resp), NSC_ERR_TRANSIENT);
    gettimeofday(&t1, NULL);
    elapsed_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
    ck_assert_int_lt(elapsed_ms, 1200);
    /* On failure the response is untouched. */
    ck_assert_int_eq(resp.status, 0x5a5a5a5a5a5a5a5a);
    MHD_stop_daemon(d);
    host_free(h);
}
END_TEST

START_TEST(host_http_refusals)
{
    struct nsc_host *h = host_new("t", NULL, 0, NULL);
    struct nsc_http_header bad = {"X-Evil", "a\r\nHost: other"};
    struct nsc_http_request req;
    struct nsc_http_response resp;
    const char *out;
    char url[128];
    unsigned port;
    struct MHD_Daemon *d = srv_start(&port);

    snprintf(url, sizeof(url), "http://127.0.0.1:%u/x", port);
    req_init(&req, "FETCH", url);
    ck_assert_int_eq(h->http(h, &req, &resp), NSC_ERR_INVALID);
    req_init(&req, "GET", "ftp://127.0.0.1/x");
    ck_assert_int_eq(h->http(h, &req, &resp), NSC_ERR_INVALID);
    req_init(&req, "GET", url);
    req.headers = &bad;
    req.n_headers = 1;
    ck_assert_int_eq(h->http(h, &req, &resp), NSC_ERR_INVALID);
    req_init(&req, "GET", url);
    req.struct_size = 8;
    ck_assert_int_eq(h->http(h, &req, &resp), NSC_ERR_INVALID);
    /* TLS against a plain-HTTP port fails the handshake: transient, never plain text. */
    snprintf(url, sizeof(url), "https://127.0.0.1:%u/x", port);
    req_init(&req, "GET", url);
    req.timeout_ms = 2000;
    ck_assert_int_eq(h->http(h, &req, &resp), NSC_ERR_TRANSIENT);
    /* Turning verification off is logged, and the request is made. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/x?sig=abc", port);
    req_init(&req, "GET", url);
    req.insecure_skip_tls_verify = true;
    capture_begin();
    ck_assert_int_eq(h->http(h, &req, &resp), NSC_OK);
    out = capture_end();
    assert_contains(out, "/x: TLS verification is disabled by configuration");
    /* Query strings can carry signatures: they stay out of the log. */
    ck_assert_ptr_null(strstr(out, "sig=abc"));
    h->http_release(h, &resp);
    MHD_stop_daemon(d);
    /* Nothing listens any more. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/x", port);
    req_init(&req, "GET", url);
    ck_assert_int_eq(h->http(h, &req, &resp), NSC_ERR_TRANSIENT);
    host_free(h);
}
END_TEST

/* ---- log lines ---- */

static size_t
count_char(const char *s, char c)
{
    size_t n = 0;

    for (; *s; s++)
        n += *s == c;
    return n;
}

/* A pod name can carry a newline and terminal escapes: one message stays one line. */
START_TEST(log_text_escapes_control_bytes)
{
    const char *out;

    log_set_format(LOG_FORMAT_TEXT);
    capture_begin();
    log_msg(
        NSC_LOG_INFO, "kube\nx", "deleted pod %s",
        "a\nI1205 10:00:00.000000       1 kube] forged\x1b[31m\r\t\x01\x7f\xc2\x9b|\xc3\xa9");
    out = capture_end();
    ck_assert_uint_eq(count_char(out, '\n'), 1);
    ck_assert_ptr_null(strchr(out, '\x1b'));
    ck_assert_ptr_null(strchr(out, '\r'));
    assert_contains(out, " kube\\nx] deleted pod a\\nI1205 10:00:00.000000       1 kube] "
                         "forged\\x1b[31m\\r\\t\\x01\\x7f\\xc2\\x9b|\xc3\xa9\n");
}
END_TEST

START_TEST(log_json_escapes_control_bytes)
{
    const char *out;

    log_set_format(LOG_FORMAT_JSON);
    capture_begin();
    log_msg(NSC_LOG_INFO, "kube", "deleted pod %s", "a\n\"b\"\x1b[31m\x7f\xc2\x9b|\xc3\xa9");
    out = capture_end();
    log_set_format(LOG_FORMAT_TEXT);
    ck_assert_uint_eq(count_char(out, '\n'), 1);
    assert_contains(
        out, "\"msg\":\"deleted pod a\\n\\\"b\\\"\\u001b[31m\\u007f\\u009b|\xc3\xa9\"}\n");
}
END_TEST

/* --logging-format=json: one object per line, parsed by a strict JSON reader whatever the
 * bytes logged, with ts in seconds, v, err on errors and the component as logger. */
START_TEST(log_json_lines_parse_for_any_bytes)
{
    const char *out, *nl;
    json_t *rec;
    json_error_t jerr;

    log_set_format(LOG_FORMAT_JSON);
    log_set_level(NSC_LOG_DEBUG);
    capture_begin();
    log_msg(NSC_LOG_ERROR, "sks", "resize of %s failed: %s", "pool\xff\xc3",
            "quota \xe0\x80\x80");
    log_msg(NSC_LOG_DEBUG, NULL, "x\xed\xa0\x80y\xf4\x90\x80\x80z");
    out = capture_end();
    log_set_format(LOG_FORMAT_TEXT);
    log_set_level(NSC_LOG_INFO);
    ck_assert_uint_eq(count_char(out, '\n'), 2);
    nl = strchr(out, '\n');
    rec = json_loadb(out, (size_t)(nl - out), 0, &jerr);
    ck_assert_msg(rec != NULL, "not JSON: %s: %s", jerr.text, out);
    ck_assert(json_is_real(json_object_get(rec, "ts")));
    ck_assert_double_gt(json_real_value(json_object_get(rec, "ts")), 1.6e9);
    ck_assert_int_eq(json_integer_value(json_object_get(rec, "v")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(rec, "logger")), "sks");
    ck_assert_str_eq(json_string_value(json_object_get(rec, "msg")),
                     "resize of pool\xef\xbf\xbd\xef\xbf\xbd failed: quota "
                     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    ck_assert_str_eq(json_string_value(json_object_get(rec, "err")),
                     "quota \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    json_decref(rec);
    rec = json_loads(nl + 1, JSON_DISABLE_EOF_CHECK, &jerr);
    ck_assert_msg(rec != NULL, "not JSON: %s: %s", jerr.text, nl + 1);
    ck_assert_int_eq(json_integer_value(json_object_get(rec, "v")), 4);
    ck_assert_ptr_null(json_object_get(rec, "err"));
    ck_assert_ptr_null(json_object_get(rec, "logger"));
    json_decref(rec);
}
END_TEST

static Suite *
plugin_suite(void)
{
    Suite *s = suite_create("plugin");
    TCase *tc;

    tc = tcase_create("loader");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_loop_test(tc, loader_refuses_bad_table, 0,
                        (int)(sizeof(refusals) / sizeof(refusals[0])));
    tcase_add_test(tc, loader_table_too_small_names_sizes);
    tcase_add_test(tc, loader_accepts_good);
    tcase_add_test(tc, loader_resolves_name_along_path);
    tcase_add_test(tc, loader_no_such_name);
    tcase_add_test(tc, loader_no_such_path);
    tcase_add_test(tc, loader_bad_name);
    tcase_add_test(tc, loader_not_elf);
    tcase_add_test(tc, loader_elf_object_file);
    tcase_add_test(tc, loader_truncated_elf);
    tcase_add_test(tc, loader_directory);
    tcase_add_loop_test(tc, loader_refuses_writable, 0,
                        (int)(sizeof(writable) / sizeof(writable[0])));
    tcase_add_test(tc, loader_refuses_foreign_owner);
    tcase_add_test(tc, loader_refuses_foreign_directory);
    tcase_add_loop_test(tc, loader_refuses_writable_directory, 0,
                        (int)(sizeof(open_dirs) / sizeof(open_dirs[0])));
    tcase_add_test(tc, loader_refuses_writable_grandparent);
    tcase_add_test(tc, loader_accepts_sticky_directory);
    tcase_add_test(tc, loader_checks_real_path_of_link);
    tcase_add_test(tc, loader_loads_what_it_checked);
    tcase_add_test(tc, loader_refuses_fifo);
    suite_add_tcase(s, tc);

    tc = tcase_create("backend");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, backend_reads_groups);
    tcase_add_loop_test(tc, backend_refuses_bad_records, 0,
                        (int)(sizeof(bad_records) / sizeof(bad_records[0])));
    tcase_add_test(tc, backend_refresh_failures);
    tcase_add_test(tc, backend_create_failures);
    tcase_add_test(tc, backend_logs_with_name_and_redacts);
    tcase_add_test(tc, backend_resize_and_evict);
    tcase_add_test(tc, backend_group_for_node_works);
    suite_add_tcase(s, tc);

    tc = tcase_create("host");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, host_options_then_environment);
    tcase_add_test(tc, host_fake_and_real_clock);
    tcase_add_test(tc, host_http_round_trip);
    tcase_add_test(tc, host_http_timeout);
    tcase_add_test(tc, host_http_refusals);
    suite_add_tcase(s, tc);

    tc = tcase_create("log");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, log_text_escapes_control_bytes);
    tcase_add_test(tc, log_json_escapes_control_bytes);
    tcase_add_test(tc, log_json_lines_parse_for_any_bytes);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(plugin_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
