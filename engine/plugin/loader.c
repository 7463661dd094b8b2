/* Backend loading: resolves --backend to a file, checks it before and after dlopen, and
 * validates the operations table against the acceptance rule of backend.h. The file is
 * opened once, checked through that descriptor and loaded through it. */
#include "config.h"

#include "plugin/plugin.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef NSC_BACKEND_DIR
#define NSC_BACKEND_DIR "/usr/local/lib/nodescaler/backends"
#endif

/* Highest ABI major probed for when nsc_backend_entry_v1 is missing, so the message can
 * say which ABI the file was built for. */
#define LOADER_PROBE_MAX_MAJOR 16

struct plugin {
    void *handle;
    char *path;
    /* A copy of the backend's table, zero-extended: fields of a newer minor than the
     * backend was built for read as NULL. */
    struct nsc_backend_ops ops;
};

static void loader_err(char *err, size_t err_len, const char *path, const char *fmt, ...)
    NSC_PRINTF(4, 5);

static void
loader_err(char *err, size_t err_len, const char *path, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (err == NULL || err_len == 0)
        return;
    n = snprintf(err, err_len, "cannot load backend %s: ", path);
    if (n < 0 || (size_t)n >= err_len)
        return;
    va_start(ap, fmt);
    vsnprintf(err + n, err_len - (size_t)n, fmt, ap);
    va_end(ap);
}

/* A backend name is a file stem: no path separators, no dots, nothing a shell would eat. */
static int
loader_name_ok(const char *name)
{
    const char *p;

    if (*name == '\0')
        return 0;
    for (p = name; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            return 0;
    }
    return 1;
}

static int
loader_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* Finds NAME.so along $NSC_BACKEND_PATH then NSC_BACKEND_DIR. On success *out is a
 * malloc'd path; else err lists every place looked at. */
static int
loader_resolve(const char *name, char **out, char *err, size_t err_len)
{
    char tried[2048] = "";
    char cand[PATH_MAX];
    const char *env = getenv("NSC_BACKEND_PATH");
    char *dirs = NULL, *save = NULL, *dir;
    int rc = NSC_ERR_NOT_FOUND;

    *out = NULL;
    if (!loader_name_ok(name)) {
        snprintf(err, err_len,
                 "cannot load backend '%s': a backend name has only letters, digits, '-' "
                 "and '_' (use a path containing '/' for a file)",
                 name);
        return NSC_ERR_INVALID;
    }
    if (env != NULL && *env != '\0') {
        dirs = strdup(env);
        if (dirs == NULL)
            return NSC_ERR_NOMEM;
        for (dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
            int s;

            /* DIR/NAME.so for an install tree; DIR/.libs/NAME.so and DIR/NAME/.libs/NAME.so
             * for a libtool build tree. */
            for (s = 0; s < 3; s++) {
                int n = s == 0   ? snprintf(cand, sizeof(cand), "%s/%s.so", dir, name)
                        : s == 1 ? snprintf(cand, sizeof(cand), "%s/.libs/%s.so", dir, name)
                                 : snprintf(cand, sizeof(cand), "%s/%s/.libs/%s.so", dir, name,
                                            name);

                if (n < 0 || (size_t)n >= sizeof(cand))
                    continue;
                if (loader_exists(cand))
                    goto found;
                if (strlen(tried) + strlen(cand) + 3 < sizeof(tried)) {
                    if (tried[0])
                        strcat(tried, ", ");
                    strcat(tried, cand);
                }
            }
        }
    }
    snprintf(cand, sizeof(cand), "%s/%s.so", NSC_BACKEND_DIR, name);
    if (loader_exists(cand))
        goto found;
    if (strlen(tried) + strlen(cand) + 3 < sizeof(tried)) {
        if (tried[0])
            strcat(tried, ", ");
        strcat(tried, cand);
    }
    snprintf(err, err_len, "cannot load backend '%s': no such file (looked for %s)", name,
             tried);
    free(dirs);
    return rc;

found:
    free(dirs);
    *out = strdup(cand);
    return *out ? 0 : NSC_ERR_NOMEM;
}

/* Who may own the backend file and the directories above it: root, or whoever runs the
 * autoscaler (a development build tree). Anyone else could swap in their own code. */
static int
loader_owner_ok(uid_t uid)
{
    return uid == 0 || uid == geteuid();
}

/* Checks every directory above the real path REAL, up to '/', as OpenSSH's StrictModes
 * does: whoever can write one of them can rename another file into place. A sticky
 * directory (/tmp) lets only the owner of an entry replace it, so it passes. */
