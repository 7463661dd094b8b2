/* An Exoscale API v2 stand-in for tests, benchmarks and the demo: verifies every
 * signature, enforces an IAM operation list, keeps pools, nodepools, instances, types and
 * quotas, runs scale/evict as async operations, injects faults, counts calls, and (given a
 * kube-apiserver) turns new instances into Nodes. */
#ifndef EXOSCALE_EMU_H
#define EXOSCALE_EMU_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct exo_emu;

/** How to run the emulator. Strings are borrowed for exo_emu_start only. */
struct exo_emu_opts {
    /** TCP port on 127.0.0.1; 0 picks a free one (see exo_emu_port). */
    uint16_t port;
    /**
     * The initial world (see tests/emulator/exoscale-emulator.md): zone, credentials with
     * their IAM operations, instance types, quotas, instance pools, SKS clusters.
     * Borrowed; the emulator copies what it keeps.
     */
    const json_t *state;
    /** Base URL of a kube-apiserver to create Nodes in, or NULL; with its bearer token. */
    const char *kube_url;
    const char *kube_token;
    /** PEM bundle to verify the apiserver with, or NULL; kube_insecure skips checks. */
    const char *kube_ca_file;
    int kube_insecure;
    /** An operation stays pending this long (ms). */
    int64_t op_delay_ms;
    /** A new instance is "starting" this long before "running" (and its Node appears). */
    int64_t boot_delay_ms;
    /** A Node becomes Ready this long after it was created. */
    int64_t node_ready_delay_ms;
};

/**
 * Start serving on 127.0.0.1. On failure returns a negative value and writes the reason
 * into err. *out is owned by the caller (exo_emu_stop).
 */
int exo_emu_start(const struct exo_emu_opts *opts, struct exo_emu **out, char *err,
                  size_t err_len);

/** The port served. */
uint16_t exo_emu_port(const struct exo_emu *emu);

/** Stop serving and free everything. NULL accepted. */
void exo_emu_stop(struct exo_emu *emu);

/**
 * Add a fault rule, as POST /_emu/faults does. rule: {"operation": operationId or "*",
 * "kind": "500" | "429" | "slow" | "fail-operation" | "quota" | "reset", "count": N (default 1,
 * -1 = forever), "retry-after": seconds (429), "delay-ms": (slow), "reason"/"message"
 * (fail-operation)}; kind "reset" closes the connection with no answer, as a proxy that
 * drops it; or {"kind": "never-register", "pool": instance pool id, nodepool id
 * or "*", "count": N}: the next N instances of that pool to come up run but never become
 * a Node, as when a machine fails to join the cluster. Returns 0 or -1 with a reason in
 * err.
 */
int exo_emu_add_fault(struct exo_emu *emu, const json_t *rule, char *err, size_t err_len);

/** Calls received by operation name (0 when none); NULL gives the total. */
uint64_t exo_emu_calls(struct exo_emu *emu, const char *operation);

/** Forget the call counts. */
void exo_emu_reset_calls(struct exo_emu *emu);

/** A deep copy of the current world (owned by the caller), for assertions. */
json_t *exo_emu_snapshot(struct exo_emu *emu);

/** Run due transitions now (operations, boots, Node readiness); tests call it to not wait. */
void exo_emu_tick(struct exo_emu *emu);

#endif
