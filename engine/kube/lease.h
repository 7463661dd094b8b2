/* Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection:
 * acquire or renew every retry period, judge expiry on the local clock, and stop leading
 * as soon as a renewal cannot be made within the renew deadline or another holder shows. */
#ifndef NSC_KUBE_LEASE_H
#define NSC_KUBE_LEASE_H

#include <stdint.h>

#include "kube/client.h"

struct kube_lease_opts {
    const char *namespace;     /* required */
    const char *name;          /* required */
    const char *identity;      /* required: "<hostname>_<random>" */
    int64_t lease_duration_ms; /* [15000] */
    int64_t renew_deadline_ms; /* [10000] */
    int64_t retry_period_ms;   /* [2000] */
};

struct kube_lease;

/**
 * A lease elector on client c (borrowed). Checks LeaseDuration > RenewDeadline >
 * 1.2 * RetryPeriod (NSC_ERR_INVALID, err says which). Strings copied.
 */
int kube_lease_new(struct kube_client *c, const struct kube_lease_opts *opts,
                   struct kube_lease **out, char *err, size_t err_len);

/** Free (does not release the lease: call kube_lease_release first). NULL accepted. */
void kube_lease_free(struct kube_lease *l);

/**
 * One acquire-or-renew attempt now. Returns 1 when leading afterwards, 0 when not. API
 * failures count as "not renewed" (leadership ends once the renew deadline passes).
 */
int kube_lease_try(struct kube_lease *l);

/**
 * True while leading: the last successful renewal is younger than the renew deadline
 * and no other holder has been seen since. Check it before every action.
 */
int kube_lease_is_leader(const struct kube_lease *l);

/** Milliseconds until kube_lease_try should run again (retry period, jittered for
 * candidates). */
int64_t kube_lease_next_ms(struct kube_lease *l);

/** Give the lease up (holderIdentity "", leaseDurationSeconds 1) if we hold it. */
int kube_lease_release(struct kube_lease *l);

/** The current holder as last seen (borrowed, "" if none). */
const char *kube_lease_holder(const struct kube_lease *l);

#endif