static int
loader_check_dirs(const char *real, char *err, size_t err_len)
{
    char dir[PATH_MAX];
    struct stat st;
    char *slash;

    if (snprintf(dir, sizeof(dir), "%s", real) >= (int)sizeof(dir) || dir[0] != '/') {
        loader_err(err, err_len, real, "refused: not an absolute path");
        return NSC_ERR_INVALID;
    }
    for (;;) {
        slash = strrchr(dir, '/');
        if (slash == dir)
            dir[1] = '\0';
        else
            *slash = '\0';
        /* lstat: realpath resolved every link, so a link here means the tree changed. */
        if (lstat(dir, &st) != 0) {
            loader_err(err, err_len, real, "refused: cannot check directory %s: %s", dir,
                       strerror(errno));
            return NSC_ERR_INVALID;
        }
        if (!S_ISDIR(st.st_mode)) {
            loader_err(err, err_len, real,
                       "refused: %s is no longer a directory (the path changed while it was "
                       "checked)",
                       dir);
            return NSC_ERR_INVALID;
        }
        if (!loader_owner_ok(st.st_uid)) {
            loader_err(err, err_len, real,
                       "refused: directory %s is owned by uid %u, not by root or uid %u", dir,
                       (unsigned)st.st_uid, (unsigned)geteuid());
            return NSC_ERR_INVALID;
        }
        if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
            loader_err(err, err_len, real,
                       "refused: directory %s is group- or world-writable and not sticky "
                       "(mode %04o); run chmod go-w on it",
                       dir, (unsigned)(st.st_mode & 07777));
            return NSC_ERR_INVALID;
        }
        if (dir[1] == '\0')
            return 0;
    }
}

/* Checks the open file fd before dlopen runs any of its constructors. */
static int
loader_check_fd(int fd, const char *path, const struct stat *st, char *err, size_t err_len)
{
    unsigned char ident[EI_NIDENT + 2];
    ssize_t got;
    int type;

    if (!S_ISREG(st->st_mode)) {
        loader_err(err, err_len, path, "not a regular file");
        return NSC_ERR_INVALID;
    }
    /* Anyone who can write the file can run code as the autoscaler, which holds cloud
     * credentials and may delete machines. */
    if (!loader_owner_ok(st->st_uid)) {
        loader_err(err, err_len, path,
                   "refused: file is owned by uid %u, not by root or uid %u",
                   (unsigned)st->st_uid, (unsigned)geteuid());
        return NSC_ERR_INVALID;
    }
    if (st->st_mode & (S_IWGRP | S_IWOTH)) {
        loader_err(
            err, err_len, path,
            "refused: file is group- or world-writable (mode %04o); run chmod go-w on it",
            (unsigned)(st->st_mode & 07777));
        return NSC_ERR_INVALID;
    }
    got = pread(fd, ident, sizeof(ident), 0);
    if (got < (ssize_t)sizeof(ident) || memcmp(ident, ELFMAG, SELFMAG) != 0) {
        loader_err(err, err_len, path, "not a shared object (no ELF header)");
        return NSC_ERR_INVALID;
    }
    /* e_type follows e_ident, in the file's byte order. */
    if (ident[EI_DATA] == ELFDATA2MSB)
        type = (ident[EI_NIDENT] << 8) | ident[EI_NIDENT + 1];
    else
        type = ident[EI_NIDENT] | (ident[EI_NIDENT + 1] << 8);
    if (type != ET_DYN) {
        loader_err(err, err_len, path, "not a shared object (ELF type %d%s)", type,
                   type == ET_REL    ? ", an object file"
                   : type == ET_EXEC ? ", an executable"
                                     : "");
        return NSC_ERR_INVALID;
    }
    return 0;
}

/* Highest descriptor number a backend was loaded through. The dynamic linker knows an
 * object by the name it was opened under and hands back a loaded object whose name
 * matches without opening anything; "/proc/self/fd/N" names are therefore never reused.
 * plugin_load runs at start-up, on one thread. */
static int loader_last_fd = 2;

/* Opens the backend once and checks what was opened: the file, its owner and mode, and
 * the directories above its real path. *fd_out is then the descriptor to load, numbered
 * above every earlier one; *real_out the malloc'd real path. */
