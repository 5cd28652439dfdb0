/*
 * One generation of the config: everything a config file decides and a
 * reload replaces as one (the NAS clients and their secrets, the TLS
 * context with the server certificate and the CA set, the policy with its
 * directory, revocation sources and rules, what the metrics name of them).
 * A conversation keeps the generation it started with to its end, so two
 * may be in use at once during a reload; a generation is freed when the
 * last holder lets go.
 *
 * What a generation does not hold outlives it: the sockets, the threads,
 * the Redis pool, the helpdesk list's mirror, the decision log, the tables
 * of conversations and replies (struct dispatch), and the client name
 * table that gives each NAS the same index in every generation.
 */
#ifndef AUTHD_GENERATION_H
#define AUTHD_GENERATION_H

#include <stdatomic.h>
#include <stddef.h>

#include "authd/config.h"
#include "common/file_stamp.h"
#include "common/rate_limit.h"

struct authd_metrics;
struct authd_metrics_names;
struct eap_tls_context;
struct name_table;
struct policy;
struct redis_pool;
struct revocation_mirror;

#define GENERATION_TLS_FILES 3

struct generation {
	unsigned number;                     /* 1 at start, then one more per reload in force */
	struct authd_config *cfg;            /* owned */
	struct eap_tls_context *tls;         /* owned */
	struct policy *policy;               /* owned */
	struct authd_metrics_names *names;   /* owned; NULL without metrics */
	/* tls.certificate, tls.private_key and tls.ca as they were before they
	 * were read: a change on disk since is a renewal to load. */
	struct file_stamp tls_files[GENERATION_TLS_FILES];
	/* Per client index (the name table's capacity): its requests per
	 * second, when it has a cap. */
	struct rate_limit *nas_rate;
	atomic_uint refs;
};

/* What every generation borrows; all of it outlives the generations. */
struct generation_deps {
	struct name_table *clients;          /* index 0: "" (no client) */
	struct redis_pool *redis;            /* NULL: no redis section */
	struct revocation_mirror *mirror;    /* NULL: none */
	struct authd_metrics *metrics;       /* NULL: none */
};

/* The config file and the TLS files it names, read and checked: what a
 * generation is built on. At startup they are read before authd gives up
 * root, so files only root may read serve; a reload reads them as the user. */
struct generation_files {
	struct authd_config *cfg;
	struct eap_tls_context *tls;
	struct file_stamp tls_stamps[GENERATION_TLS_FILES];   /* taken before the TLS files were read */
};

/* tls.certificate, tls.private_key and tls.ca of cfg as they are on disk now. */
void generation_tls_stamps(const struct authd_config *cfg, struct file_stamp *out);
/* Reads path into *out (all set, or all NULL). 0, or -1 with "file:line: what" in err. */
int generation_files_read(const char *path, struct generation_files *out, char *err, size_t errlen);
/* Frees what generation_new did not take. */
void generation_files_clear(struct generation_files *f);

/*
 * Builds generation `number` from files, whose config and TLS context it
 * takes over (files is cleared; they are freed with the generation, or on
 * failure): makes the policy and the metrics' names, then interns the
 * clients' names (setting each client's index), last, so a config that
 * fails leaves no name behind. One reference, the caller's. NULL with err.
 */
struct generation *generation_new(unsigned number, struct generation_files *files,
                                  const struct generation_deps *deps, char *err, size_t errlen);

/* Another holder (any thread). g must be held already, or be the current
 * generation read inside a worker's epoch (see dispatch.c). */
struct generation *generation_ref(struct generation *g);
/* Lets go of g (any thread); the last one frees it. NULL: nothing. */
void generation_unref(struct generation *g);

#endif