static int
loader_open_checked(const char *file, int *fd_out, char **real_out, char *err, size_t err_len)
{
    char real[PATH_MAX];
    struct stat st, st_real;
    int fd, high, rc;

    *fd_out = -1;
    *real_out = NULL;
    /* O_NONBLOCK: a FIFO must not hang the start-up; it is refused below. */
    fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            loader_err(err, err_len, file, "no such file");
            return NSC_ERR_NOT_FOUND;
        }
        loader_err(err, err_len, file, "cannot open: %s", strerror(errno));
        return NSC_ERR_INVALID;
    }
    if (fstat(fd, &st) != 0) {
        loader_err(err, err_len, file, "cannot stat: %s", strerror(errno));
        rc = NSC_ERR_INVALID;
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        loader_err(err, err_len, file, "not a regular file");
        rc = NSC_ERR_INVALID;
        goto fail;
    }
    /* The directories checked are those of the real path, and the real path must still
     * name the file that was opened. */
    if (realpath(file, real) == NULL || stat(real, &st_real) != 0 ||
        st_real.st_dev != st.st_dev || st_real.st_ino != st.st_ino) {
        loader_err(err, err_len, file,
                   "refused: the file changed while it was checked (its real path no longer "
                   "names the opened file)");
        rc = NSC_ERR_INVALID;
        goto fail;
    }
    rc = loader_check_fd(fd, real, &st, err, err_len);
    if (rc == 0)
        rc = loader_check_dirs(real, err, err_len);
    if (rc < 0)
        goto fail;
    high = fcntl(fd, F_DUPFD_CLOEXEC, loader_last_fd + 1);
    if (high < 0) {
        loader_err(err, err_len, real, "cannot duplicate descriptor: %s", strerror(errno));
        rc = NSC_ERR_INVALID;
        goto fail;
    }
    close(fd);
    loader_last_fd = high;
    *real_out = strdup(real);
    if (*real_out == NULL) {
        close(high);
        return NSC_ERR_NOMEM;
    }
    *fd_out = high;
    return 0;

fail:
    close(fd);
    return rc;
}

static void
loader_close(void *handle)
{
#ifdef NSC_SANITIZERS
    /* Keep the object mapped so that LeakSanitizer can still symbolize its frames. */
    (void)handle;
#else
    if (handle != NULL)
        dlclose(handle);
#endif
}

/* The first mandatory operation that is NULL, or NULL when all are set. */
static const char *
loader_missing_op(const struct nsc_backend_ops *ops)
{
    const struct {
        const char *name;
        int set;
    } mandatory[] = {
        {"create", ops->create != NULL},
        {"destroy", ops->destroy != NULL},
        {"refresh", ops->refresh != NULL},
        {"node_groups", ops->node_groups != NULL},
        {"group_instances", ops->group_instances != NULL},
        {"resize", ops->resize != NULL},
        {"evict", ops->evict != NULL},
        {"last_error", ops->last_error != NULL},
    };
    size_t i;

    for (i = 0; i < sizeof(mandatory) / sizeof(mandatory[0]); i++) {
        if (!mandatory[i].set)
            return mandatory[i].name;
    }
    return NULL;
}

/* Bytes an operations table of ABI 1.<minor> must have. */
static size_t
loader_ops_size(uint32_t minor)
{
    (void)minor; /* 1.0 is the only minor so far; later ones append fields. */
    return sizeof(struct nsc_backend_ops);
}

/* Validates the table the entry point returned and copies it into p->ops. */
static int
loader_check_table(struct plugin *p, const struct nsc_backend_ops *ops, char *err,
                   size_t err_len)
{
    const char *missing;
    size_t need;

    if (ops == NULL) {
        loader_err(err, err_len, p->path, "%s() returned NULL", NSC_BACKEND_ENTRY_SYMBOL);
        return NSC_ERR_INVALID;
    }
    if (ops->abi_major != NSC_ABI_MAJOR) {
        loader_err(err, err_len, p->path,
                   "built for ABI %u.%u, this core implements ABI %d.%d (major version "
                   "differs; rebuild the backend)",
                   ops->abi_major, ops->abi_minor, NSC_ABI_MAJOR, NSC_ABI_MINOR);
        return NSC_ERR_INVALID;
    }
    if (ops->abi_minor > NSC_ABI_MINOR) {
        loader_err(err, err_len, p->path,
                   "built for ABI %u.%u, newer than this core's ABI %d.%d (minor version "
                   "newer; upgrade nodescaler)",
                   ops->abi_major, ops->abi_minor, NSC_ABI_MAJOR, NSC_ABI_MINOR);
        return NSC_ERR_INVALID;
    }
    need = loader_ops_size(ops->abi_minor);
    if (ops->struct_size < need) {
        loader_err(err, err_len, p->path,
                   "operations table too small: struct_size %u, ABI %u.%u needs at least %zu "
                   "bytes (core ABI %d.%d)",
                   ops->struct_size, ops->abi_major, ops->abi_minor, need, NSC_ABI_MAJOR,
                   NSC_ABI_MINOR);
        return NSC_ERR_INVALID;
    }
    if (ops->name == NULL || ops->name[0] == '\0') {
        loader_err(err, err_len, p->path, "operations table has no name (ABI %u.%u)",
                   ops->abi_major, ops->abi_minor);
        return NSC_ERR_INVALID;
    }
    missing = loader_missing_op(ops);
    if (missing != NULL) {
        loader_err(err, err_len, p->path,
                   "backend '%s' (ABI %u.%u, core ABI %d.%d): mandatory operation '%s' is NULL",
                   ops->name, ops->abi_major, ops->abi_minor, NSC_ABI_MAJOR, NSC_ABI_MINOR,
                   missing);
        return NSC_ERR_INVALID;
    }
    /* Copy only what the backend declared; what a newer core knows and it does not
     * stays zero, so optional operations it cannot have read as absent. */
    memset(&p->ops, 0, sizeof(p->ops));
    memcpy(&p->ops, ops, ops->struct_size < sizeof(p->ops) ? ops->struct_size : sizeof(p->ops));
    if (p->ops.version == NULL)
        p->ops.version = "unknown";
    return 0;
}

/* No nsc_backend_entry_v1: say which ABI the file was built for, when we can tell. */
static void
loader_missing_entry(void *handle, const char *path, char *err, size_t err_len)
{
    char sym[64];
    int major;

    for (major = 0; major <= LOADER_PROBE_MAX_MAJOR; major++) {
        if (major == NSC_ABI_MAJOR)
            continue;
        snprintf(sym, sizeof(sym), "nsc_backend_entry_v%d", major);
        if (dlsym(handle, sym) != NULL) {
            loader_err(err, err_len, path,
                       "no %s symbol: built for ABI %d (exports %s), this core implements ABI "
                       "%d.%d",
                       NSC_BACKEND_ENTRY_SYMBOL, major, sym, NSC_ABI_MAJOR, NSC_ABI_MINOR);
            return;
        }
    }
    loader_err(err, err_len, path, "no %s symbol: not a nodescaler backend",
               NSC_BACKEND_ENTRY_SYMBOL);
}

int
plugin_load(const char *name_or_path, struct plugin **out, char *err, size_t err_len)
{
    struct plugin *p = NULL;
    char *file = NULL;
    char byfd[64];
    struct stat st, st_fd;
    nsc_backend_entry_fn *entry;
    int fd = -1;
    void *sym;
    int rc;

    *out = NULL;
    if (err_len > 0)
        err[0] = '\0';
    if (name_or_path == NULL || *name_or_path == '\0') {
        snprintf(err, err_len, "cannot load backend: no backend named (use --backend)");
        return NSC_ERR_INVALID;
    }
    if (strchr(name_or_path, '/') != NULL) {
        file = strdup(name_or_path);
        if (file == NULL)
            return NSC_ERR_NOMEM;
    } else {
        rc = loader_resolve(name_or_path, &file, err, err_len);
        if (rc < 0)
            return rc;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        rc = NSC_ERR_NOMEM;
        goto fail;
    }
    /* The absolute real path names the backend in messages; the load itself goes through
     * the checked descriptor, so no rename between check and dlopen can swap the file. */
    rc = loader_open_checked(file, &fd, &p->path, err, err_len);
    if (rc < 0)
        goto fail;
    snprintf(byfd, sizeof(byfd), "/proc/self/fd/%d", fd);
    if (stat(byfd, &st) != 0 || fstat(fd, &st_fd) != 0 || st.st_dev != st_fd.st_dev ||
        st.st_ino != st_fd.st_ino) {
        loader_err(err, err_len, p->path,
                   "cannot load through %s (is /proc mounted?); refusing to load by path",
                   byfd);
        rc = NSC_ERR_INVALID;
        goto fail;
    }
    dlerror();
    p->handle = dlopen(byfd, RTLD_NOW | RTLD_LOCAL);
    /* The mapping holds the file; the descriptor is no longer needed. */
    close(fd);
    fd = -1;
    if (p->handle == NULL) {
        const char *why = dlerror();

        loader_err(err, err_len, p->path, "dlopen failed: %s", why ? why : "unknown error");
        rc = NSC_ERR_INVALID;
        goto fail;
    }
    sym = dlsym(p->handle, NSC_BACKEND_ENTRY_SYMBOL);
    if (sym == NULL) {
        loader_missing_entry(p->handle, p->path, err, err_len);
        rc = NSC_ERR_INVALID;
        goto fail;
    }
    /* POSIX guarantees dlsym results convert to function pointers; memcpy keeps
     * -pedantic quiet about the object-to-function cast. */
    memcpy(&entry, &sym, sizeof(entry));
    rc = loader_check_table(p, entry(), err, err_len);
    if (rc < 0)
        goto fail;
    free(file);
    *out = p;
    return 0;

fail:
    if (fd >= 0)
        close(fd);
    if (p != NULL) {
        loader_close(p->handle);
        free(p->path);
        free(p);
    }
    free(file);
    return rc;
}

const struct nsc_backend_ops *
plugin_ops(const struct plugin *plugin)
{
    return &plugin->ops;
}

const char *
plugin_path(const struct plugin *plugin)
{
    return plugin->path;
}

void
plugin_unload(struct plugin *plugin)
{
    if (plugin == NULL)
        return;
    loader_close(plugin->handle);
    free(plugin->path);
    free(plugin);
}
